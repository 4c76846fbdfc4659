//! Training: one loop for every family.
//!
//! A family (images, sequences) describes what it trains as a [`Task`]: the model, the loss
//! of a shard of a batch, the evaluation of the validation split, the lines it writes. The
//! loop, [`train`], does the rest once for all of them: batches in a seeded order, one
//! optimiser step per batch (or per piece of a batch, for truncated BPTT), data parallelism
//! over devices, global-norm clipping, the learning-rate schedule, per-epoch reseeding of
//! every random draw, the NaN stop, best and last weights, `metrics.csv`, `state.json`,
//! `--resume` and the progress bar.
//!
//! A run folder (optional: a program may train in memory only) holds everything about one
//! run: `config.json` (every setting, enough to rebuild the model; `"kind"` names the family)
//! and the current checkpoint (weights after the last epoch, the best validation weights,
//! Adam's state, `state.json`, `metrics.csv`).
//!
//! An epoch's files commit as one unit, and a folder has one writer at a time (see
//! [`folder`]).

pub mod adam;
pub mod batch;
pub mod checkpoint;
pub mod folder;
pub mod image;
pub mod parallel;
pub mod sequence;
pub mod trainer;

use std::fmt::Debug;
use std::time::Instant;

use anyhow::{Result, bail};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

pub use batch::{image_batch, image_condition};
pub use checkpoint::{load_weights, save_weights, weights_to_bytes, write_atomically};
pub use folder::{Checkpoint, RunFolder, RunLock, new_run_folder};
pub use image::{CPU_EVAL_BATCH, EpochReport, Nll, TrainingConfig, evaluate, load_data};
pub use trainer::Trainer;

/// The settings of the training loop, the same for every family (saved, flattened, in
/// `config.json`). [`TrainOptions::default`] gives the command line's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Passes over the training set.
    pub epochs: usize,
    /// Examples per optimiser step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Adam's epsilon (PyTorch's default 1e-8; burn's own default is 1e-5).
    #[serde(default = "default_adam_epsilon")]
    pub adam_epsilon: f64,
    /// Clip the gradient to this global L2 norm (over all parameters together).
    #[serde(default)]
    pub clip_norm: Option<f64>,
    /// Seed of the initial weights, the order of the batches and the dropout draws.
    #[serde(default)]
    pub seed: u64,
    /// Train on the first N training examples only (quick runs and tests).
    #[serde(default)]
    pub train_limit: Option<usize>,
    /// How the learning rate changes over the run.
    #[serde(default = "constant_schedule")]
    pub lr_schedule: LrSchedule,
}

fn default_adam_epsilon() -> f64 {
    1e-8
}

fn constant_schedule() -> LrSchedule {
    LrSchedule::Constant
}

impl Default for TrainOptions {
    /// The command line's defaults: 10 epochs, batches of 32, Adam at 1e-3 (ε = 1e-8) on a
    /// cosine schedule, no clipping, seed 0, every training example.
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            learning_rate: 1e-3,
            adam_epsilon: 1e-8,
            clip_norm: None,
            seed: 0,
            train_limit: None,
            lr_schedule: LrSchedule::Cosine,
        }
    }
}

impl TrainOptions {
    /// The command line's defaults for an image run on `data`: [`TrainOptions::default`]
    /// with [`image::default_epochs`] (20 on the digits, 1 otherwise).
    pub fn for_images(data: &str) -> Self {
        Self::default().epochs(image::default_epochs(data))
    }

    /// The same options with `epochs` passes.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// The same options with batches of `batch_size`.
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }
    /// The same options with learning rate `lr`.
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    /// The same options with `schedule`.
    pub fn lr_schedule(mut self, schedule: LrSchedule) -> Self {
        self.lr_schedule = schedule;
        self
    }
    /// The same options with `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// The same options clipping at global norm `max_norm`.
    pub fn clip_norm(mut self, max_norm: Option<f64>) -> Self {
        self.clip_norm = max_norm;
        self
    }
    /// The same options training on the first `n` examples only.
    pub fn train_limit(mut self, n: Option<usize>) -> Self {
        self.train_limit = n;
        self
    }

    /// Checks that the options can be meant.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 {
            bail!("the number of epochs must be at least 1");
        }
        if self.batch_size == 0 {
            bail!("the batch size must be at least 1");
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            bail!(
                "the learning rate must be a positive number, got {}",
                self.learning_rate
            );
        }
        if !(self.adam_epsilon > 0.0 && self.adam_epsilon.is_finite()) {
            bail!(
                "Adam's epsilon must be a positive number, got {}",
                self.adam_epsilon
            );
        }
        if let Some(c) = self.clip_norm
            && !(c > 0.0 && c.is_finite())
        {
            bail!("the clipping norm must be a positive number, got {c}");
        }
        if self.train_limit == Some(0) {
            bail!("the training limit must be at least 1 example");
        }
        Ok(())
    }
}

/// How the learning rate changes over a run of T optimiser steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Lowest validation loss seen so far at the end of an epoch, in the task's unit
    /// ([`Task::score`]: bits/dim for images, nats/step for sequences).
    #[serde(
        default,
        alias = "best_valid_bits_per_dim",
        alias = "best_valid_nats_per_step"
    )]
    pub best_valid: Option<f64>,
    /// The size and digest of each file of the checkpoint this state belongs to (absent in
    /// runs written before checkpoints had them): a file replaced by another run's is found.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, folder::FileDigest>,
}

/// How training reports its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Silent,
    /// A line per epoch only.
    Epochs,
    /// A progress bar on the terminal, and a line per epoch.
    Bar,
    /// A line every 30 seconds and per epoch, for logs.
    Lines,
}

/// What the training loop needs from a family: its model, its loss and its evaluation.
///
/// The loss of a batch B is Σ_{e ∈ B} ℓ(e) / w(B), with w(B) = [`Task::batch_weight`] (the
/// number of dimensions or of scored steps in the batch): the shards of a batch split over
/// devices each return their part, Σ_{e ∈ shard} ℓ(e) / w(B), and the parts add up to it.
pub trait Task: Sync {
    /// The network trained.
    type Model: Module + Sync + 'static;
    /// What an evaluation of the validation split reports.
    type Metrics: Clone + Debug;
    /// What one piece of a batch hands to the next (the recurrent state under truncated
    /// BPTT; `()` for tasks that train a batch in one piece).
    type Carry: Default;

    /// The loop's settings.
    fn options(&self) -> &TrainOptions;
    /// The contents of `config.json` (written when a run folder starts).
    fn config_json(&self) -> String;
    /// A name of the architecture, written into the weights' metadata.
    fn model_name(&self) -> &str;
    /// The model with its initial weights (seeded by [`TrainOptions::seed`]) on `device`.
    fn init_model(&self, device: &Device) -> Self::Model;
    /// The model with unset weights, to load saved ones into.
    fn empty_model(&self, device: &Device) -> Self::Model;
    /// Number of training examples (before [`TrainOptions::train_limit`]).
    fn train_len(&self) -> usize;
    /// Checks that the task can train on `devices` devices (model, data, options agree).
    fn check(&self, _devices: usize) -> Result<()> {
        Ok(())
    }
    /// The settings in which this task differs from the run whose `config.json` is
    /// `saved`, apart from the number of epochs (which a resumed run may raise); see
    /// [`differing_settings`].
    fn differs_from(&self, saved: &str) -> Result<Vec<String>>;
    /// w(B): what the loss of the batch of training examples `batch` is divided by.
    fn batch_weight(&self, batch: &[usize]) -> f64;
    /// The shard's part of the batch loss, Σ_{e ∈ shard} ℓ(e) / `batch_weight`, as a scalar
    /// on `device` (an autodiff device).
    fn shard_loss(
        &self,
        model: &Self::Model,
        shard: &[usize],
        batch_weight: f64,
        device: &Device,
    ) -> Tensor<1>;
    /// The chunking hook: how many optimiser steps the batch takes (1 unless the task cuts
    /// it, as truncated BPTT cuts long sequences into chunks).
    fn pieces(&self, _model: &Self::Model, _batch: &[usize]) -> usize {
        1
    }
    /// Piece `piece` of a batch cut into [`Task::pieces`]: its loss and its weight, or
    /// `None` when it scores nothing. `carry` holds what the previous piece left.
    fn piece_loss(
        &self,
        _model: &Self::Model,
        _batch: &[usize],
        _piece: usize,
        _carry: &mut Self::Carry,
        _device: &Device,
    ) -> Result<Option<(Tensor<1>, f64)>> {
        bail!("this task trains every batch in one piece")
    }
    /// Scores the validation split with `model` (no autodiff) on `device`.
    fn evaluate(&self, model: &Self::Model, device: &Device) -> Self::Metrics;
    /// The validation loss that picks the best weights (lower is better).
    fn score(&self, metrics: &Self::Metrics) -> f64;
    /// The header line of `metrics.csv` (with its newline).
    fn metrics_header(&self) -> &'static str;
    /// One epoch's line of `metrics.csv` (with its newline).
    fn metrics_row(&self, epoch: &Epoch<Self::Metrics>) -> String;
    /// One epoch's line on the terminal.
    fn epoch_summary(&self, epoch: &Epoch<Self::Metrics>) -> String;
    /// The progress bar's message after a step of mean loss `loss` (per unit of weight).
    fn step_message(&self, loss: f64, examples_per_second: f64) -> String {
        format!("loss {loss:.4}, {examples_per_second:.1} examples/s")
    }
}

/// What one epoch measured.
#[derive(Debug, Clone)]
pub struct Epoch<M> {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Of how many.
    pub epochs: usize,
    /// Mean training loss over the epoch, per unit of batch weight (nats per dimension or
    /// per scored step).
    pub train_loss: f64,
    /// Training examples seen.
    pub examples: usize,
    /// Validation metrics at the end of the epoch.
    pub valid: M,
    /// Seconds of training (without validation).
    pub seconds: f64,
}

/// What [`train`] gives back.
#[derive(Debug)]
pub struct Trained<M, R> {
    /// The model with the best validation weights (no autodiff), on the model's device.
    pub model: M,
    /// The model after the last epoch.
    pub last: M,
    /// The epochs of this call.
    pub epochs: Vec<Epoch<R>>,
}

/// The top-level settings in which `current` differs from the config `saved` (read as the
/// same type, so that a config written by an earlier version compares by its meaning), apart
/// from `epochs`.
pub fn differing_settings<C>(current: &C, saved: &str) -> Result<Vec<String>>
where
    C: Serialize + serde::de::DeserializeOwned,
{
    let saved: C = serde_json::from_str(saved)
        .map_err(|e| anyhow::anyhow!("the saved config.json does not describe this run: {e}"))?;
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) = (
        serde_json::to_value(current)?,
        serde_json::to_value(&saved)?,
    ) else {
        bail!("a run config is a JSON object");
    };
    let mut keys: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| k.as_str() != "epochs" && a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
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
fn optimizer(options: &TrainOptions) -> ModuleOptimizer {
    adam::adam(options.adam_epsilon as f32)
}

/// The seed of every device's generator in epoch `epoch`: a resumed run draws its dropout
/// masks as the run that never stopped did.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(1_000_003).wrapping_add(epoch as u64)
}

/// Trains `task`, epoch after epoch, on `devices` (the model lives on the first; with
/// several, each batch is split over them and their gradients are added). With a run folder
/// it writes a checkpoint and a metrics line after each epoch, and `resume` continues the run
/// the folder holds; without one the run lives in memory only. Returns the best and the last
/// model and the epochs of this call.
///
/// The initial weights are drawn on the CPU, so a seed gives the same model whatever the
/// devices.
pub fn train<T: Task>(
    task: &T,
    run: Option<&RunFolder>,
    resume: bool,
    progress: Progress,
    devices: &[Device],
) -> Result<Trained<T::Model, T::Metrics>> {
    train_watched(task, run, resume, progress, devices, &Unwatched)
}

/// Where a run stands after an optimiser step, as a [`Watch`] sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStatus {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Of how many.
    pub epochs: usize,
    /// Batches done in this epoch.
    pub step: usize,
    /// Batches per epoch.
    pub steps: usize,
    /// Mean training loss of the epoch so far (nats per dimension or per scored step).
    pub loss: f64,
    /// Training examples per second in this epoch.
    pub examples_per_second: f64,
}

/// What an epoch measured, as a [`Watch`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochStatus {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Of how many.
    pub epochs: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// The validation score the best weights are chosen by (lower is better).
    pub valid_score: f64,
    /// Seconds of training (without validation).
    pub seconds: f64,
    /// The family's one-line summary of the epoch (what the command line prints).
    pub summary: String,
}

/// An observer of a training run ([`train_watched`]): it sees every step and epoch and can
/// stop the run between two steps (a notebook's Ctrl-C). Stopping returns [`Interrupted`];
/// the run folder keeps its last committed checkpoint.
pub trait Watch {
    /// Called after every optimiser step.
    fn step(&self, _status: &StepStatus) {}
    /// Called after every epoch, once its checkpoint is committed.
    fn epoch(&self, _status: &EpochStatus) {}
    /// Asked before every step: `true` stops the run.
    fn should_stop(&self) -> bool {
        false
    }
}

/// The [`Watch`] that sees nothing and never stops a run.
pub struct Unwatched;

impl Watch for Unwatched {}

/// The error of a run that a [`Watch`] stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Interrupted {
    /// What was stopped and what was kept.
    pub message: String,
}

/// [`train`] under the eyes of `watch`, which sees every step and epoch and may stop the run
/// between two steps.
pub fn train_watched<T: Task>(
    task: &T,
    run: Option<&RunFolder>,
    resume: bool,
    progress: Progress,
    devices: &[Device],
    watch: &dyn Watch,
) -> Result<Trained<T::Model, T::Metrics>> {
    let options = task.options();
    options.validate()?;
    if task.train_len() == 0 {
        bail!("the training part of the data is empty");
    }
    task.check(devices.len())?;
    let devices = parallel::training_devices(devices)?;
    let device = devices[0].clone();
    let inner = device.clone().inner();

    let mut model = task.init_model(&Device::flex().autodiff()).fork(&device);
    let mut optim = optimizer(options);
    let mut state = RunState::default();
    if let Some(run) = run
        && resume
        && !run.config().exists()
    {
        bail!("{} holds no run to resume", run.0.display());
    }
    // The folder's write lock, held until training returns.
    let _lock = match run {
        Some(run) => Some(run.lock()?),
        None => None,
    };
    if let Some(run) = run {
        if resume {
            let saved = std::fs::read_to_string(run.config())
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", run.config().display()))?;
            let differing = task.differs_from(&saved)?;
            if !differing.is_empty() {
                bail!(
                    "{} was trained with other settings ({}); a resumed run keeps its own (only \
                     the number of epochs may change)",
                    run.0.display(),
                    differing.join(", ")
                );
            }
            run.remove_leftovers()?;
            state = run.read_state()?;
            if state.epochs_done > 0 {
                run.verify(&state, &["model.safetensors", "optimizer.bpk"])?;
                model = load_weights(model, &run.last_weights())?;
                optim = run.load_optimizer(optim)?;
            }
        } else {
            if run.config().exists() {
                bail!(
                    "{} already holds a run; resume it, or choose another folder",
                    run.0.display()
                );
            }
            run.remove_leftovers()?;
            write_atomically(&run.config(), task.config_json().as_bytes())?;
        }
    } else if resume {
        bail!("resuming needs a run folder");
    }

    let n_train = options
        .train_limit
        .unwrap_or(usize::MAX)
        .min(task.train_len());
    let steps_per_epoch = n_train.div_ceil(options.batch_size);
    let total_steps = steps_per_epoch * options.epochs;
    let mut best: Option<T::Model> = None;
    let mut epochs = Vec::new();

    for epoch in state.epochs_done + 1..=options.epochs {
        let bar = progress_bar(
            progress == Progress::Bar,
            steps_per_epoch,
            epoch,
            options.epochs,
        );
        let start = Instant::now();
        // Dropout draws come from the device generator, seeded per epoch and held by this
        // loop until the epoch ends. (Replicas sharing one device share its generator, in
        // thread order: with dropout, such a run is not repeatable.)
        let generator = crate::rng::seed_devices(&devices, epoch_seed(options.seed, epoch));
        let order = crate::data::shuffled_indices(n_train, options.seed.wrapping_add(epoch as u64));
        let (mut total, mut weight_seen, mut examples) = (0.0f64, 0.0f64, 0usize);
        let mut last_line = Instant::now();
        for (step, batch) in order.chunks(options.batch_size).enumerate() {
            if watch.should_stop() {
                bar.abandon();
                let kept = kept_checkpoint(run, state.epochs_done)
                    .unwrap_or_else(|| "no checkpoint had been written".to_string());
                return Err(Interrupted {
                    message: format!(
                        "training interrupted at epoch {epoch}, step {}; {kept}",
                        step + 1
                    ),
                }
                .into());
            }
            let pieces = task.pieces(&model, batch);
            let mut carry = T::Carry::default();
            for piece in 0..pieces {
                let (mut grads, value, weight) = if pieces == 1 {
                    let weight = task.batch_weight(batch);
                    if weight == 0.0 {
                        continue;
                    }
                    let (grads, value) = parallel::batch_gradients(
                        &model,
                        &devices,
                        batch,
                        |model, shard, device| task.shard_loss(model, shard, weight, device),
                    );
                    (grads, value, weight)
                } else {
                    let Some((loss, weight)) =
                        task.piece_loss(&model, batch, piece, &mut carry, &device)?
                    else {
                        continue;
                    };
                    let value = loss.clone().into_scalar::<f64>();
                    (
                        GradientsParams::from_grads(loss.backward(), &model),
                        value,
                        weight,
                    )
                };
                if !value.is_finite() {
                    bar.abandon();
                    let kept = match (run, state.epochs_done) {
                        (Some(run), done) if done > 0 => format!(
                            "the last good checkpoint (end of epoch {done}) is kept in {}",
                            run.0.display()
                        ),
                        _ => "no checkpoint was written".to_string(),
                    };
                    bail!(
                        "the training loss became {value} at epoch {epoch}, step {}; training \
                         stopped: {kept}. Try a lower --lr or --clip-norm.",
                        state.steps + 1
                    );
                }
                if let Some(max_norm) = options.clip_norm {
                    clip_global_norm(&model, &mut grads, max_norm);
                }
                let lr = options.lr_schedule.rate(
                    options.learning_rate,
                    state.steps,
                    total_steps * pieces,
                );
                model = optim.step(lr, model, grads);
                state.steps += 1;
                total += value * weight;
                weight_seen += weight;
            }
            examples += batch.len();
            let rate = examples as f64 / start.elapsed().as_secs_f64();
            let message = task.step_message(total / weight_seen.max(1e-300), rate);
            bar.set_message(message.clone());
            bar.inc(1);
            watch.step(&StepStatus {
                epoch,
                epochs: options.epochs,
                step: step + 1,
                steps: steps_per_epoch,
                loss: total / weight_seen.max(1e-300),
                examples_per_second: rate,
            });
            // Without a terminal (a log file), a line every half minute instead of the bar.
            if progress == Progress::Lines && last_line.elapsed().as_secs_f64() >= 30.0 {
                let done = examples as f64 / n_train as f64;
                let eta = start.elapsed().as_secs_f64() * (1.0 - done) / done.max(1e-9);
                eprintln!(
                    "epoch {epoch}: {:.1}% {message}, ETA {eta:.0}s",
                    100.0 * done
                );
                last_line = Instant::now();
            }
        }
        drop(generator);
        let seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();

        let valid_model = model.valid();
        let valid = task.evaluate(&valid_model, &inner);
        let score = task.score(&valid);
        if !score.is_finite() {
            let kept = kept_checkpoint(run, state.epochs_done)
                .unwrap_or_else(|| "no checkpoint was written".to_string());
            bail!(
                "the validation loss became {score} after epoch {epoch}: the weights are no \
                 longer finite, and they were not saved; {kept}. Try a lower --lr or --clip-norm."
            );
        }
        state.epochs_done = epoch;
        let improved = state.best_valid.is_none_or(|b| score < b);
        if improved {
            state.best_valid = Some(score);
        }
        let report = Epoch {
            epoch,
            epochs: options.epochs,
            train_loss: total / weight_seen.max(1e-300),
            examples,
            valid,
            seconds,
        };
        if let Some(run) = run {
            let last = weights_to_bytes(&model, task.model_name())?;
            let optimizer = optim
                .into_bytes()
                .map_err(|e| anyhow::anyhow!("cannot serialise the optimiser: {e}"))?;
            run.commit(&Checkpoint {
                epoch,
                last: &last,
                best: improved.then_some(last.as_slice()),
                optimizer: &optimizer,
                state: &state,
                metrics_header: task.metrics_header(),
                metrics_row: &task.metrics_row(&report),
            })?;
        }
        if improved {
            best = Some(valid_model);
        }
        let summary = task.epoch_summary(&report);
        if progress != Progress::Silent {
            eprintln!("{summary}");
        }
        watch.epoch(&EpochStatus {
            epoch,
            epochs: options.epochs,
            train_loss: report.train_loss,
            valid_score: score,
            seconds,
            summary,
        });
        epochs.push(report);
    }
    let last = model.valid();
    let best = match best {
        Some(best) => best,
        None => match run {
            Some(run) if run.best_weights().exists() => {
                load_weights(task.empty_model(&inner), &run.best_weights())?
            }
            _ => last.clone(),
        },
    };
    Ok(Trained {
        model: best,
        last,
        epochs,
    })
}

/// "the checkpoint of epoch N is kept in DIR" when a run folder holds one after `done`
/// epochs: what a stopped run says it keeps.
fn kept_checkpoint(run: Option<&RunFolder>, done: usize) -> Option<String> {
    match run {
        Some(run) if done > 0 => Some(format!(
            "the checkpoint of epoch {done} is kept in {}",
            run.0.display()
        )),
        _ => None,
    }
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
