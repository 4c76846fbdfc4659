//! The sequence family's training task: a window MLP, GRU/LSTM, WaveNet or TCN on
//! sequence data, its loss in nats per scored step, and the metrics of a split.
//!
//! The loss is the mean over the scored steps of −log p(x_t | x_<t, h) (nats per step).
//! Recurrent models train with truncated backpropagation through time when `tbptt` is set:
//! the task cuts each batch into chunks of that many steps ([`Task::pieces`]), each chunk
//! starts from the state the previous one ended in (cut from the graph), and the optimiser
//! steps after every chunk.

use anyhow::{Result, bail};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::folder::RunKind;
use super::{Epoch, Progress, RunFolder, Task, TrainOptions, Trained};
use crate::data::audio::AudioSpec;
use crate::data::midi::MidiSpec;
use crate::data::sequences::{SeqExample, SequenceData, load_sequences_with};
use crate::distributions::{OutputDistribution, Target};
use crate::models::rnn::{RnnState, shift_right};
use crate::models::{Condition, SequenceModel, SequenceModelConfig};

/// Name written into the weights' metadata.
pub const MODEL_NAME: &str = "sequence-model";

/// Every setting of a sequence training run; saved as `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceTrainingConfig {
    /// Always [`RunKind::Sequence`]: marks the run folder as a sequence run.
    pub kind: RunKind,
    /// The network and its output distribution.
    pub model: SequenceModelConfig,
    /// The data set, as given to `--data`.
    pub data: String,
    /// Recurrent models: truncated BPTT chunk length (`None`: the whole sequence).
    #[serde(default)]
    pub tbptt: Option<usize>,
    /// The conditioning vectors (`vectors:FILE`, the path absolute), one row per sequence
    /// in the data's order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Per-step covariates read from the CSV of `data` (`csv:FILE:TARGET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariates: Option<CovariateSpec>,
    /// Sound (`wav:DIR`): the sample rate, training window and level mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSpec>,
    /// MIDI files (`midi:DIR`): the grid the notes are quantised to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub midi: Option<MidiSpec>,
    /// The training loop's settings.
    #[serde(flatten)]
    pub training: TrainOptions,
}

/// Which covariate columns a series run reads, and whether step t may read c_{t+1}.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CovariateSpec {
    /// The columns of the data's CSV file, in order.
    pub columns: Vec<String>,
    /// Calendar features, planned prices: step t reads c_{t+1} as well as c_≤t.
    #[serde(default)]
    pub known_ahead: bool,
}

impl CovariateSpec {
    /// Values a step reads: one per column, two when known ahead.
    pub fn width(&self) -> usize {
        self.columns.len() * if self.known_ahead { 2 } else { 1 }
    }
}

/// The series `data` (`csv:FILE:TARGET`) with the covariates of `spec`.
pub fn load_with_covariates(data: &str, spec: &CovariateSpec) -> Result<SequenceData> {
    let source: crate::data::series::SeriesSource = data.parse()?;
    let crate::data::series::SeriesSource::Csv { path, column } = &source else {
        bail!("--covariates reads columns of a CSV file: use --data csv:FILE:TARGET, not {data}");
    };
    let series = crate::data::series::load_csv_with_covariates(path, column, &spec.columns)?;
    Ok(SequenceData::with_covariates(
        &source.to_string(),
        &series.target,
        &series.covariates,
        spec.columns.clone(),
        spec.known_ahead,
    )?)
}

impl SequenceTrainingConfig {
    /// A run of `model` on `data` with `training` (no truncated BPTT).
    pub fn new(
        model: SequenceModelConfig,
        data: impl Into<String>,
        training: TrainOptions,
    ) -> Self {
        Self {
            kind: RunKind::Sequence,
            model,
            data: data.into(),
            tbptt: None,
            condition: None,
            covariates: None,
            audio: None,
            midi: None,
            training,
        }
    }

    /// The same run reading sound with `spec` (for `wav:DIR` data).
    pub fn with_audio(mut self, spec: Option<AudioSpec>) -> Self {
        self.audio = spec;
        self
    }

    /// The same run reading MIDI files with `spec` (for `midi:DIR` data).
    pub fn with_midi(mut self, spec: Option<MidiSpec>) -> Self {
        self.midi = spec;
        self
    }

    /// The same run conditioned on the vectors of `spec` (`vectors:FILE`) of `dim` values.
    pub fn with_vectors(mut self, spec: Option<String>, dim: Option<usize>) -> Self {
        self.model.vector_dim = dim.filter(|_| spec.is_some());
        self.condition = spec;
        self
    }

    /// The same run reading the covariates of `spec` (and a model that reads them).
    pub fn with_covariates(mut self, spec: Option<CovariateSpec>) -> Self {
        self.model.covariates = spec.as_ref().map(CovariateSpec::width);
        self.covariates = spec;
        self
    }

    /// The same run with truncated BPTT in chunks of `k` steps.
    pub fn with_tbptt(mut self, k: Option<usize>) -> Self {
        self.tbptt = k;
        self
    }

    /// Reads and checks the `config.json` of a sequence run.
    pub fn read(run: &RunFolder) -> Result<Self> {
        let config: Self = run.read_config_as("sequence run")?;
        config
            .model
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.config().display()))?;
        config
            .training
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.config().display()))?;
        Ok(config)
    }

    /// The run's model with the weights of `run` (the best validation weights when `best`).
    pub fn load_model(
        &self,
        run: &RunFolder,
        best: bool,
        device: &Device,
    ) -> Result<SequenceModel> {
        run.verify_weights(best)?;
        super::load_weights(self.model.init(device), &run.weights(best))
    }
}

/// The default number of epochs of a sequence run.
pub const DEFAULT_EPOCHS: usize = 10;

/// The default global clipping norm of a sequence model: 1 for the recurrent networks,
/// none for the others.
pub fn default_clip_norm(model: &SequenceModelConfig) -> Option<f64> {
    model.is_recurrent().then_some(1.0)
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

impl std::fmt::Display for SequenceMetrics {
    /// One line for a person: nats per step and per sequence, and what applies of the
    /// rest.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.4} nats/step, {:.3} nats/sequence ({} sequences, {} steps)",
            self.nats_per_step, self.nats_per_sequence, self.sequences, self.steps
        )?;
        if (self.nats_per_step_after_first - self.nats_per_step).abs() > 1e-9 {
            write!(
                f,
                " ({:.4} nats/step after each sequence's first step)",
                self.nats_per_step_after_first
            )?;
        }
        if let Some(mse) = self.mse {
            write!(f, ", MSE {mse:.5}")?;
        }
        if let Some(a) = self.accuracy {
            let by_position: Vec<String> = self
                .recall_by_position
                .iter()
                .map(|r| format!("{:.1}", 100.0 * r))
                .collect();
            write!(
                f,
                ", recall {:.2}% (by position, %: {})",
                100.0 * a,
                by_position.join(" ")
            )?;
        }
        Ok(())
    }
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
    /// The sequences' conditioning vectors [B, D], when the data has them.
    pub vectors: Option<Tensor<2>>,
    /// Per-step covariates [B, width, T] (what step t reads; zeros past a sequence's end),
    /// when the data has them.
    pub covariates: Option<Tensor<3>>,
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
    let width = data.covariates.as_ref().map_or(0, |c| c.width());
    let mut covariates = vec![0f32; b * width * time];
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
        if let Some(c) = &e.covariates {
            for t in 0..len.min(c.len() / width.max(1)) {
                for j in 0..width {
                    covariates[(i * width + j) * time + t] = c[t * width + j];
                }
            }
        }
    }
    let vector_dim = examples
        .first()
        .and_then(|e| e.vector.as_ref())
        .map(Vec::len);
    let vectors = vector_dim.map(|d| {
        let values: Vec<f32> = examples
            .iter()
            .flat_map(|e| {
                e.vector
                    .clone()
                    .expect("every example of a vector data set has its vector")
            })
            .collect();
        Tensor::from_data(TensorData::new(values, [b, d]), device)
    });
    SequenceBatch {
        vectors,
        covariates: (width > 0)
            .then(|| Tensor::from_data(TensorData::new(covariates, [b, width, time]), device)),
        inputs: Tensor::from_data(TensorData::new(inputs, [b, channels, time]), device),
        target: data.output.target(targets, b, time, device),
        mask: Tensor::from_data(TensorData::new(mask, [b, time]), device),
        labels: Tensor::from_data(TensorData::new(labels, [b]), device),
        time,
    }
}

/// The batch's conditioning h, when the model is conditional: its classes or its vectors.
fn condition_for(model: &SequenceModelConfig, batch: &SequenceBatch) -> Option<Condition> {
    match (model.num_classes, model.vector_dim, &batch.vectors) {
        (Some(_), _, _) => Some(Condition::Classes(batch.labels.clone())),
        (None, Some(_), Some(v)) => Some(Condition::Vectors(v.clone())),
        _ => None,
    }
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
        let features = model.forward_with_covariates(
            batch.inputs.clone(),
            condition_for(config, &batch),
            batch.covariates.as_ref(),
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

/// log p(x) of each example of `set` under `model`: the sum over its scored steps, in
/// nats, in the units the model reads (a real series standardised by `data.scale`), in
/// batches of `batch_size`.
pub fn sequence_log_probs(
    config: &SequenceModelConfig,
    model: &SequenceModel,
    data: &SequenceData,
    set: &[SeqExample],
    batch_size: usize,
    device: &Device,
) -> Vec<f64> {
    let refs: Vec<&SeqExample> = set.iter().collect();
    let mut out = Vec::with_capacity(set.len());
    for chunk in refs.chunks(batch_size.max(1)) {
        let batch = sequence_batch(data, chunk, device);
        let features = model.forward_with_covariates(
            batch.inputs.clone(),
            condition_for(config, &batch),
            batch.covariates.as_ref(),
        );
        let lp = data.output.log_prob(features, &batch.target) * batch.mask.clone();
        out.extend(lp.sum_dim(1).into_data().convert::<f64>().iter::<f64>());
    }
    out
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

/// Loads the data set of a config, checking that it fits the model.
pub fn load_data(config: &SequenceTrainingConfig) -> Result<SequenceData> {
    let mut data = match &config.covariates {
        Some(spec) => load_with_covariates(&config.data, spec)?,
        None => load_sequences_with(&config.data, config.audio.as_ref(), config.midi.as_ref())?,
    };
    if let Some(spec) = &config.condition {
        data = data.with_vectors(&super::image::read_vectors(spec)?)?;
    }
    let dim = data
        .train
        .first()
        .and_then(|e| e.vector.as_ref())
        .map(Vec::len);
    if dim != config.model.vector_dim {
        bail!(
            "the run's model reads conditioning vectors of {:?} values but its data gives {dim:?}",
            config.model.vector_dim
        );
    }
    let width = data.covariates.as_ref().map(|c| c.width());
    if width != config.model.covariates {
        bail!(
            "the run's model reads {:?} covariate values per step but its data gives {width:?}",
            config.model.covariates
        );
    }
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

const METRICS_HEADER: &str = "epoch,train_nats_per_step,valid_nats_per_step,valid_nats_per_sequence,valid_mse,valid_accuracy,seconds\n";

/// The number of scored steps of `e` (its mask's sum, or its length).
fn scored_steps(e: &SeqExample, dims: usize) -> f64 {
    match &e.mask {
        Some(mask) => mask.iter().map(|&m| f64::from(m)).sum(),
        None => e.len(dims) as f64,
    }
}

/// Training a sequence model: the loss of a batch is its NLL in nats per scored step.
pub struct SequenceTask<'a> {
    config: &'a SequenceTrainingConfig,
    data: &'a SequenceData,
}

impl<'a> SequenceTask<'a> {
    /// The task of training `config` on `data`.
    pub fn new(config: &'a SequenceTrainingConfig, data: &'a SequenceData) -> Self {
        Self { config, data }
    }

    fn examples(&self, indices: &[usize]) -> Vec<&'a SeqExample> {
        indices.iter().map(|&i| &self.data.train[i]).collect()
    }
}

/// What one chunk of a batch under truncated BPTT hands to the next: the batch as tensors,
/// its inputs shifted by one step, and the recurrent state the chunk ended in.
#[derive(Default)]
pub struct ChunkCarry {
    batch: Option<(SequenceBatch, Tensor<3>)>,
    state: Option<RnnState>,
}

impl Task for SequenceTask<'_> {
    type Model = SequenceModel;
    type Metrics = SequenceMetrics;
    type Carry = ChunkCarry;

    fn options(&self) -> &TrainOptions {
        &self.config.training
    }

    fn config_json(&self) -> String {
        serde_json::to_string_pretty(self.config).expect("a config serialises")
    }

    fn differs_from(&self, saved: &str) -> Result<Vec<String>> {
        super::differing_settings(self.config, saved)
    }

    fn model_name(&self) -> &str {
        MODEL_NAME
    }

    fn init_model(&self, device: &Device) -> SequenceModel {
        self.config
            .model
            .init_seeded(self.config.training.seed, device)
    }

    fn empty_model(&self, device: &Device) -> SequenceModel {
        self.config.model.init(device)
    }

    fn train_len(&self) -> usize {
        self.data.train.len()
    }

    fn check(&self, devices: usize) -> Result<()> {
        let (config, data) = (self.config, self.data);
        config.model.validate().map_err(anyhow::Error::msg)?;
        if config.tbptt == Some(0) {
            bail!("the truncated BPTT length must be at least 1");
        }
        if config.tbptt.is_some() && !config.model.is_recurrent() {
            bail!(
                "truncated BPTT (--tbptt) applies to gru and lstm, not to {}",
                config.model.kind().name()
            );
        }
        if let Some(k) = config.model.num_classes {
            for (part, set) in [("training", &data.train), ("validation", &data.valid)] {
                if let Some(e) = set.iter().find(|e| e.label >= k) {
                    bail!(
                        "the {part} sequences of {} have class {}, but the model has classes 0..{}",
                        data.name,
                        e.label,
                        k - 1
                    );
                }
            }
        }
        if data.train.is_empty() || data.valid.is_empty() {
            bail!(
                "the data set {} has an empty training or validation part",
                data.name
            );
        }
        if let Some(r) = config.model.window() {
            let dims = data.output.dims();
            let shortest = data.train.iter().map(|e| e.len(dims)).min().unwrap_or(0);
            if shortest <= r {
                bail!(
                    "the training sequences of {} are {shortest} steps long: too short for a window of {r} (need more than {r})",
                    data.name
                );
            }
        }
        if devices > 1 && config.tbptt.is_some() {
            bail!(
                "--tbptt trains chunk after chunk on one device; it cannot be split over {devices} devices"
            );
        }
        Ok(())
    }

    fn batch_weight(&self, batch: &[usize]) -> f64 {
        let dims = self.data.output.dims();
        self.examples(batch)
            .iter()
            .map(|e| scored_steps(e, dims))
            .sum()
    }

    fn shard_loss(
        &self,
        model: &SequenceModel,
        shard: &[usize],
        batch_weight: f64,
        device: &Device,
    ) -> Tensor<1> {
        let batch = sequence_batch(self.data, &self.examples(shard), device);
        let labels = condition_for(&self.config.model, &batch);
        let features =
            model.forward_with_covariates(batch.inputs.clone(), labels, batch.covariates.as_ref());
        (self.data.output.log_prob(features, &batch.target) * batch.mask)
            .sum()
            .neg()
            .div_scalar(batch_weight)
    }

    fn pieces(&self, model: &SequenceModel, batch: &[usize]) -> usize {
        let dims = self.data.output.dims();
        let time = self
            .examples(batch)
            .iter()
            .map(|e| e.len(dims))
            .max()
            .unwrap_or(1);
        match (model, self.config.tbptt) {
            (SequenceModel::Rnn(_), Some(k)) if k < time => time.div_ceil(k),
            _ => 1,
        }
    }

    fn piece_loss(
        &self,
        model: &SequenceModel,
        batch: &[usize],
        piece: usize,
        carry: &mut ChunkCarry,
        device: &Device,
    ) -> Result<Option<(Tensor<1>, f64)>> {
        let (SequenceModel::Rnn(rnn), Some(k)) = (model, self.config.tbptt) else {
            bail!("only a recurrent model with --tbptt trains in chunks");
        };
        let (batch, shifted) = carry.batch.get_or_insert_with(|| {
            let batch = sequence_batch(self.data, &self.examples(batch), device);
            let shifted = shift_right(batch.inputs.clone());
            (batch, shifted)
        });
        let labels = condition_for(&self.config.model, batch);
        let from = piece * k;
        let len = k.min(batch.time - from);
        let covariates = batch
            .covariates
            .as_ref()
            .map(|c| c.clone().narrow(2, from, len));
        let (features, state) = rnn.forward_chunk(
            shifted.clone().narrow(2, from, len),
            labels.as_ref(),
            covariates.as_ref(),
            carry.state.take(),
        );
        carry.state = Some(state.detach());
        let target = match &batch.target {
            Target::Levels(x) => Target::Levels(x.clone().narrow(1, from, len)),
            Target::Values(x) => Target::Values(x.clone().narrow(2, from, len)),
        };
        let mask = batch.mask.clone().narrow(1, from, len);
        let scored = mask.clone().sum().into_scalar::<f64>();
        if scored == 0.0 {
            return Ok(None);
        }
        let loss = (self.data.output.log_prob(features, &target) * mask)
            .sum()
            .neg()
            .div_scalar(scored);
        Ok(Some((loss, scored)))
    }

    fn evaluate(&self, model: &SequenceModel, device: &Device) -> SequenceMetrics {
        evaluate_sequences(
            &self.config.model,
            model,
            self.data,
            &self.data.valid,
            256,
            device,
        )
    }

    fn score(&self, metrics: &SequenceMetrics) -> f64 {
        metrics.nats_per_step
    }

    fn metrics_header(&self) -> &'static str {
        METRICS_HEADER
    }

    fn metrics_row(&self, epoch: &Epoch<SequenceMetrics>) -> String {
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        let valid = &epoch.valid;
        format!(
            "{},{:.6},{:.6},{:.6},{},{},{:.3}\n",
            epoch.epoch,
            epoch.train_loss,
            valid.nats_per_step,
            valid.nats_per_sequence,
            opt(valid.mse),
            opt(valid.accuracy),
            epoch.seconds
        )
    }

    fn epoch_summary(&self, epoch: &Epoch<SequenceMetrics>) -> String {
        let valid = &epoch.valid;
        let extra = valid
            .mse
            .map(|m| format!(", valid MSE {m:.5}"))
            .unwrap_or_default()
            + &valid
                .accuracy
                .map(|a| format!(", valid recall {:.2}%", 100.0 * a))
                .unwrap_or_default();
        format!(
            "epoch {}/{}: train {:.4} nats/step, valid {:.4} nats/step ({:.3} nats/sequence){extra}, {:.1}s",
            epoch.epoch,
            epoch.epochs,
            epoch.train_loss,
            valid.nats_per_step,
            valid.nats_per_sequence,
            epoch.seconds
        )
    }

    fn step_message(&self, loss: f64, examples_per_second: f64) -> String {
        format!("loss {loss:.4} nats/step, {examples_per_second:.1} sequences/s")
    }
}

/// Trains `config` on `data` ([`super::train`] with the sequence task): in `run` when given
/// (a new folder, or an existing one when `resume`), on `devices`. Returns the best model,
/// the last one and the epochs of this call.
pub fn fit(
    config: &SequenceTrainingConfig,
    data: &SequenceData,
    run: Option<&RunFolder>,
    resume: bool,
    progress: Progress,
    devices: &[Device],
) -> Result<Trained<SequenceModel, SequenceMetrics>> {
    super::train(
        &SequenceTask::new(config, data),
        run,
        resume,
        progress,
        devices,
    )
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
