//! The `argen` command line: one file per command.

pub mod complete;
pub mod eval;
pub mod fit;
pub mod forecast;
pub mod receptive_field;
pub mod sample;
pub mod train;
pub mod train_sequence;

use clap::{Parser, Subcommand};

/// argen: generative autoregressive models. Exact likelihoods, one step at a time.
#[derive(Parser, Debug)]
#[command(name = "argen", version, about, long_about = None)]
pub struct Cli {
    /// Compute the gated activations and the softmax log-likelihood with standard burn
    /// operations instead of argen's fused kernels (same results within float rounding;
    /// slower). For comparisons and debugging.
    #[arg(long, global = true)]
    pub plain_ops: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a Gated PixelCNN (by default on the embedded 8x8 digits), then evaluate it on
    /// the test split and write a grid of samples.
    Train(train::TrainArgs),
    /// Print the exact negative log-likelihood of a trained run on a data split.
    Eval(eval::EvalArgs),
    /// Generate images from a trained run and write them as a PNG grid.
    Sample(sample::SampleArgs),
    /// Keep the top rows of test images (or PNG files) and let a trained run draw the rest.
    Complete(complete::CompleteArgs),
    /// Map which input pixels one output pixel depends on (gradients), and the blind spot.
    ReceptiveField(receptive_field::ReceptiveFieldArgs),
    /// Fit a classical sequence model (AR(p) or a Markov chain of order k) in closed form.
    Fit(fit::FitArgs),
    /// Forecast a fitted AR run H steps ahead: table, CSV and PNG chart.
    Forecast(forecast::ForecastArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::fused::set_enabled(!cli.plain_ops);
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Complete(args) => complete::run(args),
        Command::ReceptiveField(args) => receptive_field::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Forecast(args) => forecast::run(args),
    }
}
