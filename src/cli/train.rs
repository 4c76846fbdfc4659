//! `argen train`: train a Gated PixelCNN, then evaluate it and write samples.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::module::Module;
use clap::Args;

use crate::cli::eval::{Split, evaluate_run};
use crate::cli::sample::{SampleArgs, sample_run};
use crate::models::{GatedPixelCnnConfig, ImageModelConfig, PixelCnnConfig};
use crate::train::{self, LrSchedule, Progress, RunFolder, TrainingConfig};

/// Options of `argen train`. With none, it trains a small Gated PixelCNN on the embedded
/// 8x8 digits in a few minutes on two CPU cores.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Data set: `digits` (embedded 8x8 digits, 17 levels), `fashion-mnist`
    /// (/usr/share/datasets/fashion-mnist, Debian package dataset-fashion-mnist), or
    /// `idx:DIR` (a folder with the four MNIST-format IDX files, gzipped or not).
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Run folder to create (default: runs/gated-<data>-N, the first unused N).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder where it stopped (same settings, its saved weights
    /// and optimiser state); `--epochs` may raise the number of epochs.
    #[arg(long, conflicts_with_all = ["out", "data"])]
    pub resume: Option<PathBuf>,
    /// Passes over the training set.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Learning-rate schedule over the whole run: `cosine` decays it to 0 along a half
    /// cosine, `constant` keeps it.
    #[arg(long, value_enum, default_value = "cosine")]
    pub lr_schedule: LrSchedule,
    /// Dropout probability, during training only. Gated PixelCNN: on the residual branch of
    /// the horizontal stack (default: 0.2 on the digits, whose 1,000 training images are easy
    /// to overfit; 0 otherwise). Sequence models: after each hidden activation (default 0).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Adam's epsilon (PyTorch's default).
    #[arg(long, default_value_t = 1e-8)]
    pub adam_epsilon: f64,
    /// Clip the gradient to this global L2 norm (off by default).
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Seed of the initial weights, the batch order and the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The model. Images: `gated-pixelcnn` (vertical and horizontal stacks, no blind spot) or
    /// `pixelcnn` (masked convolutions). Sequences: `mlp` (window MLP), `gru`, `lstm`,
    /// `wavenet`, `tcn` (see the sequence options below).
    #[arg(long, default_value = "gated-pixelcnn")]
    pub model: String,
    /// Feature maps per stack (Gated PixelCNN) or of the residual stream (PixelCNN, 2h).
    #[arg(long, default_value_t = 32)]
    pub channels: usize,
    /// Gated layers (Gated PixelCNN) or residual blocks (PixelCNN).
    #[arg(long, default_value_t = 5)]
    pub layers: usize,
    /// Kernel size of the first layer (odd).
    #[arg(long, default_value_t = 7)]
    pub first_kernel: usize,
    /// Kernel size of the later layers (odd).
    #[arg(long, default_value_t = 3)]
    pub kernel: usize,
    /// Width of the hidden layer of the output head.
    #[arg(long, default_value_t = 256)]
    pub head: usize,
    /// Train the class-conditional model p(x | class).
    #[arg(long)]
    pub conditional: bool,
    /// Use only the first N training images (quick trials).
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Images in the sample grid written at the end (0: none).
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Do not draw the progress bar.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub sequence: crate::cli::train_sequence::SequenceArgs,
}

/// The prefix of default run folder names.
fn model_short_name(model: &str) -> &str {
    if model == "gated-pixelcnn" {
        "gated"
    } else {
        model
    }
}

/// A one-line description of a model's size.
fn describe(model: &ImageModelConfig) -> String {
    match model {
        ImageModelConfig::GatedPixelcnn(c) => format!(
            "Gated PixelCNN ({} channels, {} layers)",
            c.channels, c.layers
        ),
        ImageModelConfig::Pixelcnn(c) => {
            format!(
                "PixelCNN ({} channels, {} residual blocks, {} colours)",
                c.channels, c.blocks, c.colours
            )
        }
    }
}

/// Default number of epochs for a data set.
fn default_epochs(data: &str) -> usize {
    if data == "digits" { 20 } else { 1 }
}

/// Runs `argen train`.
pub fn run(args: TrainArgs) -> Result<()> {
    if crate::cli::train_sequence::handles(&args) {
        return crate::cli::train_sequence::run(args);
    }
    let progress = match (args.quiet, std::io::stderr().is_terminal()) {
        (true, _) => Progress::Silent,
        (false, true) => Progress::Bar,
        (false, false) => Progress::Lines,
    };
    let (config, run, resume) = match &args.resume {
        Some(folder) => {
            let run = RunFolder(folder.clone());
            let mut config = run.read_config()?;
            if let Some(epochs) = args.epochs {
                config.epochs = epochs;
            }
            (config, run, true)
        }
        None => {
            let data_data = train::load_data(&args.data)?;
            let num_classes = args.conditional.then_some(data_data.num_classes);
            let colours = data_data.train.channels;
            let model = match args.model.as_str() {
                "gated-pixelcnn" => ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
                    levels: data_data.levels,
                    channels: args.channels,
                    layers: args.layers,
                    first_kernel: args.first_kernel,
                    kernel: args.kernel,
                    head: args.head,
                    num_classes,
                    dropout: args
                        .dropout
                        .unwrap_or(if args.data == "digits" { 0.2 } else { 0.0 }),
                    colours,
                }),
                "pixelcnn" => ImageModelConfig::Pixelcnn(PixelCnnConfig {
                    levels: data_data.levels,
                    colours,
                    channels: args.channels,
                    blocks: args.layers,
                    first_kernel: args.first_kernel,
                    kernel: args.kernel,
                    head: args.head,
                    num_classes,
                }),
                other => bail!(
                    "unknown --model {other}: the image models are gated-pixelcnn and pixelcnn"
                ),
            };
            model.validate().map_err(anyhow::Error::msg)?;
            if args.batch_size == 0 {
                bail!("--batch-size must be at least 1");
            }
            if args.epochs == Some(0) {
                bail!("--epochs must be at least 1");
            }
            if !(args.lr > 0.0 && args.lr.is_finite()) {
                bail!("--lr must be a positive number, got {}", args.lr);
            }
            let config = TrainingConfig {
                model,
                data: args.data.clone(),
                height: data_data.train.height,
                width: data_data.train.width,
                epochs: args.epochs.unwrap_or_else(|| default_epochs(&args.data)),
                batch_size: args.batch_size,
                learning_rate: args.lr,
                adam_epsilon: args.adam_epsilon,
                clip_norm: args.clip_norm,
                seed: args.seed,
                train_limit: args.train_limit,
                lr_schedule: args.lr_schedule,
            };
            let folder = match &args.out {
                Some(out) => {
                    if out.join("config.json").exists() {
                        bail!(
                            "{} already holds a run; use --resume {} to continue it, or another --out",
                            out.display(),
                            out.display()
                        );
                    }
                    out.clone()
                }
                None => {
                    let name = args.data.replace(['/', ':', '.'], "_");
                    let prefix = format!("{}-{name}", model_short_name(&args.model));
                    train::new_run_folder(std::path::Path::new("runs"), &prefix)
                }
            };
            (config, RunFolder(folder), false)
        }
    };
    let data = train::load_data(&config.data)?;
    eprintln!(
        "training a {} with {} parameters on {} ({} training images) for {} epochs into {}",
        describe(&config.model),
        config
            .model
            .init(&burn::prelude::Device::flex())
            .num_params(),
        data.name,
        config
            .train_limit
            .unwrap_or(data.train.len())
            .min(data.train.len()),
        config.epochs,
        run.0.display()
    );
    let start = std::time::Instant::now();
    let devices = crate::cli::training_devices();
    let reports = train::train_on(&config, &data, &run, resume, progress, &devices.devices)?;
    if progress == Progress::Silent {
        for r in &reports {
            eprintln!(
                "epoch {}: train {:.4} bits/dim, valid {:.4} bits/dim, {:.1}s",
                r.epoch, r.train.bits_per_dim, r.valid.bits_per_dim, r.seconds
            );
        }
    }
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let (_, test) = evaluate_run(&run, Split::Test, false, 256)?;
    println!(
        "test NLL ({} images, best validation weights): {:.4} nats/image, {:.4} bits/dim; trained in {minutes:.1} min",
        test.images, test.nats_per_image, test.bits_per_dim
    );
    if args.samples > 0 {
        let sample_args = SampleArgs {
            run: run.0.clone(),
            n: args.samples,
            seed: config.seed,
            temperature: 1.0,
            class: None,
            batch: 64,
            last: false,
            naive: false,
            out: None,
            length: None,
        };
        let out = run.0.join("samples.png");
        sample_run(&sample_args, &out)?;
        println!("samples: {}", out.display());
    }
    println!("run folder: {}", run.0.display());
    Ok(())
}
