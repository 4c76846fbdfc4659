//! `argen train`: train an image or sequence model into a run folder, then evaluate it on
//! the test split (and draw a grid of samples from an image model).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};
use argen::data::ImageData;
use argen::data::sequences::load_sequences_with;
use argen::models::{ImageFormat, SequenceModelKind, options::is_image_model};
use argen::run::{ImageRun, Run, SampleOptions, Split, Weights};
use argen::train::sequence::{self, SequenceTrainingConfig};
use argen::train::{self, RunFolder, TrainOptions, TrainingConfig, image};
use burn::module::Module;
use burn::prelude::Device;
use clap::Args;

use crate::cli::args::{
    DeviceArgs, Given, ImageModelArgs, ScheduleArg, SequenceModelArgs, progress,
};

/// Options of `argen train`. With none, it trains a small Gated PixelCNN on the embedded
/// 8x8 digits in about a minute on two CPU cores.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The model. Images: `gated-pixelcnn` (vertical and horizontal stacks, no blind spot),
    /// `pixelcnn` (masked convolutions) or `pixelcnn-pp` (PixelCNN++: a logistic mixture per
    /// pixel, several resolutions). Sequences: `mlp` (window MLP), `gru`, `lstm`,
    /// `wavenet`, `tcn`.
    #[arg(long, default_value = "gated-pixelcnn")]
    pub model: String,
    /// Data. Images: `digits` (embedded 8x8 digits, 17 levels), `fashion-mnist`
    /// (/usr/share/datasets/fashion-mnist), `idx:DIR`, `cifar10:DIR`, `png:DIR`,
    /// `colour:SOURCE` (a grey source coloured by a seeded rule, e.g. `colour:fashion-mnist`,
    /// 32x32 RGB). Sequences:
    /// `digits` (as 64-step sequences), `sine`, `sunspots`, `stocks:SYMBOL`, `csv:FILE:COLUMN`,
    /// `text:FILE`, `pianoroll:FILE`, `midi:DIR` (a folder of MIDI files), `wav:DIR` (a
    /// folder of WAV files), `adding:T`, `copy:T`.
    #[arg(long, default_value = "digits")]
    pub data: String,
    /// Run folder to create (default: runs/<model>-<data>-N, the first unused N).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder where it stopped (its settings, saved weights and
    /// optimiser state); `--epochs` may raise the number of epochs.
    #[arg(long, conflicts_with_all = ["out", "data", "model"])]
    pub resume: Option<PathBuf>,
    /// Model p(x | class) (images: the digit or garment class; sequences: the series id).
    #[arg(long)]
    pub conditional: bool,
    /// Model p(x | h) for a vector h per example: `vectors:FILE`, a CSV file (one row of D
    /// numbers per image, in the data's order: train file, then test file) or a numpy
    /// `.npy` array [N, D].
    #[arg(long, value_name = "vectors:FILE")]
    pub condition: Option<String>,
    /// Sequences on `--data csv:FILE:TARGET`: per-step covariates, columns of the same file.
    /// The model at step t reads x_<t and these columns up to step t.
    #[arg(long, value_name = "COL,COL", value_delimiter = ',')]
    pub covariates: Vec<String>,
    /// With --covariates: they are known one step ahead (calendar features, planned
    /// prices), so step t also reads the covariates of step t + 1.
    #[arg(long, requires = "covariates")]
    pub covariates_known_ahead: bool,
    /// Dropout probability, during training only. Gated PixelCNN: on the residual branch of
    /// the horizontal stack (default: 0.2 on the digits, whose 1,000 training images are easy
    /// to overfit; 0 otherwise). Sequence models: after each hidden activation (default 0).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Images: the number of images in the sample grid written at the end (0: none).
    #[arg(long, default_value_t = 64)]
    pub samples: usize,
    /// Sound (`--data wav:DIR`): the sample rate every file is resampled to (Hz).
    #[arg(long, value_name = "HZ")]
    pub sample_rate: Option<u32>,
    /// Sound: samples per training window (windows at seeded random offsets, about one per
    /// window-length of each file).
    #[arg(long, value_name = "SAMPLES")]
    pub audio_window: Option<usize>,
    /// Sound: how a sample becomes one of 256 levels, `mu-law` (companding, the default) or
    /// `linear`.
    #[arg(long)]
    pub quantisation: Option<argen::data::audio::Quantisation>,
    /// Music (`--data midi:DIR`): the grid notes are quantised to, in steps per beat (a
    /// quarter note; default 2, eighth notes). Saved with the run.
    #[arg(long, value_name = "N")]
    pub steps_per_beat: Option<u32>,
    /// Do not draw the progress bar or the per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub image: ImageModelArgs,
    #[command(flatten)]
    pub sequence: SequenceModelArgs,
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// The options of the training loop, the same for every family.
#[derive(Args, Debug)]
#[command(next_help_heading = "Training")]
pub struct TrainingArgs {
    /// Passes over the training set (default: 20 for images on the digits, 1 for other
    /// images, 10 for sequences).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per optimiser step.
    #[arg(long, default_value_t = TrainOptions::default().batch_size)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = TrainOptions::default().learning_rate, allow_negative_numbers = true)]
    pub lr: f64,
    /// Learning-rate schedule over the whole run.
    #[arg(long, value_enum, default_value = "cosine")]
    pub lr_schedule: ScheduleArg,
    /// Adam's epsilon (PyTorch's default).
    #[arg(long, default_value_t = TrainOptions::default().adam_epsilon, allow_negative_numbers = true)]
    pub adam_epsilon: f64,
    /// Clip the gradient to this global L2 norm (default: 1 for GRU and LSTM, off otherwise).
    #[arg(long, allow_negative_numbers = true)]
    pub clip_norm: Option<f64>,
    /// Seed of the initial weights, the batch order, the dropout draws and the samples.
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    pub seed: u64,
    /// Use only the first N training examples (quick trials).
    #[arg(long)]
    pub train_limit: Option<usize>,
}

impl TrainingArgs {
    /// The loop's options, with `epochs` when `--epochs` is not given and `clip_norm` when
    /// `--clip-norm` is not.
    fn options(&self, epochs: usize, clip_norm: Option<f64>) -> Result<TrainOptions> {
        let options = TrainOptions {
            epochs: self.epochs.unwrap_or(epochs),
            batch_size: self.batch_size,
            learning_rate: self.lr,
            adam_epsilon: self.adam_epsilon,
            clip_norm: self.clip_norm.or(clip_norm),
            seed: self.seed,
            train_limit: self.train_limit,
            lr_schedule: self.lr_schedule.into(),
        };
        options.validate()?;
        Ok(options)
    }
}

impl TrainArgs {
    /// How sound data is read: the defaults with the flags given, for `wav:DIR` data; `Some`
    /// as well when a flag is given for other data, which loading then refuses.
    fn audio_spec(&self) -> Option<argen::data::audio::AudioSpec> {
        let flags = self.sample_rate.is_some()
            || self.audio_window.is_some()
            || self.quantisation.is_some();
        if !self.data.starts_with("wav:") && !flags {
            return None;
        }
        let defaults = argen::data::audio::AudioSpec::default();
        Some(argen::data::audio::AudioSpec {
            sample_rate: self.sample_rate.unwrap_or(defaults.sample_rate),
            window: self.audio_window.unwrap_or(defaults.window),
            quantisation: self.quantisation.unwrap_or(defaults.quantisation),
        })
    }
}

impl TrainArgs {
    /// How MIDI files are read: the defaults with `--steps-per-beat`, for `midi:DIR` data;
    /// `Some` as well when the flag is given for other data, which loading then refuses.
    fn midi_spec(&self) -> Option<argen::data::midi::MidiSpec> {
        if !self.data.starts_with("midi:") && self.steps_per_beat.is_none() {
            return None;
        }
        let defaults = argen::data::midi::MidiSpec::default();
        Some(argen::data::midi::MidiSpec {
            steps_per_beat: self.steps_per_beat.unwrap_or(defaults.steps_per_beat),
        })
    }
}

/// A new run folder: `--out`, or the first unused runs/<model>-<data>-N.
fn new_folder(out: &Option<PathBuf>, model: &str, data: &str) -> Result<RunFolder> {
    Ok(RunFolder(match out {
        Some(out) => {
            if out.join("config.json").exists() || out.join(argen::classic::RUN_FILE).exists() {
                bail!(
                    "{} already holds a run; use --resume {} to continue it, or another --out",
                    out.display(),
                    out.display()
                );
            }
            out.clone()
        }
        None => {
            let short = if model == "gated-pixelcnn" {
                "gated"
            } else {
                model
            };
            let name = data.replace(['/', ':', '.'], "_");
            train::new_run_folder(Path::new("runs"), &format!("{short}-{name}"))
        }
    }))
}

/// A `--condition vectors:FILE` with the file's path made absolute (a run's config then
/// names the same file from any working folder).
fn absolute_condition(spec: &str) -> String {
    match spec.strip_prefix("vectors:").map(std::fs::canonicalize) {
        Some(Ok(path)) => format!("vectors:{}", path.display()),
        _ => spec.to_string(),
    }
}

/// The options of the image models only.
const IMAGE_OPTIONS: [&str; 9] = [
    "spatial",
    "resolutions",
    "latent",
    "channels",
    "layers",
    "first_kernel",
    "kernel",
    "head",
    "samples",
];
/// The options of the sequence models only.
const SEQUENCE_OPTIONS: [&str; 13] = [
    "covariates",
    "covariates_known_ahead",
    "hidden",
    "depth",
    "blocks",
    "window",
    "conv_kernel",
    "conv_first_kernel",
    "tbptt",
    "mixture",
    "fixed_variance",
    "weight_norm",
    "steps_per_beat",
];
/// The settings a resumed run keeps from its config.json.
const RUN_SETTINGS: [&str; 10] = [
    "conditional",
    "condition",
    "dropout",
    "batch_size",
    "lr",
    "lr_schedule",
    "adam_epsilon",
    "clip_norm",
    "seed",
    "train_limit",
];

/// Refuses options that the chosen model or run would ignore.
fn refuse_ignored(args: &TrainArgs, given: &Given) -> Result<()> {
    let ignored = match &args.resume {
        Some(_) => {
            let mut ids: Vec<&str> = RUN_SETTINGS.to_vec();
            ids.extend(IMAGE_OPTIONS.iter().filter(|&&id| id != "samples"));
            ids.extend(SEQUENCE_OPTIONS);
            let ignored = given.among(&ids);
            if !ignored.is_empty() {
                bail!(
                    "--resume continues a run with the settings of its config.json; {} would \
                     change them (only --epochs may raise the number of epochs)",
                    ignored.join(", ")
                );
            }
            return Ok(());
        }
        // The PixelCNN++ reads --mixture too (the components of its pixel mixture).
        None if is_image_model(&args.model) => given
            .among(&SEQUENCE_OPTIONS)
            .into_iter()
            .filter(|id| !(id == "--mixture" && args.model == "pixelcnn-pp"))
            .collect(),
        None => given.among(&IMAGE_OPTIONS),
    };
    if !ignored.is_empty() {
        bail!(
            "{} {} not apply to --model {}",
            ignored.join(", "),
            if ignored.len() == 1 { "does" } else { "do" },
            args.model
        );
    }
    Ok(())
}

/// Runs `argen train`.
pub fn run(args: TrainArgs, given: &Given) -> Result<()> {
    refuse_ignored(&args, given)?;
    let devices = args.devices.connect("train", true)?;
    if !devices.is_cpu_only() || devices.devices.len() > 1 {
        eprintln!("devices: {devices}");
    }
    if args.devices.precision != argen::fused::matmul::Precision::F32 {
        eprintln!(
            "convolution products in {} (AMX tile unit, f32 sums)",
            args.devices.precision
        );
    }
    match &args.resume {
        Some(folder) => {
            if let Some(e) = args.training.epochs
                && e == 0
            {
                bail!("--epochs must be at least 1");
            }
            match Run::open(folder)? {
                Run::Image(mut run) => {
                    if let Some(epochs) = args.training.epochs {
                        run.config.training.epochs = epochs;
                    }
                    train_images(&args, run.config, run.folder, None, true, &devices.devices)
                }
                Run::Sequence(mut run) => {
                    if let Some(epochs) = args.training.epochs {
                        run.config.training.epochs = epochs;
                    }
                    train_sequences(&args, run.config, run.folder, true, &devices.devices)
                }
                Run::Classic(_) => bail!(
                    "{} is a classical fit, fitted in closed form: there is nothing to resume",
                    folder.display()
                ),
            }
        }
        None if is_image_model(&args.model) => {
            let mut data = image::load_data(&args.data)?;
            let condition = match &args.condition {
                Some(spec) => {
                    data = data.with_vectors(&image::read_vectors(spec)?)?;
                    Some(absolute_condition(spec))
                }
                None => None,
            };
            let format = ImageFormat::of(&data);
            let model = args
                .image
                .options(
                    &args.model,
                    args.dropout,
                    args.conditional,
                    args.sequence.mixture,
                )
                .build(format, &args.data)?;
            let training = args
                .training
                .options(image::default_epochs(&args.data), None)?;
            let config = TrainingConfig::new(
                model,
                argen::data::absolute_source(&args.data),
                data.train.height,
                data.train.width,
                training,
            )
            .with_condition(condition);
            let folder = new_folder(&args.out, &args.model, &args.data)?;
            train_images(&args, config, folder, Some(data), false, &devices.devices)
        }
        None => {
            let Some(kind) = SequenceModelKind::from_name(&args.model) else {
                bail!(
                    "unknown --model {}: the image models are gated-pixelcnn and pixelcnn, the \
                     sequence models mlp, gru, lstm, wavenet and tcn",
                    args.model
                );
            };
            let covariates = (!args.covariates.is_empty()).then(|| sequence::CovariateSpec {
                columns: args.covariates.clone(),
                known_ahead: args.covariates_known_ahead,
            });
            let audio = args.audio_spec();
            let midi = args.midi_spec();
            let mut data = match &covariates {
                Some(spec) => sequence::load_with_covariates(&args.data, spec)?,
                None => load_sequences_with(&args.data, audio.as_ref(), midi.as_ref())?,
            };
            if let Some(spec) = &args.condition {
                if data.train.iter().any(|e| e.inputs.is_some()) {
                    bail!(
                        "--condition vectors:FILE needs a generative data set, not the task {}",
                        data.name
                    );
                }
                if args.conditional {
                    bail!(
                        "--conditional conditions on the classes, --condition vectors:FILE on vectors: choose one"
                    );
                }
                data = data.with_vectors(&image::read_vectors(spec)?)?;
            }
            let vector_dim = data
                .train
                .first()
                .and_then(|e| e.vector.as_ref())
                .map(Vec::len);
            let model = args
                .sequence
                .options(args.dropout, args.conditional)
                .build(
                    kind,
                    data.input_channels(),
                    data.output,
                    data.num_classes,
                    &data.name,
                )?;
            let training = args.training.options(
                sequence::DEFAULT_EPOCHS,
                sequence::default_clip_norm(&model),
            )?;
            let config = SequenceTrainingConfig::new(
                model,
                argen::data::absolute_source(&args.data),
                training,
            )
            .with_tbptt(args.sequence.tbptt)
            .with_audio(audio)
            .with_midi(midi)
            .with_covariates(covariates)
            .with_vectors(
                args.condition.as_deref().map(absolute_condition),
                vector_dim,
            );
            let folder = new_folder(&args.out, &args.model, &args.data)?;
            train_sequences(&args, config, folder, false, &devices.devices)
        }
    }
}

/// Trains an image run (on `data` when the caller loaded it already), scores its test split and draws a grid of samples.
fn train_images(
    args: &TrainArgs,
    config: TrainingConfig,
    folder: RunFolder,
    data: Option<ImageData>,
    resume: bool,
    devices: &[Device],
) -> Result<()> {
    let data = match data {
        Some(data) => data,
        None => config.load_data()?,
    };
    eprintln!(
        "training a {} with {} parameters on {} ({} training images) for {} epochs into {}",
        config.model.describe(),
        config.model.init(&Device::flex()).num_params(),
        data.name,
        config
            .training
            .train_limit
            .unwrap_or(data.train.len())
            .min(data.train.len()),
        config.training.epochs,
        folder.0.display()
    );
    let start = Instant::now();
    let progress = progress(args.quiet);
    image::fit(&config, &data, Some(&folder), resume, progress, devices)?;
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let device = devices[0].clone();
    let run = ImageRun { folder, config };
    // Data saved from arrays may hold no test images: then the validation part is scored.
    let split = if data.test.is_empty() {
        Split::Valid
    } else {
        Split::Test
    };
    let test = run.evaluate_on(&data, split, Weights::Best, 256, &device)?;
    println!(
        "{split} NLL ({} images, best validation weights): {:.4} nats/image, {:.4} bits/dim; trained in {minutes:.1} min",
        test.examples, test.nats_per_example, test.bits_per_dim
    );
    if let Some(on) = test.conditional_on {
        println!("  ({on})");
    }
    if args.samples > 0 {
        let options = SampleOptions::new(args.samples).seed(run.config.training.seed);
        let samples = run.sample(&options, &device)?;
        let out = run.folder.0.join("samples.png");
        argen::viz::save_png(&samples.grid(), &out)?;
        println!("samples: {}", out.display());
    }
    println!("run folder: {}", run.folder.0.display());
    Ok(())
}

/// Trains a sequence run and scores its test split.
fn train_sequences(
    args: &TrainArgs,
    config: SequenceTrainingConfig,
    folder: RunFolder,
    resume: bool,
    devices: &[Device],
) -> Result<()> {
    let data = sequence::load_data(&config)?;
    eprintln!(
        "training {} on {} ({} training sequences) for {} epochs into {}",
        config.model.describe(),
        data.name,
        data.train.len(),
        config.training.epochs,
        folder.0.display()
    );
    let start = Instant::now();
    let progress = progress(args.quiet);
    sequence::fit(&config, &data, Some(&folder), resume, progress, devices)?;
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let run = argen::run::SequenceRun { folder, config };
    let metrics = run.metrics_on(&data, Split::Test, Weights::Best, 256, &devices[0])?;
    println!(
        "test ({}, best validation weights): {metrics}; trained in {minutes:.1} min",
        data.name
    );
    println!("run folder: {}", run.folder.0.display());
    Ok(())
}
