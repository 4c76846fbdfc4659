//! Training: the loop, its settings, the run folder and its checkpoints.
//!
//! A run folder holds everything about one run:
//!
//! | file | what |
//! |---|---|
//! | `config.json` | every setting ([`TrainingConfig`]), enough to rebuild the model |
//! | `model.safetensors` | the weights after the last finished epoch |
//! | `best.safetensors` | the weights with the lowest validation NLL so far |
//! | `optimizer.bpk` | Adam's state (burnpack), for `--resume` |
//! | `state.json` | epochs done, optimiser steps, best validation bits/dim |
//! | `metrics.csv` | one line per epoch: training and validation NLL, time, images/s |
//!
//! Every file is written atomically (temporary file, then rename): a run stopped at any
//! moment keeps its last complete checkpoint.

pub mod batch;
pub mod checkpoint;
pub mod parallel;
pub mod sequence;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::data::{self, DataSource, ImageData, ImageSet};
use crate::distributions::categorical;
use crate::models::{ImageModel, ImageModelConfig};
pub use batch::image_batch;
pub use checkpoint::{load_weights, save_weights, write_atomically};

/// Every setting of a training run; saved as `config.json` in the run folder.
#[derive(Config, Debug)]
pub struct TrainingConfig {
    /// The network.
    pub model: ImageModelConfig,
    /// The data set, as given to `--data` (`digits`, `fashion-mnist`, `idx:DIR`).
    pub data: String,
    /// Image height of the data set (what `argen sample` generates).
    pub height: usize,
    /// Image width of the data set.
    pub width: usize,
    /// Passes over the training set.
    #[config(default = 30)]
    pub epochs: usize,
    /// Images per optimiser step.
    #[config(default = 32)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Adam's epsilon (PyTorch's default 1e-8; burn's own default is 1e-5).
    #[config(default = 1e-8)]
    pub adam_epsilon: f64,
    /// Clip the gradient to this global L2 norm (over all parameters together).
    #[config(default = "None")]
    pub clip_norm: Option<f64>,
    /// Seed of the initial weights and the order of the batches.
    #[config(default = 0)]
    pub seed: u64,
    /// Train on the first N training images only (quick runs and tests).
    #[config(default = "None")]
    pub train_limit: Option<usize>,
    /// How the learning rate changes over the run.
    #[config(default = "LrSchedule::Constant")]
    pub lr_schedule: LrSchedule,
}

/// How the learning rate changes over a run of T optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate at every step.
    Constant,
    /// lr_t = lr · (1 + cos(π t / T)) / 2: from lr down to 0 at the last step.
    Cosine,
}

impl LrSchedule {
    /// The rate at step `t` (from 0) of `total` steps, for base rate `lr`.
    pub fn rate(self, lr: f64, t: usize, total: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let progress = t as f64 / total.max(1) as f64;
                lr * 0.5 * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
            }
        }
    }
}

/// Progress of a run; saved as `state.json` after every epoch.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct RunState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Lowest validation bits/dim seen so far (at the end of an epoch).
    pub best_valid_bits_per_dim: Option<f64>,
}

/// Negative log-likelihood of a set of images.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Nll {
    /// Mean over the images of −log p(x), in nats per image.
    pub nats_per_image: f64,
    /// The same divided by the number of dimensions (pixels × channels) and by ln 2.
    pub bits_per_dim: f64,
    /// Number of images scored.
    pub images: usize,
}

impl Nll {
    /// From a total over `images` images of `dims` dimensions each.
    pub fn from_total(total_nats: f64, images: usize, dims: usize) -> Self {
        let nats_per_image = total_nats / images.max(1) as f64;
        Self {
            nats_per_image,
            bits_per_dim: nats_per_image / (dims as f64 * std::f64::consts::LN_2),
            images,
        }
    }
}

/// The labels to condition on, when the model is conditional.
fn conditioning(model: &ImageModel, labels: Tensor<1, Int>) -> Option<Tensor<1, Int>> {
    model.is_conditional().then_some(labels)
}

/// Exact NLL of every image of `set` under `model`, in batches of `batch_size`.
pub fn evaluate(model: &ImageModel, set: &ImageSet, batch_size: usize, device: &Device) -> Nll {
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut total = 0.0f64;
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, labels) = image_batch(set, chunk, device);
        let logits = model.forward(x.clone(), conditioning(model, labels));
        let log_p = categorical::log_prob(logits, x)
            .into_data()
            .convert::<f64>();
        total -= log_p.iter::<f64>().sum::<f64>();
    }
    Nll::from_total(total, set.len(), set.image_size())
}

/// Squared L2 norm of all gradients together.
struct GradNorm<'a> {
    grads: &'a GradientsParams,
    squared: f64,
}

impl ModuleVisitor for GradNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.squared += g.powi_scalar(2).sum().into_scalar::<f64>();
        }
    }
}

/// Multiplies every gradient by a factor.
struct GradScale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for GradScale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// Rescales `grads` so that their global L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`); returns the norm before clipping.
pub fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let mut norm = GradNorm {
        grads,
        squared: 0.0,
    };
    model.visit(&mut norm);
    let total = norm.squared.sqrt();
    if total > max_norm {
        model.visit(&mut GradScale {
            grads,
            factor: max_norm / (total + 1e-6),
        });
    }
    total
}

/// The Adam optimiser of a run.
fn optimizer(config: &TrainingConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_epsilon(config.adam_epsilon as f32)
        .init()
}

/// The files of a run folder.
#[derive(Debug, Clone)]
pub struct RunFolder(pub PathBuf);

impl RunFolder {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.0.join("config.json")
    }
    /// `model.safetensors`: the last epoch's weights.
    pub fn last_weights(&self) -> PathBuf {
        self.0.join("model.safetensors")
    }
    /// `best.safetensors`: the best validation weights.
    pub fn best_weights(&self) -> PathBuf {
        self.0.join("best.safetensors")
    }
    /// `optimizer.bpk`.
    pub fn optimizer(&self) -> PathBuf {
        self.0.join("optimizer.bpk")
    }
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.0.join("metrics.csv")
    }

    /// Reads `config.json` as a `T`; `what` names the kind of run in the error message.
    pub fn read_config_as<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        let path = self.config();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (is {} a run folder?)",
                path.display(),
                self.0.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid {what} config", path.display()))
    }

    /// Reads `config.json` of an image run.
    pub fn read_config(&self) -> Result<TrainingConfig> {
        let config: TrainingConfig = self.read_config_as("argen run")?;
        config
            .model
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.config().display()))?;
        Ok(config)
    }

    /// Restores Adam's state from `optimizer.bpk` into `optim`.
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let path = self.optimizer();
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|e| anyhow::anyhow!("{} is corrupt: {e}", path.display()))
    }

    /// Writes Adam's state to `optimizer.bpk` atomically.
    pub fn save_optimizer(&self, optim: &ModuleOptimizer) -> Result<()> {
        let bytes = optim
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot serialise the optimiser: {e}"))?;
        write_atomically(&self.optimizer(), &bytes)
    }

    /// Appends `line` to `metrics.csv` (rewriting the file atomically; a missing file starts
    /// with `header`).
    pub fn append_metrics(&self, header: &str, line: &str) -> Result<()> {
        let mut text = fs::read_to_string(self.metrics()).unwrap_or_else(|_| header.to_string());
        text.push_str(line);
        write_atomically(&self.metrics(), text.as_bytes())
    }

    /// Reads `state.json` (a fresh state if the run has not finished an epoch yet).
    pub fn read_state(&self) -> Result<RunState> {
        let path = self.state();
        if !path.exists() {
            return Ok(RunState::default());
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
    }

    /// Builds the model of the run and loads the chosen weights (`best` or last).
    pub fn load_model(&self, best: bool, device: &Device) -> Result<(TrainingConfig, ImageModel)> {
        let config = self.read_config()?;
        let path = if best && self.best_weights().exists() {
            self.best_weights()
        } else {
            self.last_weights()
        };
        let model = load_weights(config.model.init(device), &path)?;
        Ok((config, model))
    }
}

/// How training reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Silent,
    /// A progress bar on the terminal, and a line per epoch.
    Bar,
    /// A line every 30 seconds and per epoch, for logs.
    Lines,
}

/// What one epoch measured.
#[derive(Debug, Clone, Copy)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training NLL over the epoch's batches.
    pub train: Nll,
    /// Validation NLL at the end of the epoch.
    pub valid: Nll,
    /// Seconds of training (without validation).
    pub seconds: f64,
}

/// Trains `config` into `run` on this machine's CPU: [`train_on`] with the CPU only.
pub fn train(
    config: &TrainingConfig,
    data: &ImageData,
    run: &RunFolder,
    resume: bool,
    progress: Progress,
) -> Result<Vec<EpochReport>> {
    train_on(config, data, run, resume, progress, &[Device::flex()])
}

/// Trains `config` into `run` (a new folder, or an existing one when `resume` is true),
/// epoch after epoch, writing checkpoints and metrics after each. Returns the per-epoch
/// reports of this call.
///
/// The model lives on `devices[0]`; with several devices each batch is split over them and
/// their gradients are added ([`parallel::batch_gradients`]). The initial weights are drawn
/// on the CPU, so a seed gives the same model whatever the devices.
pub fn train_on(
    config: &TrainingConfig,
    data: &ImageData,
    run: &RunFolder,
    resume: bool,
    progress: Progress,
    devices: &[Device],
) -> Result<Vec<EpochReport>> {
    let show_progress = progress == Progress::Bar;
    let log_progress = progress == Progress::Lines;
    config.model.validate().map_err(anyhow::Error::msg)?;
    if config.batch_size == 0 {
        bail!("the batch size must be at least 1");
    }
    if data.train.is_empty() || data.valid.is_empty() {
        bail!(
            "the data set {} has an empty training or validation part",
            data.name
        );
    }
    if (data.train.height, data.train.width) != (config.height, config.width) {
        bail!(
            "the run was configured for {}x{} images but {} has {}x{}",
            config.height,
            config.width,
            data.name,
            data.train.height,
            data.train.width
        );
    }
    if data.train.channels != config.model.colours() {
        bail!(
            "the {} models images of {} channels; {} has {}",
            config.model.name(),
            config.model.colours(),
            data.name,
            data.train.channels
        );
    }
    let devices = parallel::training_devices(devices)?;
    let device = devices[0].clone();
    fs::create_dir_all(&run.0).with_context(|| format!("cannot create {}", run.0.display()))?;

    let mut model = config
        .model
        .init_seeded(config.seed, &Device::flex().autodiff())
        .fork(&device);
    let mut optim = optimizer(config);
    let mut state = RunState::default();
    if resume {
        state = run.read_state()?;
        model = load_weights(model, &run.last_weights())?;
        optim = run.load_optimizer(optim)?;
    } else {
        write_atomically(&run.config(), config.to_string().as_bytes())?;
        write_atomically(&run.metrics(), METRICS_HEADER.as_bytes())?;
    }

    let train_set = match config.train_limit {
        Some(n) => data
            .train
            .subset(&(0..n.min(data.train.len())).collect::<Vec<_>>()),
        None => data.train.clone(),
    };
    let dims = train_set.image_size();
    let steps_per_epoch = train_set.len().div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let mut reports = Vec::new();

    for epoch in state.epochs_done + 1..=config.epochs {
        let bar = progress_bar(show_progress, steps_per_epoch, epoch, config.epochs);
        let start = Instant::now();
        // Dropout draws come from the device generator: seeding it per epoch makes a resumed
        // run draw what the uninterrupted one would have drawn. (Replicas sharing one device
        // share its generator, in thread order: with dropout, such a run is not repeatable.)
        for device in &devices {
            device.seed(
                config
                    .seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add(epoch as u64),
            );
        }
        let order = data::shuffled_indices(train_set.len(), config.seed.wrapping_add(epoch as u64));
        let (mut total_nats, mut seen) = (0.0f64, 0usize);
        let mut last_line = Instant::now();
        for chunk in order.chunks(config.batch_size) {
            // Minimise nats per dimension: the same optimum, a scale that does not depend on
            // the image size. Each shard adds its images' NLL over the whole batch's size.
            let per_batch = (dims * chunk.len()) as f64;
            let (mut grads, loss_value) =
                parallel::batch_gradients(&model, &devices, chunk, |model, shard, device| {
                    let (x, labels) = image_batch(&train_set, shard, device);
                    let logits = model.forward(x.clone(), conditioning(model, labels));
                    categorical::log_prob(logits, x)
                        .sum()
                        .neg()
                        .div_scalar(per_batch)
                });
            if !loss_value.is_finite() {
                bar.abandon();
                bail!(
                    "the training loss became {loss_value} at epoch {epoch}, step {}; training stopped. \
                     The last good checkpoint (end of epoch {}) is kept in {}. \
                     Try a lower --lr or --clip-norm.",
                    state.steps + 1,
                    state.epochs_done,
                    run.0.display()
                );
            }
            if let Some(max_norm) = config.clip_norm {
                clip_global_norm(&model, &mut grads, max_norm);
            }
            let lr = config
                .lr_schedule
                .rate(config.learning_rate, state.steps, total_steps);
            model = optim.step(lr, model, grads);
            state.steps += 1;
            total_nats += loss_value * dims as f64 * chunk.len() as f64;
            seen += chunk.len();
            let bits = loss_value / std::f64::consts::LN_2;
            let rate = seen as f64 / start.elapsed().as_secs_f64();
            let message =
                format!("loss {loss_value:.4} nats/dim, {bits:.3} bits/dim, {rate:.1} img/s");
            bar.set_message(message.clone());
            bar.inc(1);
            // Without a terminal (a log file), a line every half minute instead of the bar.
            if log_progress && last_line.elapsed().as_secs_f64() >= 30.0 {
                let done = seen as f64 / train_set.len() as f64;
                let eta = start.elapsed().as_secs_f64() * (1.0 - done) / done.max(1e-9);
                eprintln!(
                    "epoch {epoch}: {:.1}% {message}, ETA {eta:.0}s",
                    100.0 * done
                );
                last_line = Instant::now();
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();

        let valid = evaluate(&model.valid(), &data.valid, 256, &device.clone().inner());
        let train = Nll::from_total(total_nats, seen, dims);
        state.epochs_done = epoch;
        save_weights(&model, config.model.name(), &run.last_weights())?;
        run.save_optimizer(&optim)?;
        if state
            .best_valid_bits_per_dim
            .is_none_or(|best| valid.bits_per_dim < best)
        {
            state.best_valid_bits_per_dim = Some(valid.bits_per_dim);
            save_weights(&model, config.model.name(), &run.best_weights())?;
        }
        write_atomically(
            &run.state(),
            serde_json::to_string_pretty(&state)?.as_bytes(),
        )?;
        run.append_metrics(
            METRICS_HEADER,
            &metrics_line(epoch, &train, &valid, seconds, seen),
        )?;
        let report = EpochReport {
            epoch,
            train,
            valid,
            seconds,
        };
        if progress != Progress::Silent {
            eprintln!(
                "epoch {epoch}/{}: train {:.4} bits/dim, valid {:.4} bits/dim ({:.2} nats/image), {:.1}s, {:.0} img/s",
                config.epochs,
                train.bits_per_dim,
                valid.bits_per_dim,
                valid.nats_per_image,
                seconds,
                seen as f64 / seconds
            );
        }
        reports.push(report);
    }
    Ok(reports)
}

const METRICS_HEADER: &str = "epoch,train_nats_per_image,train_bits_per_dim,valid_nats_per_image,valid_bits_per_dim,seconds,train_images_per_second\n";

/// One epoch's line of `metrics.csv`.
fn metrics_line(epoch: usize, train: &Nll, valid: &Nll, seconds: f64, seen: usize) -> String {
    format!(
        "{epoch},{:.6},{:.6},{:.6},{:.6},{:.3},{:.1}\n",
        train.nats_per_image,
        train.bits_per_dim,
        valid.nats_per_image,
        valid.bits_per_dim,
        seconds,
        seen as f64 / seconds
    )
}

fn progress_bar(show: bool, steps: usize, epoch: usize, epochs: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} (ETA {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}

/// Loads the data set named in a config.
pub fn load_data(name: &str) -> Result<ImageData> {
    let source: DataSource = name.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(data::load(&source)?)
}

/// A fresh run folder under `parent`: `parent/<prefix>-1`, `-2`, ... (the first that does
/// not exist).
pub fn new_run_folder(parent: &Path, prefix: &str) -> PathBuf {
    (1..)
        .map(|i| parent.join(format!("{prefix}-{i}")))
        .find(|p| !p.exists())
        .expect("an unused name")
}
