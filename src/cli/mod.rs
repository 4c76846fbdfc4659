//! The `argen` command line: one file per command.

pub mod complete;
pub mod device_server;
pub mod eval;
pub mod fit;
pub mod forecast;
pub mod receptive_field;
pub mod sample;
pub mod train;
pub mod train_sequence;

use std::sync::Mutex;

use burn::prelude::Device;
use clap::{Parser, Subcommand};

use crate::device::{DeviceSpec, Devices};

/// argen: generative autoregressive models. Exact likelihoods, one step at a time.
#[derive(Parser, Debug)]
#[command(name = "argen", version, about, long_about = None)]
pub struct Cli {
    /// Compute the gated activations and the softmax log-likelihood with standard burn
    /// operations instead of argen's fused kernels (same results within float rounding;
    /// slower). For comparisons and debugging.
    #[arg(long, global = true)]
    pub plain_ops: bool,
    /// Where to compute: `cpu` (this machine's cores), `gpu` or `gpu:N` (a Vulkan GPU; an
    /// argen built with `--features gpu`), or `remote:ws://HOST:PORT` (a device of an
    /// `argen device-server`; built with `--features remote`, the server's token in the
    /// environment variable ARGEN_REMOTE_TOKEN).
    #[arg(long, global = true, default_value = "cpu")]
    pub device: String,
    /// `argen train` on several devices at once, comma-separated (`cpu,gpu:0`,
    /// `gpu:0,gpu:1`, `cpu,remote:ws://HOST:PORT`): each batch is split over them and their
    /// gradients are added (data parallelism). Replaces --device; the model lives on the first.
    #[arg(long, global = true)]
    pub devices: Option<String>,
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
    /// Host this machine's devices for other machines' `--device remote:ws://HOST:PORT`
    /// (burn's remote backend over WebSocket; an argen built with `--features remote`).
    DeviceServer(device_server::DeviceServerArgs),
}

/// The devices of the running command (set by [`run`]; the CPU when no command set them,
/// as when a test calls a command's functions directly).
static DEVICES: Mutex<Option<Devices>> = Mutex::new(None);

/// The devices chosen with `--device` or `--devices`.
pub fn devices() -> Devices {
    DEVICES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(Devices::cpu)
}

/// The devices a training command runs on, said on stderr when they are not just this
/// machine's CPU.
pub fn training_devices() -> Devices {
    let devices = devices();
    if !devices.is_cpu_only() || devices.devices.len() > 1 {
        eprintln!("devices: {devices}");
    }
    devices
}

/// The device that holds the model (the first of [`devices`]).
pub fn device() -> Device {
    devices().main().clone()
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::fused::set_enabled(!cli.plain_ops);
    let specs = match &cli.devices {
        Some(list) => DeviceSpec::parse_list(list)?,
        None => vec![DeviceSpec::parse(&cli.device)?],
    };
    let several_allowed = matches!(cli.command, Command::Train(_) | Command::DeviceServer(_));
    if specs.len() > 1 && !several_allowed {
        anyhow::bail!(
            "--devices lists {} devices, but only `argen train` (data parallelism) and \
             `argen device-server` use several; give one with --device",
            specs.len()
        );
    }
    let devices = Devices::connect(specs)?;
    *DEVICES.lock().unwrap_or_else(|e| e.into_inner()) = Some(devices);
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Complete(args) => complete::run(args),
        Command::ReceptiveField(args) => receptive_field::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Forecast(args) => forecast::run(args),
        Command::DeviceServer(args) => device_server::run(args),
    }
}
