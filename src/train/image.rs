//! The image family's training task: a Gated PixelCNN or PixelCNN on a set of images, its
//! loss in nats per dimension, and the exact NLL of a split.

use anyhow::{Result, bail};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::folder::RunKind;
use super::{
    Epoch, Progress, RunFolder, Task, TrainOptions, Trained, image_batch, image_condition,
};
use crate::data::{self, DataSource, ImageData, ImageSet};
use crate::models::{ImageModel, ImageModelConfig};

/// Every setting of an image training run; saved as `config.json` in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
    /// Always [`RunKind::Image`] (absent in runs written before the field existed).
    #[serde(default = "RunKind::image")]
    pub kind: RunKind,
    /// The network.
    pub model: ImageModelConfig,
    /// The data set, as given to `--data` (`digits`, `fashion-mnist`, `idx:DIR`, ...).
    pub data: String,
    /// Image height of the data set (what `argen sample` generates).
    pub height: usize,
    /// Image width of the data set.
    pub width: usize,
    /// The conditioning vectors (`vectors:FILE`, the path absolute), one row per image in
    /// the data's order; absent for p(x) and for class conditioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The training loop's settings.
    #[serde(flatten)]
    pub training: TrainOptions,
}

impl TrainingConfig {
    /// A run of `model` on `data` (of images `height` × `width`) with `training`.
    pub fn new(
        model: ImageModelConfig,
        data: impl Into<String>,
        height: usize,
        width: usize,
        training: TrainOptions,
    ) -> Self {
        Self {
            kind: RunKind::Image,
            model,
            data: data.into(),
            height,
            width,
            condition: None,
            training,
        }
    }

    /// The same run conditioned on the vectors of `spec` (`vectors:FILE`).
    pub fn with_condition(mut self, spec: Option<String>) -> Self {
        self.condition = spec;
        self
    }

    /// The run's data: the images of `data`, with their conditioning vectors when the run
    /// has them.
    pub fn load_data(&self) -> Result<ImageData> {
        let data = load_data(&self.data)?;
        match &self.condition {
            Some(spec) => Ok(data.with_vectors(&read_vectors(spec)?)?),
            None => Ok(data),
        }
    }

    /// Reads and checks the `config.json` of an image run.
    pub fn read(run: &RunFolder) -> Result<Self> {
        let config: Self = run.read_config_as("image run")?;
        if config.kind != RunKind::Image {
            bail!(
                "{} is a {} run, not an image run",
                run.0.display(),
                config.kind
            );
        }
        config
            .model
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.config().display()))?;
        for (what, side) in [("height", config.height), ("width", config.width)] {
            if !(1..=MAX_IMAGE_SIDE).contains(&side) {
                bail!(
                    "{}: the image {what} {side} is outside 1..={MAX_IMAGE_SIDE}",
                    run.config().display()
                );
            }
        }
        config
            .training
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", run.config().display()))?;
        Ok(config)
    }

    /// The run's model with the weights of `run` (the best validation weights when `best`).
    pub fn load_model(&self, run: &RunFolder, best: bool, device: &Device) -> Result<ImageModel> {
        run.verify_weights(best)?;
        super::load_weights(self.model.init(device), &run.weights(best))
    }
}

/// The largest image side an image run models.
pub const MAX_IMAGE_SIDE: usize = 1024;

/// The default number of epochs of an image run on `data`: 20 on the embedded digits (a
/// minute on two cores) and their colour version, 1 otherwise (an epoch of Fashion-MNIST
/// takes a quarter of an hour).
pub fn default_epochs(data: &str) -> usize {
    if data.strip_prefix("colour:").unwrap_or(data) == "digits" {
        20
    } else {
        1
    }
}

pub use crate::models::options::default_dropout;

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

/// One epoch of an image run, in the units of images.
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

impl EpochReport {
    /// The report of `epoch` of a task on images of `dims` dimensions.
    pub fn new(epoch: &Epoch<Nll>, dims: usize) -> Self {
        let train = Nll::from_total(
            epoch.train_loss * (dims * epoch.examples) as f64,
            epoch.examples,
            dims,
        );
        Self {
            epoch: epoch.epoch,
            train,
            valid: epoch.valid,
            seconds: epoch.seconds,
        }
    }
}

/// Exact NLL of every image of `set` under `model`, in batches of `batch_size`.
pub fn evaluate(model: &ImageModel, set: &ImageSet, batch_size: usize, device: &Device) -> Nll {
    let total = -log_probs(model, set, batch_size, device)
        .iter()
        .sum::<f64>();
    Nll::from_total(total, set.len(), set.image_size())
}

/// The most bytes one batch's logits [batch, levels·colours, H, W] may take on a device other
/// than the CPU: a GPU driver caps the size of one buffer (wgpu's default limit is 256 MiB,
/// Mesa's software Vulkan driver allows less), and the logits, like the head's hidden
/// features, are an evaluation's largest tensors.
const DEVICE_BATCH_BYTES: usize = 32 << 20;

/// The most images one evaluation batch holds on the CPU. Each layer's output for the
/// batch (200 KB per 28×28 image at 64 channels) then stays in the processor's caches until
/// the next layer reads it; at 256 images every layer goes through main memory. The
/// Fashion-MNIST Gated PixelCNN evaluates 5–10% faster in batches of 32 than of 256
/// (BENCHMARKS.md, "Fewer passes around the image products, evaluation in cache-sized
/// batches").
pub const CPU_EVAL_BATCH: usize = 32;

/// log p(x) of each image of `set` under `model` (with its class or vector when the model
/// is conditional), in nats, computed in batches of `batch_size` (on the CPU at most
/// [`CPU_EVAL_BATCH`], elsewhere in batches whose logits fit in [`DEVICE_BATCH_BYTES`]; the
/// values do not depend on the batch).
pub fn log_probs(
    model: &ImageModel,
    set: &ImageSet,
    batch_size: usize,
    device: &Device,
) -> Vec<f64> {
    let batch_size = if crate::fused::is_flex(device) {
        batch_size.min(CPU_EVAL_BATCH)
    } else {
        let logits_per_image = model.levels() * set.channels * set.height * set.width * 4;
        // At least one image: one whose logits alone exceed the cap is evaluated by itself.
        batch_size
            .min(DEVICE_BATCH_BYTES / logits_per_image.max(1))
            .max(1)
    };
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut out = Vec::with_capacity(set.len());
    for chunk in indices.chunks(batch_size.max(1)) {
        let (x, _) = image_batch(set, chunk, device);
        let condition = image_condition(set, chunk, model.is_conditional(), device);
        let log_p = model.log_prob(x, condition).into_data().convert::<f64>();
        out.extend(log_p.iter::<f64>());
    }
    out
}

/// Checks that a vector-conditioned model has vectors of its dimension for every image, and
/// that other models are not given vectors.
pub fn check_vectors(config: &TrainingConfig, data: &ImageData) -> Result<()> {
    let want = match config.model.condition() {
        Some(crate::models::ConditionWidth::Vectors(d)) => Some(d),
        _ => None,
    };
    for (part, set) in [
        ("train", &data.train),
        ("valid", &data.valid),
        ("test", &data.test),
    ] {
        let have = set.vectors.as_ref().map(|v| v.dim);
        match (want, have) {
            (Some(d), Some(h)) if d != h => bail!(
                "the model reads conditioning vectors of {d} dimensions, but the {part} \
                 images of {} have vectors of {h}",
                data.name
            ),
            (Some(_), None) if !set.is_empty() => bail!(
                "the model is conditioned on vectors, but the {part} images of {} have none \
                 (give --condition vectors:FILE)",
                data.name
            ),
            (None, Some(_)) => bail!(
                "{} carries conditioning vectors, but the {} is not conditioned on vectors",
                data.name,
                config.model.name()
            ),
            _ => {}
        }
    }
    Ok(())
}

/// Reads the vectors of a `--condition` value `vectors:FILE`.
pub fn read_vectors(spec: &str) -> Result<data::ConditionVectors> {
    let Some(path) = spec.strip_prefix("vectors:").filter(|p| !p.is_empty()) else {
        bail!("unknown conditioning `{spec}`: expected `vectors:FILE` (a CSV or .npy file)");
    };
    Ok(data::ConditionVectors::read(std::path::Path::new(path))?)
}

/// Loads the data set named in a config.
pub fn load_data(name: &str) -> Result<ImageData> {
    let source: DataSource = name.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(data::load(&source)?)
}

/// Training an image model: the loss of a batch is its NLL in nats per dimension (the same
/// optimum as per image, on a scale that does not depend on the image size).
pub struct ImageTask<'a> {
    config: &'a TrainingConfig,
    data: &'a ImageData,
}

impl<'a> ImageTask<'a> {
    /// The task of training `config` on `data`.
    pub fn new(config: &'a TrainingConfig, data: &'a ImageData) -> Self {
        Self { config, data }
    }
}

const METRICS_HEADER: &str = "epoch,train_nats_per_image,train_bits_per_dim,valid_nats_per_image,valid_bits_per_dim,seconds,train_images_per_second\n";

impl Task for ImageTask<'_> {
    type Model = ImageModel;
    type Metrics = Nll;
    type Carry = ();

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
        self.config.model.name()
    }

    fn init_model(&self, device: &Device) -> ImageModel {
        self.config
            .model
            .init_seeded(self.config.training.seed, device)
    }

    fn empty_model(&self, device: &Device) -> ImageModel {
        self.config.model.init(device)
    }

    fn train_len(&self) -> usize {
        self.data.train.len()
    }

    fn check(&self, _devices: usize) -> Result<()> {
        let (config, data) = (self.config, self.data);
        config.model.validate().map_err(anyhow::Error::msg)?;
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
        check_vectors(config, data)?;
        if let Some(k) = config.model.num_classes() {
            // Every class the model has must have training images: a class without any is
            // what one corrupt label byte makes (a label of 200 makes a 201-class model).
            let mut seen = vec![0usize; k];
            for &l in &data.train.labels {
                if let Some(count) = seen.get_mut(usize::from(l)) {
                    *count += 1;
                }
            }
            let missing: Vec<usize> = (0..k).filter(|&c| seen[c] == 0).collect();
            if !missing.is_empty() {
                let shown: Vec<String> = missing.iter().take(5).map(|c| c.to_string()).collect();
                bail!(
                    "the class-conditional model has classes 0..{}, but {} of them have no \
                     training image (class {}{}); is a label of {} corrupt?",
                    k - 1,
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > 5 { ", ..." } else { "" },
                    data.name
                );
            }
            for (part, set) in [("training", &data.train), ("validation", &data.valid)] {
                if let Some(&label) = set.labels.iter().find(|&&l| usize::from(l) >= k) {
                    bail!(
                        "the {part} images of {} have class {label}, but the model has classes 0..{}",
                        data.name,
                        k - 1
                    );
                }
            }
        }
        if data.levels != config.model.levels() {
            bail!(
                "the {} models {} levels; {} has {}",
                config.model.name(),
                config.model.levels(),
                data.name,
                data.levels
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
        Ok(())
    }

    fn batch_weight(&self, batch: &[usize]) -> f64 {
        (self.data.train.image_size() * batch.len()) as f64
    }

    fn shard_loss(
        &self,
        model: &ImageModel,
        shard: &[usize],
        batch_weight: f64,
        device: &Device,
    ) -> Tensor<1> {
        let (x, _) = image_batch(&self.data.train, shard, device);
        let condition = image_condition(&self.data.train, shard, model.is_conditional(), device);
        model
            .log_prob(x, condition)
            .sum()
            .neg()
            .div_scalar(batch_weight)
    }

    fn evaluate(&self, model: &ImageModel, device: &Device) -> Nll {
        evaluate(model, &self.data.valid, 256, device)
    }

    fn score(&self, metrics: &Nll) -> f64 {
        metrics.bits_per_dim
    }

    fn metrics_header(&self) -> &'static str {
        METRICS_HEADER
    }

    fn metrics_row(&self, epoch: &Epoch<Nll>) -> String {
        let r = EpochReport::new(epoch, self.data.train.image_size());
        format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.3},{:.1}\n",
            r.epoch,
            r.train.nats_per_image,
            r.train.bits_per_dim,
            r.valid.nats_per_image,
            r.valid.bits_per_dim,
            r.seconds,
            epoch.examples as f64 / r.seconds
        )
    }

    fn epoch_summary(&self, epoch: &Epoch<Nll>) -> String {
        let r = EpochReport::new(epoch, self.data.train.image_size());
        format!(
            "epoch {}/{}: train {:.4} bits/dim, valid {:.4} bits/dim ({:.2} nats/image), {:.1}s, {:.0} img/s",
            r.epoch,
            epoch.epochs,
            r.train.bits_per_dim,
            r.valid.bits_per_dim,
            r.valid.nats_per_image,
            r.seconds,
            epoch.examples as f64 / r.seconds
        )
    }

    fn step_message(&self, loss: f64, examples_per_second: f64) -> String {
        let bits = loss / std::f64::consts::LN_2;
        format!("loss {loss:.4} nats/dim, {bits:.3} bits/dim, {examples_per_second:.1} img/s")
    }
}

/// Trains `config` on `data` ([`super::train`] with the image task): in `run` when given
/// (a new folder, or an existing one when `resume`), on `devices`. Returns the best model,
/// the last one and the epochs of this call.
pub fn fit(
    config: &TrainingConfig,
    data: &ImageData,
    run: Option<&RunFolder>,
    resume: bool,
    progress: Progress,
    devices: &[Device],
) -> Result<Trained<ImageModel, Nll>> {
    super::train(
        &ImageTask::new(config, data),
        run,
        resume,
        progress,
        devices,
    )
}

/// Trains `config` into `run` on `devices` ([`fit`]) and returns the epochs in image units.
pub fn train_on(
    config: &TrainingConfig,
    data: &ImageData,
    run: &RunFolder,
    resume: bool,
    progress: Progress,
    devices: &[Device],
) -> Result<Vec<EpochReport>> {
    let trained = fit(config, data, Some(run), resume, progress, devices)?;
    let dims = data.train.image_size();
    Ok(trained
        .epochs
        .iter()
        .map(|e| EpochReport::new(e, dims))
        .collect())
}

/// [`train_on`] with this machine's CPU only.
pub fn train(
    config: &TrainingConfig,
    data: &ImageData,
    run: &RunFolder,
    resume: bool,
    progress: Progress,
) -> Result<Vec<EpochReport>> {
    train_on(config, data, run, resume, progress, &[Device::flex()])
}
