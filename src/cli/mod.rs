//! The `argen` command line: one short file per command (parse, call the library, print).
//! No command file imports another; the argument groups that several commands share live
//! in [`args`].

pub mod args;
pub mod complete;
pub mod device_server;
pub mod eval;
pub mod fit;
pub mod forecast;
pub mod receptive_field;
pub mod sample;
pub mod serve;
pub mod train;

use clap::{Parser, Subcommand};

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}

/// argen: generative autoregressive models. Exact likelihoods, one step at a time.
///
/// Images (Gated PixelCNN, PixelCNN), neural sequence models (window MLP, GRU, LSTM,
/// WaveNet, TCN) and classical models (AR(p), Markov chains of order k) share one tool:
/// `train` or `fit` writes a run folder; `eval`, `sample`, `complete`, `forecast` and
/// `receptive-field` read one, whatever its family.
#[derive(Parser, Debug)]
#[command(name = "argen", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a neural model (an image model on the embedded 8x8 digits by default, or a
    /// sequence model with --model mlp|gru|lstm|wavenet|tcn), then evaluate it on the test
    /// split (and, for images, write a grid of samples).
    Train(Box<train::TrainArgs>),
    /// Print the exact negative log-likelihood of a run (any family) on a data split.
    Eval(eval::EvalArgs),
    /// Draw from a run: images as a PNG grid, sequences as text, values, digits, piano
    /// rolls (a PNG and MIDI files) or sound (WAV files), a classical fit's continuation.
    Sample(sample::SampleArgs),
    /// Keep the top rows of test images (or PNG files) and let an image run draw the rest.
    Complete(complete::CompleteArgs),
    /// Map which input pixels one output pixel of an image model depends on (gradients),
    /// and its blind spot.
    ReceptiveField(receptive_field::ReceptiveFieldArgs),
    /// Fit a classical sequence model (AR(p) or a Markov chain of order k) in closed form.
    Fit(fit::FitArgs),
    /// Forecast from a run: an AR fit H steps ahead with intervals, a Markov chain's n-step
    /// distributions, a sequence model's k-step-ahead predictions of a real series.
    Forecast(forecast::ForecastArgs),
    /// Host this machine's devices for other machines' `--device remote:ws://HOST:PORT`
    /// (burn's remote backend over WebSocket; an argen built with `--features remote`).
    DeviceServer(device_server::DeviceServerArgs),
    /// Serve a local page over the runs of a folder: live training curves, samples drawn
    /// value by value, completion of a drawing, receptive fields, sequences and forecasts.
    Serve(serve::ServeArgs),
}

/// Runs the parsed command line (`matches` tells which options were given).
pub fn run(cli: Cli, matches: &clap::ArgMatches) -> anyhow::Result<()> {
    let given = args::Given(matches.subcommand().map(|(_, m)| m));
    match cli.command {
        Command::Train(args) => train::run(*args, &given),
        Command::Eval(args) => eval::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Complete(args) => complete::run(args),
        Command::ReceptiveField(args) => receptive_field::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Forecast(args) => forecast::run(args),
        Command::DeviceServer(args) => device_server::run(args),
        Command::Serve(args) => serve::run(args),
    }
}
