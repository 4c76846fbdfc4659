//! Training and evaluation of the neural sequence models, with the run-folder conventions
//! of [`crate::train`]: `config.json` (every setting, [`SequenceTrainingConfig`], with
//! `"kind": "sequence"` so that `argen eval` and `argen sample` recognise the run),
//! `model.safetensors`, `best.safetensors`, `optimizer.bpk`, `state.json`, `metrics.csv`,
//! each written atomically; `--resume` continues a run where it stopped.
//!
//! The loss is the mean over the scored steps of −log p(x_t | x_<t, h) (nats per step).
//! Recurrent models train with truncated backpropagation through time when `tbptt` is set:
//! each batch is cut into chunks of that many steps, each chunk starts from the state the
//! previous one ended in (cut from the graph), and the optimiser steps after every chunk.
//! Gradients can be clipped by their global L2 norm ([`crate::train::clip_global_norm`]).

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::checkpoint::{load_weights, save_weights, write_atomically};
use super::{LrSchedule, RunFolder, clip_global_norm, parallel};
use crate::data::sequences::{SeqExample, SequenceData, load_sequences};
use crate::distributions::{OutputDistribution, Target};
use crate::models::rnn::shift_right;
use crate::models::{SequenceModel, SequenceModelConfig};

/// Name written into the weights' metadata.
pub const MODEL_NAME: &str = "sequence-model";
/// The value of `kind` in the `config.json` of a sequence run.
pub const RUN_KIND: &str = "sequence";

/// Every setting of a sequence training run; saved as `config.json`.
#[derive(Config, Debug)]
pub struct SequenceTrainingConfig {
    /// Always [`RUN_KIND`]: marks the run folder as a sequence run.
    pub kind: String,
    /// The network and its output distribution.
    pub model: SequenceModelConfig,
    /// The data set, as given to `--data`.
    pub data: String,
    /// Passes over the training set.
    #[config(default = 10)]
    pub epochs: usize,
    /// Sequences per optimiser step.
    #[config(default = 32)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Adam's epsilon.
    #[config(default = 1e-8)]
    pub adam_epsilon: f64,
    /// Clip the gradient to this global L2 norm.
    #[config(default = "None")]
    pub clip_norm: Option<f64>,
    /// Recurrent models: truncated BPTT chunk length (`None`: the whole sequence).
    #[config(default = "None")]
    pub tbptt: Option<usize>,
    /// Seed of the initial weights and the batch order.
    #[config(default = 0)]
    pub seed: u64,
    /// Train on the first N training sequences only.
    #[config(default = "None")]
    pub train_limit: Option<usize>,
    /// How the learning rate changes over the run.
    #[config(default = "LrSchedule::Constant")]
    pub lr_schedule: LrSchedule,
}

/// Whether `run` holds a sequence run (its `config.json` has `"kind": "sequence"`).
pub fn is_sequence_run(run: &Path) -> bool {
    fs::read_to_string(run.join("config.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|v| v.get("kind").and_then(|k| k.as_str()) == Some(RUN_KIND))
}

/// Progress of a run; saved as `state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SequenceRunState {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Lowest validation nats per step so far.
    pub best_valid_nats_per_step: Option<f64>,
}

/// What an evaluation measured.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SequenceMetrics {
    /// Mean −log p over the scored steps (nats; summed over a step's dimensions).
    pub nats_per_step: f64,
    /// The same mean without each sequence's step 0, which is predicted from nothing: the
    /// protocol of Bai et al. (2018) on piano rolls, whose networks predict x_1.. from x_0...
    pub nats_per_step_after_first: f64,
    /// Mean over the sequences of the summed −log p of their scored steps.
    pub nats_per_sequence: f64,
    /// Scored steps.
    pub steps: usize,
    /// Sequences.
    pub sequences: usize,
    /// Gaussian outputs: mean squared error of the predicted means (original units).
    pub mse: Option<f64>,
    /// Copy memory: fraction of the final digits recalled by the most likely level.
    pub accuracy: Option<f64>,
    /// Copy memory: the same fraction for each recalled position (first digit first).
    pub recall_by_position: Vec<f64>,
}

/// One batch as tensors: inputs [B, C, T], targets, mask [B, T], labels [B].
pub struct SequenceBatch {
    /// Encoded inputs.
    pub inputs: Tensor<3>,
    /// Targets.
    pub target: Target,
    /// 1 where a step is scored.
    pub mask: Tensor<2>,
    /// Classes.
    pub labels: Tensor<1, Int>,
    /// Steps T (the longest sequence of the batch; shorter ones are padded and masked).
    pub time: usize,
}

/// Builds the batch of `examples` (padded to the longest, padding masked out).
pub fn sequence_batch(
    data: &SequenceData,
    examples: &[&SeqExample],
    device: &Device,
) -> SequenceBatch {
    let dims = data.output.dims();
    let in_dims = data.input_encoding.dims();
    let channels = data.input_channels();
    let time = examples.iter().map(|e| e.len(dims)).max().unwrap_or(1);
    let b = examples.len();
    let mut inputs = vec![0f32; b * time * channels];
    let mut targets = vec![0f32; b * time * dims];
    let mut mask = vec![0f32; b * time];
    let mut labels = Vec::with_capacity(b);
    let mut encoded = Vec::with_capacity(channels);
    for (i, e) in examples.iter().enumerate() {
        let len = e.len(dims);
        targets[i * time * dims..i * time * dims + len * dims].copy_from_slice(&e.targets);
        for t in 0..len {
            mask[i * time + t] = e.mask.as_ref().map_or(1.0, |m| m[t]);
            encoded.clear();
            match &e.inputs {
                Some(x) => data
                    .input_encoding
                    .encode_step(&x[t * in_dims..(t + 1) * in_dims], &mut encoded),
                None => data
                    .output
                    .encode_step(&e.targets[t * dims..(t + 1) * dims], &mut encoded),
            }
            for (c, v) in encoded.iter().enumerate() {
                inputs[(i * channels + c) * time + t] = *v;
            }
        }
        labels.push(e.label as i64);
    }
    SequenceBatch {
        inputs: Tensor::from_data(TensorData::new(inputs, [b, channels, time]), device),
        target: data.output.target(targets, b, time, device),
        mask: Tensor::from_data(TensorData::new(mask, [b, time]), device),
        labels: Tensor::from_data(TensorData::new(labels, [b]), device),
        time,
    }
}

fn labels_for(model: &SequenceModelConfig, labels: Tensor<1, Int>) -> Option<Tensor<1, Int>> {
    model.num_classes.is_some().then_some(labels)
}

/// Scores `set` with `model` (no autodiff), in batches.
pub fn evaluate_sequences(
    config: &SequenceModelConfig,
    model: &SequenceModel,
    data: &SequenceData,
    set: &[SeqExample],
    batch_size: usize,
    device: &Device,
) -> SequenceMetrics {
    let (mut nats, mut steps, mut sq) = (0.0, 0.0, 0.0);
    // −log p and count of the scored steps 0.
    let (mut first_nats, mut first_steps) = (0.0, 0.0);
    // Copy memory: correct recalls per position, over `set.len()` sequences each.
    let mut correct_at = vec![0usize; data.recall_last];
    let refs: Vec<&SeqExample> = set.iter().collect();
    for chunk in refs.chunks(batch_size.max(1)) {
        let batch = sequence_batch(data, chunk, device);
        let features = model.forward(
            batch.inputs.clone(),
            labels_for(config, batch.labels.clone()),
        );
        let lp = data.output.log_prob(features.clone(), &batch.target);
        let first_mask = batch.mask.clone().narrow(1, 0, 1);
        first_nats -= (lp.clone().narrow(1, 0, 1) * first_mask.clone())
            .sum()
            .into_scalar::<f64>();
        first_steps += first_mask.sum().into_scalar::<f64>();
        nats -= (lp * batch.mask.clone()).sum().into_scalar::<f64>();
        steps += batch.mask.clone().sum().into_scalar::<f64>();
        if let (OutputDistribution::Gaussian { dims, .. }, Target::Values(x)) =
            (data.output, &batch.target)
        {
            let [b, _, t] = features.dims();
            let err = (features.narrow(1, 0, dims) - x.clone())
                .powi_scalar(2)
                .sum_dim(1);
            sq += (err.reshape([b, t]) * batch.mask.clone())
                .sum()
                .into_scalar::<f64>();
        } else if data.recall_last > 0 {
            let [b, _, t] = features.dims();
            let predicted: Vec<i64> = features
                .argmax(1)
                .into_data()
                .convert::<i64>()
                .iter::<i64>()
                .collect();
            if let Target::Levels(x) = &batch.target {
                let truth: Vec<i64> = x
                    .clone()
                    .into_data()
                    .convert::<i64>()
                    .iter::<i64>()
                    .collect();
                let lengths: Vec<usize> = chunk.iter().map(|e| e.len(1)).collect();
                count_recalls(&predicted, &truth, t, &lengths[..b], &mut correct_at);
            }
        }
    }
    let scale2 = data.scale.map_or(1.0, |(_, s)| s * s);
    SequenceMetrics {
        nats_per_step: nats / steps.max(1.0),
        nats_per_step_after_first: (nats - first_nats) / (steps - first_steps).max(1.0),
        nats_per_sequence: nats / set.len().max(1) as f64,
        steps: steps as usize,
        sequences: set.len(),
        mse: matches!(data.output, OutputDistribution::Gaussian { .. })
            .then(|| sq * scale2 / steps.max(1.0)),
        accuracy: (!correct_at.is_empty() && !set.is_empty()).then(|| {
            correct_at.iter().sum::<usize>() as f64 / (correct_at.len() * set.len()) as f64
        }),
        recall_by_position: correct_at
            .iter()
            .map(|&c| c as f64 / set.len().max(1) as f64)
            .collect(),
    }
}

/// Adds, for each of the last `correct_at.len()` steps of every sequence, whether the most
/// likely level equals the target: `predicted` and `truth` are [sequence][step] with `steps`
/// steps a row, and sequence i ends at `lengths[i]` (shorter ones are padded).
fn count_recalls(
    predicted: &[i64],
    truth: &[i64],
    steps: usize,
    lengths: &[usize],
    correct_at: &mut [usize],
) {
    let recall = correct_at.len();
    for (i, &len) in lengths.iter().enumerate() {
        for (k, s) in (len - recall..len).enumerate() {
            correct_at[k] += usize::from(predicted[i * steps + s] == truth[i * steps + s]);
        }
    }
}

/// Reads a sequence run's config.
pub fn read_config(run: &RunFolder) -> Result<SequenceTrainingConfig> {
    let config: SequenceTrainingConfig = run.read_config_as("sequence run")?;
    config
        .model
        .validate()
        .map_err(|e| anyhow::anyhow!("{}: {e}", run.config().display()))?;
    Ok(config)
}

/// Builds a run's model and loads its best (or last) weights.
pub fn load_run(
    run: &RunFolder,
    best: bool,
    device: &Device,
) -> Result<(SequenceTrainingConfig, SequenceModel)> {
    let config = read_config(run)?;
    let path = if best && run.best_weights().exists() {
        run.best_weights()
    } else {
        run.last_weights()
    };
    let model = load_weights(config.model.init(device), &path)?;
    Ok((config, model))
}

/// Loads the data set of a config, checking that it fits the model.
pub fn load_data(config: &SequenceTrainingConfig) -> Result<SequenceData> {
    let mut data = load_sequences(&config.data)?;
    // The model's distribution replaces the data's own where it may stand for it (a mixture
    // of logistics for a softmax, a unit-variance Gaussian for a learned-variance one).
    if config.model.output.can_stand_for(data.output) {
        data.output = config.model.output;
    }
    if data.output != config.model.output || data.input_channels() != config.model.input_channels {
        bail!(
            "the data {} no longer fits the run's model (its alphabet or format changed)",
            config.data
        );
    }
    Ok(data)
}

/// What one epoch measured.
#[derive(Debug, Clone)]
pub struct SequenceEpoch {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss (nats per scored step).
    pub train_nats_per_step: f64,
    /// Validation metrics.
    pub valid: SequenceMetrics,
    /// Seconds of training.
    pub seconds: f64,
}

const METRICS_HEADER: &str = "epoch,train_nats_per_step,valid_nats_per_step,valid_nats_per_sequence,valid_mse,valid_accuracy,seconds\n";

/// Trains `config` into `run` on this machine's CPU: [`train_sequences_on`] with the CPU only.
pub fn train_sequences(
    config: &SequenceTrainingConfig,
    data: &SequenceData,
    run: &RunFolder,
    resume: bool,
    log: bool,
) -> Result<Vec<SequenceEpoch>> {
    train_sequences_on(config, data, run, resume, log, &[Device::flex()])
}

/// The number of scored steps of `e` (its mask's sum, or its length).
fn scored_steps(e: &SeqExample, dims: usize) -> f64 {
    match &e.mask {
        Some(mask) => mask.iter().map(|&m| f64::from(m)).sum(),
        None => e.len(dims) as f64,
    }
}

/// Trains `config` into `run` (new, or continued when `resume`); `log` prints a line per
/// epoch to stderr. The model lives on `devices[0]`; with several devices each batch is split
/// over them ([`super::parallel::batch_gradients`]). Initial weights are drawn on the CPU.
pub fn train_sequences_on(
    config: &SequenceTrainingConfig,
    data: &SequenceData,
    run: &RunFolder,
    resume: bool,
    log: bool,
    devices: &[Device],
) -> Result<Vec<SequenceEpoch>> {
    config.model.validate().map_err(anyhow::Error::msg)?;
    if config.batch_size == 0 {
        bail!("the batch size must be at least 1");
    }
    if config.tbptt == Some(0) {
        bail!("the truncated BPTT length must be at least 1");
    }
    if data.train.is_empty() || data.valid.is_empty() {
        bail!(
            "the data set {} has an empty training or validation part",
            data.name
        );
    }
    let dims = data.output.dims();
    if let Some(r) = config.model.receptive_field()
        && config.model.kind == crate::models::SequenceModelKind::Mlp
    {
        let shortest = data.train.iter().map(|e| e.len(dims)).min().unwrap_or(0);
        if shortest <= r {
            bail!(
                "the training sequences of {} are {shortest} steps long: too short for a window of {r} (need more than {r})",
                data.name
            );
        }
    }
    if devices.len() > 1 && config.tbptt.is_some() {
        bail!(
            "--tbptt trains chunk after chunk on one device; it cannot be split over {} devices",
            devices.len()
        );
    }
    let devices = parallel::training_devices(devices)?;
    let device = devices[0].clone();
    fs::create_dir_all(&run.0).with_context(|| format!("cannot create {}", run.0.display()))?;
    let mut model = config
        .model
        .init_seeded(config.seed, &Device::flex().autodiff())
        .fork(&device);
    let mut optim: ModuleOptimizer = AdamConfig::new()
        .with_epsilon(config.adam_epsilon as f32)
        .init();
    let mut state = SequenceRunState::default();
    if resume {
        let text = fs::read_to_string(run.state()).unwrap_or_default();
        if !text.is_empty() {
            state = serde_json::from_str(&text)
                .with_context(|| format!("{} is corrupt", run.state().display()))?;
        }
        if state.epochs_done > 0 {
            model = load_weights(model, &run.last_weights())?;
            optim = run.load_optimizer(optim)?;
        }
    } else {
        write_atomically(&run.config(), config.to_string().as_bytes())?;
        write_atomically(&run.metrics(), METRICS_HEADER.as_bytes())?;
    }
    let n_train = config
        .train_limit
        .unwrap_or(data.train.len())
        .min(data.train.len());
    let steps_per_epoch = n_train.div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let mut reports = Vec::new();
    for epoch in state.epochs_done + 1..=config.epochs {
        let start = Instant::now();
        let order = crate::data::shuffled_indices(n_train, config.seed.wrapping_add(epoch as u64));
        let (mut total, mut count) = (0.0f64, 0usize);
        for chunk in order.chunks(config.batch_size) {
            let examples: Vec<&SeqExample> = chunk.iter().map(|&i| &data.train[i]).collect();
            let time = examples.iter().map(|e| e.len(dims)).max().unwrap_or(1);
            let pieces = match (&model, config.tbptt) {
                (SequenceModel::Rnn(_), Some(k)) if k < time => time.div_ceil(k),
                _ => 1,
            };
            // One optimiser step per batch, or per chunk of `k` steps with truncated BPTT (each
            // chunk starts from the state the previous one left, detached, on the updated model).
            let mut rnn_state = None;
            let mut shifted_batch = None;
            for piece in 0..pieces {
                let (grads, value, scored) = if pieces == 1 {
                    // Each shard adds its masked NLL over the whole batch's scored steps.
                    let scored: f64 = examples.iter().map(|e| scored_steps(e, dims)).sum();
                    if scored == 0.0 {
                        continue;
                    }
                    let (grads, value) = parallel::batch_gradients(
                        &model,
                        &devices,
                        &examples,
                        |model, shard, device| {
                            let batch = sequence_batch(data, shard, device);
                            let labels = labels_for(&config.model, batch.labels.clone());
                            let features = model.forward(batch.inputs.clone(), labels);
                            (data.output.log_prob(features, &batch.target) * batch.mask)
                                .sum()
                                .neg()
                                .div_scalar(scored)
                        },
                    );
                    (grads, value, scored)
                } else {
                    let SequenceModel::Rnn(rnn) = &model else {
                        unreachable!("only recurrent models are chunked")
                    };
                    let k = config.tbptt.expect("chunked");
                    let (batch, shifted) = shifted_batch.get_or_insert_with(|| {
                        let batch = sequence_batch(data, &examples, &device);
                        let shifted = shift_right(batch.inputs.clone());
                        (batch, shifted)
                    });
                    let labels = labels_for(&config.model, batch.labels.clone());
                    let from = piece * k;
                    let len = k.min(batch.time - from);
                    let (features, s) = rnn.forward_chunk(
                        shifted.clone().narrow(2, from, len),
                        labels.as_ref(),
                        rnn_state.take(),
                    );
                    rnn_state = Some(s.detach());
                    let target = match &batch.target {
                        Target::Levels(x) => Target::Levels(x.clone().narrow(1, from, len)),
                        Target::Values(x) => Target::Values(x.clone().narrow(2, from, len)),
                    };
                    let mask = batch.mask.clone().narrow(1, from, len);
                    let scored = mask.clone().sum().into_scalar::<f64>();
                    if scored == 0.0 {
                        continue;
                    }
                    let loss = (data.output.log_prob(features, &target) * mask)
                        .sum()
                        .neg()
                        .div_scalar(scored);
                    let value = loss.clone().into_scalar::<f64>();
                    (
                        GradientsParams::from_grads(loss.backward(), &model),
                        value,
                        scored,
                    )
                };
                if !value.is_finite() {
                    bail!(
                        "the training loss became {value} at epoch {epoch}; training stopped. The last good checkpoint (end of epoch {}) is kept in {}. Try a lower --lr or --clip-norm.",
                        state.epochs_done,
                        run.0.display()
                    );
                }
                let mut grads = grads;
                if let Some(max_norm) = config.clip_norm {
                    clip_global_norm(&model, &mut grads, max_norm);
                }
                let lr = config.lr_schedule.rate(
                    config.learning_rate,
                    state.steps,
                    total_steps * pieces,
                );
                model = optim.step(lr, model, grads);
                state.steps += 1;
                total += value * scored;
                count += scored as usize;
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let valid = evaluate_sequences(
            &config.model,
            &model.valid(),
            data,
            &data.valid,
            256,
            &device.clone().inner(),
        );
        state.epochs_done = epoch;
        save_weights(&model, MODEL_NAME, &run.last_weights())?;
        run.save_optimizer(&optim)?;
        if state
            .best_valid_nats_per_step
            .is_none_or(|b| valid.nats_per_step < b)
        {
            state.best_valid_nats_per_step = Some(valid.nats_per_step);
            save_weights(&model, MODEL_NAME, &run.best_weights())?;
        }
        write_atomically(
            &run.state(),
            serde_json::to_string_pretty(&state)?.as_bytes(),
        )?;
        let train_nats = total / count.max(1) as f64;
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        let line = format!(
            "{epoch},{train_nats:.6},{:.6},{:.6},{},{},{seconds:.3}\n",
            valid.nats_per_step,
            valid.nats_per_sequence,
            opt(valid.mse),
            opt(valid.accuracy)
        );
        run.append_metrics(METRICS_HEADER, &line)?;
        if log {
            let extra = valid
                .mse
                .map(|m| format!(", valid MSE {m:.5}"))
                .unwrap_or_default()
                + &valid
                    .accuracy
                    .map(|a| format!(", valid recall {:.2}%", 100.0 * a))
                    .unwrap_or_default();
            eprintln!(
                "epoch {epoch}/{}: train {train_nats:.4} nats/step, valid {:.4} nats/step ({:.3} nats/sequence){extra}, {seconds:.1}s",
                config.epochs, valid.nats_per_step, valid.nats_per_sequence
            );
        }
        reports.push(SequenceEpoch {
            epoch,
            train_nats_per_step: train_nats,
            valid,
            seconds,
        });
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::count_recalls;

    #[test]
    fn recalls_are_counted_at_the_last_steps_of_each_sequence() {
        // Two sequences in rows of 6 steps; the second is 5 steps long (one step of padding).
        // The last 3 steps are recalled: sequence 0 gets its 1st and 3rd right, sequence 1 its
        // 1st and 2nd; the padding step and the steps before the recall are not counted.
        let truth = [9, 9, 9, 1, 2, 3, 9, 9, 4, 5, 6, 0];
        let predicted = [0, 0, 0, 1, 0, 3, 0, 0, 4, 5, 0, 6];
        let mut correct_at = vec![0; 3];
        count_recalls(&predicted, &truth, 6, &[6, 5], &mut correct_at);
        assert_eq!(correct_at, vec![2, 1, 1]);
    }
}
