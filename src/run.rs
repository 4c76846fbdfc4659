//! A run folder of any family: what it is ([`RunKind`]), how to open it ([`Run::open`]),
//! and what every run answers: evaluation of a split ([`Run::evaluate`], one report
//! schema for all families) and sampling ([`SampleOptions`]).
//!
//! A trained run (image or sequence) keeps its settings in `config.json`, whose `"kind"`
//! names the family (image runs written before the field existed have none); a classical
//! fit keeps everything in `classic.json`. [`Run::open`] is the one place that tells them
//! apart.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classic::{self, ClassicModel, ClassicRun};
use crate::data::ImageData;
use crate::data::sequences::SequenceData;
use crate::generate::sequence::{SequenceRequest, sample_sequences, sample_sequences_naive};
use crate::generate::{
    SampleRequest, sample_cached, sample_cached_on, sample_naive, sample_naive_on,
};
use crate::models::{ImageModel, SequenceModel};
pub use crate::train::folder::RunKind;
use crate::train::sequence::{SequenceMetrics, SequenceTrainingConfig, evaluate_sequences};
use crate::train::{self, Nll, RunFolder, TrainingConfig};

/// A part of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// What the model was fitted on.
    Train,
    /// Held out for model selection (trained runs only).
    Valid,
    /// Held out for the final figure.
    Test,
}

impl FromStr for Split {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Split::Train),
            "valid" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            _ => Err(format!("unknown split {s}: train, valid or test")),
        }
    }
}

impl Split {
    /// The one of `train`, `valid`, `test` this split names.
    pub fn pick<'a, T: ?Sized>(self, train: &'a T, valid: &'a T, test: &'a T) -> &'a T {
        match self {
            Split::Train => train,
            Split::Valid => valid,
            Split::Test => test,
        }
    }
}

/// Checks that `split` of the data `data` (`len` examples with `labels`) is not empty and
/// that a model of `classes` classes can score its labels.
fn check_split(
    split: Split,
    data: &str,
    len: usize,
    mut labels: impl Iterator<Item = usize>,
    classes: Option<usize>,
) -> Result<()> {
    if len == 0 {
        let hint = if split == Split::Test {
            " (data saved from arrays may hold no test images: try --split valid)"
        } else {
            ""
        };
        bail!("the {split} split of {data} is empty{hint}");
    }
    if let Some(k) = classes
        && let Some(label) = labels.find(|&l| l >= k)
    {
        bail!(
            "the {split} split of {data} has class {label}, but the run has classes 0..{}",
            k - 1
        );
    }
    Ok(())
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        })
    }
}

/// Which saved weights of a trained run to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Weights {
    /// The weights of the epoch with the lowest validation loss.
    #[default]
    Best,
    /// The weights after the last epoch.
    Last,
}

/// Any run folder, opened.
#[derive(Debug, Clone)]
pub enum Run {
    /// An image run.
    Image(ImageRun),
    /// A neural sequence run.
    Sequence(SequenceRun),
    /// A classical fit.
    Classic(ClassicFit),
}

/// An image run: its folder and its settings.
#[derive(Debug, Clone)]
pub struct ImageRun {
    /// The folder.
    pub folder: RunFolder,
    /// `config.json`.
    pub config: TrainingConfig,
}

/// A neural sequence run: its folder and its settings.
#[derive(Debug, Clone)]
pub struct SequenceRun {
    /// The folder.
    pub folder: RunFolder,
    /// `config.json`.
    pub config: SequenceTrainingConfig,
}

/// A classical fit: its folder and `classic.json`.
#[derive(Debug, Clone)]
pub struct ClassicFit {
    /// The folder.
    pub folder: PathBuf,
    /// `classic.json`.
    pub fit: ClassicRun,
}

impl Run {
    /// Opens the run in `path`, whatever its family.
    pub fn open(path: &Path) -> Result<Run> {
        let folder = RunFolder(path.to_path_buf());
        let classic_file = path.join(classic::RUN_FILE);
        match (folder.config().exists(), classic_file.exists()) {
            (true, true) => bail!(
                "{} holds both a trained run (config.json) and a classical fit ({}); keep one \
                 of them per folder",
                path.display(),
                classic::RUN_FILE
            ),
            (true, false) => {
                let text = std::fs::read_to_string(folder.config())
                    .with_context(|| format!("cannot read {}", folder.config().display()))?;
                let value: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", folder.config().display()))?;
                let kind = match value.get("kind") {
                    None => RunKind::Image,
                    Some(kind) => serde_json::from_value(kind.clone()).map_err(|_| {
                        anyhow::anyhow!(
                            "{} has an unknown \"kind\" {kind}: image or sequence",
                            folder.config().display()
                        )
                    })?,
                };
                match kind {
                    RunKind::Image => Ok(Run::Image(ImageRun {
                        config: TrainingConfig::read(&folder)?,
                        folder,
                    })),
                    RunKind::Sequence => Ok(Run::Sequence(SequenceRun {
                        config: SequenceTrainingConfig::read(&folder)?,
                        folder,
                    })),
                    RunKind::Classic => bail!(
                        "{} says \"kind\": \"classic\", but a classical fit keeps its model in {}",
                        folder.config().display(),
                        classic::RUN_FILE
                    ),
                }
            }
            (false, true) => Ok(Run::Classic(ClassicFit {
                fit: ClassicRun::load(path)?,
                folder: path.to_path_buf(),
            })),
            (false, false) if !path.exists() => bail!("{} does not exist", path.display()),
            (false, false) => bail!(
                "{} is not an argen run folder: it has neither config.json (a trained run) nor \
                 {} (a classical fit)",
                path.display(),
                classic::RUN_FILE
            ),
        }
    }

    /// The family of the run.
    pub fn kind(&self) -> RunKind {
        match self {
            Run::Image(_) => RunKind::Image,
            Run::Sequence(_) => RunKind::Sequence,
            Run::Classic(_) => RunKind::Classic,
        }
    }

    /// The run's folder.
    pub fn path(&self) -> &Path {
        match self {
            Run::Image(r) => &r.folder.0,
            Run::Sequence(r) => &r.folder.0,
            Run::Classic(r) => &r.folder,
        }
    }

    /// The image run, or an error saying that `what` needs one.
    pub fn into_image(self, what: &str) -> Result<ImageRun> {
        match self {
            Run::Image(run) => Ok(run),
            other => bail!(
                "{what} works on image runs; {} is a {} run",
                other.path().display(),
                other.kind()
            ),
        }
    }

    /// The neural sequence run, or an error saying that `what` needs one.
    pub fn into_sequence(self, what: &str) -> Result<SequenceRun> {
        match self {
            Run::Sequence(run) => Ok(run),
            other => bail!(
                "{what} works on sequence runs; {} is a {} run",
                other.path().display(),
                other.kind()
            ),
        }
    }

    /// Scores `split` of the run's data (trained runs: with `weights`, `batch_size` examples
    /// at once on `device`).
    pub fn evaluate(
        &self,
        split: Split,
        weights: Weights,
        batch_size: usize,
        device: &Device,
    ) -> Result<EvalReport> {
        let report = match self {
            Run::Image(run) => run.evaluate(split, weights, batch_size, device),
            Run::Sequence(run) => run.evaluate(split, weights, batch_size, device),
            Run::Classic(run) => run.evaluate(split),
        }?;
        if !report.nats_per_dim.is_finite() {
            bail!(
                "the {split} NLL of {} is {}: the model's parameters are not finite",
                self.path().display(),
                report.nats_per_dim
            );
        }
        Ok(report)
    }
}

/// What an evaluation of any run reports: the same fields for every family, with the
/// family's own figures under `metrics`. This is the schema of `argen eval --json`.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// The run folder.
    pub run: String,
    /// The family.
    pub kind: RunKind,
    /// The model (`gated-pixelcnn`, `wavenet`, `ar`, `markov`, ...).
    pub model: String,
    /// The data source.
    pub data: String,
    /// The split scored.
    pub split: Split,
    /// The weights used (trained runs; `null` for a classical fit).
    pub weights: Option<Weights>,
    /// Examples scored: images, sequences (a classical fit scores one series).
    pub examples: usize,
    /// Dimensions scored in all: pixel values, scored steps.
    pub dims: usize,
    /// Mean −log p(x) per example, in nats.
    pub nats_per_example: f64,
    /// Mean −log p per dimension (per pixel value, per step), in nats.
    pub nats_per_dim: f64,
    /// The same in bits.
    pub bits_per_dim: f64,
    /// The family's own figures.
    pub metrics: FamilyMetrics,
    /// What a conditional likelihood is conditioned on (`null`: the figures are −log p(x)):
    /// `class`, `vectors` (given per example), or `code` (the auto-encoder's h = e(x)).
    pub conditional_on: Option<ConditionedOn>,
}

/// What a conditional likelihood −log p(x | h) is conditioned on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionedOn {
    /// The example's class.
    Class,
    /// The vector given for each example.
    Vectors,
    /// The auto-encoder's code of the example itself, h = e(x).
    Code,
}

impl ConditionedOn {
    /// What an image run's likelihood is conditioned on.
    pub fn of(model: &crate::models::ImageModelConfig) -> Option<Self> {
        if model.latent().is_some() {
            return Some(Self::Code);
        }
        Self::of_condition(model.condition())
    }

    /// What the likelihood of a model conditioned as `condition` is conditioned on.
    pub fn of_condition(condition: Option<crate::models::ConditionWidth>) -> Option<Self> {
        use crate::models::ConditionWidth;
        condition.map(|c| match c {
            ConditionWidth::Classes(_) => Self::Class,
            ConditionWidth::Vectors(_) => Self::Vectors,
        })
    }
}

impl fmt::Display for ConditionedOn {
    /// The note printed after a conditional likelihood.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Class => "−log p(x | class): conditional on each image's class, not −log p(x)",
            Self::Vectors => {
                "−log p(x | h): conditional on each example's given vector h, not −log p(x)"
            }
            Self::Code => {
                "−log p(x | h(x)): conditional on the auto-encoder's code of the image itself, \
                 not −log p(x)"
            }
        })
    }
}

/// The figures of one family's evaluation.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "family", rename_all = "lowercase")]
pub enum FamilyMetrics {
    /// Images: NLL per image and bits/dim.
    Image(Nll),
    /// Sequences: per step and per sequence, MSE and recall where they apply.
    Sequence(SequenceMetrics),
    /// A classical fit: the exact conditional log-likelihood of the scored steps.
    Classic(ClassicMetrics),
}

/// The evaluation of a classical fit.
#[derive(Debug, Clone, Serialize)]
pub struct ClassicMetrics {
    /// Scored steps.
    pub steps: usize,
    /// Σ log p(x_t | x_<t) over them, in nats.
    pub log_likelihood: f64,
    /// Chains: bits per symbol.
    pub bits_per_symbol: Option<f64>,
    /// Chains: exp(nats per symbol).
    pub perplexity: Option<f64>,
}

impl fmt::Display for EvalReport {
    /// One line for a person.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.metrics {
            FamilyMetrics::Image(nll) => {
                write!(
                    f,
                    "{} {} ({} images): {:.4} nats/image, {:.4} bits/dim",
                    self.data, self.split, nll.images, nll.nats_per_image, nll.bits_per_dim
                )?;
                if let Some(on) = self.conditional_on {
                    write!(f, " [{on}]")?;
                }
                Ok(())
            }
            FamilyMetrics::Sequence(m) => {
                write!(f, "{} {}: {}", self.data, self.split, m)
            }
            FamilyMetrics::Classic(m) => {
                write!(
                    f,
                    "{} {} ({} steps): log-likelihood {:.4}, negative log-likelihood {:.4} nats/step",
                    self.data, self.split, m.steps, m.log_likelihood, self.nats_per_dim
                )?;
                if let (Some(bits), Some(perplexity)) = (m.bits_per_symbol, m.perplexity) {
                    write!(f, ", {bits:.4} bits/symbol, perplexity {perplexity:.4}")?;
                }
                Ok(())
            }
        }
    }
}

/// The most samples (images or sequences) one call draws.
pub const MAX_SAMPLES: usize = 100_000;
/// The longest sequence a sequence run generates.
pub const MAX_SEQUENCE_LENGTH: usize = 1_000_000;

/// How many samples to draw, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleOptions {
    /// Number of samples (images, sequences).
    pub n: usize,
    /// Seed of the draws: the same seed gives the same samples.
    pub seed: u64,
    /// Softmax temperature: 1 samples the model, below 1 favours likely values, 0 is greedy.
    pub temperature: f64,
    /// A class-conditional run: draw only this class (default: the classes in turn).
    pub class: Option<usize>,
    /// Samples drawn at once (bounds memory; does not change them).
    pub batch: usize,
    /// Which weights.
    pub weights: Weights,
    /// Rerun the whole network for every value (the reference path) instead of the cache.
    pub naive: bool,
    /// Sequences and classical fits: the length to generate (default: the data's length).
    pub length: Option<usize>,
    /// A vector-conditioned run: the vectors h to draw for (`vectors:FILE`, row i for sample
    /// i; default: the test images' vectors in turn).
    pub condition: Option<String>,
    /// An auto-encoder run: draw given the codes of the first K test images, n / K draws
    /// each (the default, with K = 8).
    pub reconstruct: Option<usize>,
    /// An auto-encoder run: draw n images along the line between the codes of these two
    /// test images, h = (1 − t) e(x_a) + t e(x_b) for t from 0 to 1.
    pub interpolate: Option<(usize, usize)>,
    /// A sound run: a WAV file whose samples (at the run's rate and levels) start every
    /// sequence; the model continues it (the default length is the prefix and one second).
    pub prefix: Option<PathBuf>,
}

impl Default for SampleOptions {
    /// The command line's defaults: 64 samples, seed 0, temperature 1, cached, best weights.
    fn default() -> Self {
        Self {
            n: 64,
            seed: 0,
            temperature: 1.0,
            class: None,
            batch: 64,
            weights: Weights::Best,
            naive: false,
            length: None,
            condition: None,
            reconstruct: None,
            interpolate: None,
            prefix: None,
        }
    }
}

impl SampleOptions {
    /// `n` samples with the defaults otherwise.
    pub fn new(n: usize) -> Self {
        Self {
            n,
            ..Self::default()
        }
    }

    /// The same options with `seed`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the options that do not depend on the run.
    pub fn validate(&self) -> Result<()> {
        if self.n == 0 {
            bail!("the number of samples (--n) must be at least 1");
        }
        if self.batch == 0 {
            bail!("the sampling batch (--batch) must be at least 1");
        }
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            bail!(
                "the temperature must be a finite number >= 0, got {}",
                self.temperature
            );
        }
        if self.length == Some(0) {
            bail!("the length (--length) must be at least 1");
        }
        if self.n > MAX_SAMPLES {
            bail!(
                "{} samples asked (--n); at most {MAX_SAMPLES} are drawn in one call",
                self.n
            );
        }
        Ok(())
    }

    /// The class of each of the `n` samples of a model with `classes` classes (`None`:
    /// unconditional): `class` for all, or the classes in turn; an error for a class out of
    /// range or a class asked of an unconditional model.
    pub fn labels(&self, classes: Option<usize>) -> Result<Vec<Option<usize>>> {
        check_class(self.class, classes)?;
        Ok(match (classes, self.class) {
            (None, _) => vec![None; self.n],
            (Some(_), Some(c)) => vec![Some(c); self.n],
            (Some(k), None) => (0..self.n).map(|i| Some(i % k)).collect(),
        })
    }
}

/// Checks that `class` can be asked of a model with `classes` classes.
pub fn check_class(class: Option<usize>, classes: Option<usize>) -> Result<()> {
    match (classes, class) {
        (None, Some(_)) => bail!("a class (--class) needs a class-conditional run"),
        (Some(k), Some(c)) if c >= k => {
            bail!(
                "class {c} is out of range: the run has classes 0..{}",
                k - 1
            )
        }
        _ => Ok(()),
    }
}

/// Images drawn from an image run.
#[derive(Debug, Clone)]
pub struct ImageSamples {
    /// Levels, image after image, each [colour][row][column].
    pub levels: Vec<u8>,
    /// Their shape.
    pub shape: crate::viz::ImageShape,
    /// Images per row of a grid that shows them (one row per class for a conditional run).
    pub columns: usize,
}

impl ImageSamples {
    /// The grid of the images, as a picture.
    pub fn grid(&self) -> image::RgbImage {
        crate::viz::image_grid(
            &self.levels,
            self.shape,
            self.columns,
            crate::viz::default_scale(self.shape.width),
            None,
        )
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.levels.len() / self.shape.size().max(1)
    }

    /// Whether there is no image.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
}

impl ImageRun {
    /// The run's model with `weights`, on `device`.
    pub fn model(&self, weights: Weights, device: &Device) -> Result<ImageModel> {
        self.config
            .load_model(&self.folder, weights == Weights::Best, device)
    }

    /// The run's data set (with its conditioning vectors), checked against the run.
    pub fn data(&self) -> Result<ImageData> {
        let data = self.config.load_data()?;
        train::image::check_vectors(&self.config, &data)?;
        let model = &self.config.model;
        if (data.train.height, data.train.width) != (self.config.height, self.config.width)
            || data.train.channels != model.colours()
            || data.levels != model.levels()
        {
            bail!(
                "the data {} ({}x{}, {} channels, {} levels) no longer fits the run ({}x{}, {} channels, {} levels)",
                self.config.data,
                data.train.height,
                data.train.width,
                data.train.channels,
                data.levels,
                self.config.height,
                self.config.width,
                model.colours(),
                model.levels()
            );
        }
        Ok(data)
    }

    /// The exact NLL of `split` of the run's data ([`ImageRun::data`]).
    pub fn evaluate(
        &self,
        split: Split,
        weights: Weights,
        batch_size: usize,
        device: &Device,
    ) -> Result<EvalReport> {
        self.evaluate_on(&self.data()?, split, weights, batch_size, device)
    }

    /// The exact NLL of `split` of `data`, the run's data already loaded (and checked).
    pub fn evaluate_on(
        &self,
        data: &ImageData,
        split: Split,
        weights: Weights,
        batch_size: usize,
        device: &Device,
    ) -> Result<EvalReport> {
        let model = self.model(weights, device)?;
        let set = split.pick(&data.train, &data.valid, &data.test);
        let labels = set.labels.iter().map(|&l| usize::from(l));
        check_split(
            split,
            &data.name,
            set.len(),
            labels,
            self.config.model.num_classes(),
        )?;
        let nll = train::evaluate(&model, set, batch_size, device);
        let dims = set.image_size();
        Ok(EvalReport {
            run: self.folder.0.display().to_string(),
            kind: RunKind::Image,
            model: self.config.model.name().to_string(),
            data: self.config.data.clone(),
            split,
            weights: Some(weights),
            examples: nll.images,
            dims: nll.images * dims,
            nats_per_example: nll.nats_per_image,
            nats_per_dim: nll.nats_per_image / dims as f64,
            bits_per_dim: nll.bits_per_dim,
            metrics: FamilyMetrics::Image(nll),
            conditional_on: ConditionedOn::of(&self.config.model),
        })
    }

    /// Draws images. A conditional run without `class` draws one row per class.
    pub fn sample(&self, options: &SampleOptions, device: &Device) -> Result<ImageSamples> {
        self.sample_watched(options, None, device)
    }

    /// The class of each image [`ImageRun::sample`] draws for `options` (`None` for an
    /// unconditional run) and the images per row of their grid: one row per class when a
    /// conditional run is given no class.
    pub fn sample_labels(&self, options: &SampleOptions) -> Result<(Vec<Option<usize>>, usize)> {
        let classes = self.config.model.num_classes();
        check_class(options.class, classes)?;
        let square = (options.n as f64).sqrt().ceil() as usize;
        Ok(match (classes, options.class) {
            (Some(k), None) => {
                // One row per class: n / k images each (at least one).
                let per_class = (options.n / k).max(1);
                let labels = (0..k)
                    .flat_map(|c| std::iter::repeat_n(Some(c), per_class))
                    .collect();
                (labels, per_class)
            }
            _ => (options.labels(classes)?, square),
        })
    }

    /// [`ImageRun::sample`], calling `on_step` after every generation step (the same images).
    pub fn sample_watched(
        &self,
        options: &SampleOptions,
        on_step: Option<crate::generate::StepObserver>,
        device: &Device,
    ) -> Result<ImageSamples> {
        options.validate()?;
        let model = self.model(options.weights, device)?;
        self.sample_with(&model, options, on_step, device)
    }

    /// [`ImageRun::sample_watched`] with the run's model already loaded (`options.weights`
    /// of [`ImageRun::model`]), for a caller that keeps it between requests.
    pub fn sample_with(
        &self,
        model: &ImageModel,
        options: &SampleOptions,
        on_step: Option<crate::generate::StepObserver>,
        device: &Device,
    ) -> Result<ImageSamples> {
        self.draw(model, options, on_step, std::slice::from_ref(device))
    }

    /// [`ImageRun::sample`] with the batches of images (`options.batch` each) dealt over
    /// several devices, each on its own thread: the same images as on one device, since each
    /// image has its own random stream.
    pub fn sample_on_devices(
        &self,
        options: &SampleOptions,
        devices: &[Device],
    ) -> Result<ImageSamples> {
        options.validate()?;
        let Some(first) = devices.first() else {
            bail!("no device to sample on");
        };
        let model = self.model(options.weights, first)?;
        self.draw(&model, options, None, devices)
    }

    fn draw(
        &self,
        model: &ImageModel,
        options: &SampleOptions,
        on_step: Option<crate::generate::StepObserver>,
        devices: &[Device],
    ) -> Result<ImageSamples> {
        options.validate()?;
        let model = model.clone();
        let device = &devices[0];
        if model.is_auto_encoder() {
            if devices.len() > 1 {
                bail!(
                    "an auto-encoder run draws on one device: give --device instead of --devices"
                );
            }
            return self.sample_auto_encoder(&model, options, device);
        }
        if options.reconstruct.is_some() || options.interpolate.is_some() {
            bail!("--reconstruct and --interpolate apply to an auto-encoder run (--latent)");
        }
        let config = &self.config;
        let (labels, columns) = self.sample_labels(options)?;
        let vectors = self.sample_vectors(options, labels.len())?;
        let request = SampleRequest {
            height: config.height,
            width: config.width,
            colours: config.model.colours(),
            labels,
            vectors,
            temperature: options.temperature,
            seed: options.seed,
            batch: options.batch,
            given: None,
            given_positions: 0,
            given_mask: None,
            on_step,
        };
        let levels = if options.naive {
            sample_naive_on(&model, &request, devices)
        } else {
            sample_cached_on(&model, &request, devices)
        };
        Ok(ImageSamples {
            levels,
            shape: crate::viz::ImageShape {
                colours: config.model.colours(),
                height: config.height,
                width: config.width,
                levels: config.model.levels(),
            },
            columns,
        })
    }
}

/// The most completions drawn per image.
pub const MAX_COMPLETIONS: usize = 100;

/// What a completion keeps of the images it starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    /// The top rows: an exact draw from p(rest | top rows), since they come first in raster
    /// order.
    Rows(usize),
    /// Any set of values (one flag per value of an image, [colour][row][column]): each other
    /// value is drawn from p(x_i | x_<i) with the kept values in place; kept values after an
    /// erased one are not looked ahead at ([`SampleRequest::given_mask`]).
    Mask(Vec<bool>),
}

/// Images to complete, and how.
#[derive(Debug, Clone)]
pub struct CompletionRequest {
    /// Levels, image after image, each [colour][row][column].
    pub images: Vec<u8>,
    /// A class-conditional run: each image's class (used unless `class` is given).
    pub labels: Vec<usize>,
    /// A vector-conditioned run: each image's vector h, one row after the other.
    pub vectors: Option<Vec<f32>>,
    /// What is kept.
    pub kept: Kept,
    /// Completions per image.
    pub samples: usize,
    /// A class-conditional run: complete every image as this class.
    pub class: Option<usize>,
    /// Seed of the draws.
    pub seed: u64,
    /// Softmax temperature (finite, >= 0).
    pub temperature: f64,
    /// Rerun the whole network per value instead of the cached path (same images).
    pub naive: bool,
}

impl ImageRun {
    /// Completes images with `model` (the run's, [`ImageRun::model`]): `samples` draws per
    /// image, image after image, each [colour][row][column].
    pub fn complete(
        &self,
        model: &ImageModel,
        request: &CompletionRequest,
        device: &Device,
    ) -> Result<Vec<u8>> {
        let config = &self.config;
        let (colours, height, width, levels) = (
            config.model.colours(),
            config.height,
            config.width,
            config.model.levels(),
        );
        if model.is_auto_encoder() {
            bail!(
                "an auto-encoder run draws given codes: use sample --reconstruct, not completion"
            );
        }
        let size = colours * height * width;
        let count = request.images.len() / size;
        if count == 0 || !request.images.len().is_multiple_of(size) {
            bail!(
                "{} values are not a whole number of {colours}x{height}x{width} images (at least one)",
                request.images.len()
            );
        }
        if let Some(&v) = request.images.iter().find(|&&v| usize::from(v) >= levels) {
            bail!(
                "an image holds level {v}, but the run has levels 0..{}",
                levels - 1
            );
        }
        match &request.kept {
            Kept::Rows(rows) if *rows > height => {
                bail!("{rows} rows kept, but the image height is {height}")
            }
            Kept::Mask(mask) if mask.len() != size => bail!(
                "the mask of kept values has {} entries; an image has {size} values",
                mask.len()
            ),
            _ => {}
        }
        if request.samples == 0 || request.samples > MAX_COMPLETIONS {
            bail!(
                "completions per image must be in 1..={MAX_COMPLETIONS}, got {}",
                request.samples
            );
        }
        if !(request.temperature >= 0.0 && request.temperature.is_finite()) {
            bail!(
                "the temperature must be a finite number >= 0, got {}",
                request.temperature
            );
        }
        let classes = config.model.num_classes();
        check_class(request.class, classes)?;
        if let Some(k) = classes {
            if request.class.is_none() && request.labels.len() != count {
                bail!("{count} images but {} classes given", request.labels.len());
            }
            if request.class.is_none()
                && let Some(&label) = request.labels.iter().find(|&&l| l >= k)
            {
                bail!(
                    "an image has class {label}, but the run has classes 0..{}",
                    k - 1
                );
            }
        }
        let dim = match (&request.vectors, model.reads_vectors_when_sampling()) {
            (Some(v), true) if !v.is_empty() && v.len() % count == 0 => v.len() / count,
            (Some(v), true) => bail!("{} vector values for {count} images", v.len()),
            (None, true) if config.model.condition().is_some() && classes.is_none() => {
                bail!("the run is conditioned on vectors: give one per image")
            }
            _ => 0,
        };
        // Each image repeated `samples` times.
        let mut given = Vec::with_capacity(count * request.samples * size);
        let mut labels = Vec::new();
        let mut vectors = Vec::new();
        for (i, image) in request.images.chunks(size).enumerate() {
            for _ in 0..request.samples {
                given.extend_from_slice(image);
                labels.push(classes.map(|_| request.class.unwrap_or(request.labels[i])));
                if let Some(v) = &request.vectors {
                    vectors.extend_from_slice(&v[i * dim..(i + 1) * dim]);
                }
            }
        }
        let mut sample = SampleRequest::new(height, width, labels, request.seed);
        sample.vectors = (dim > 0).then_some(vectors);
        sample.colours = colours;
        sample.temperature = request.temperature;
        sample.given = Some(given);
        match &request.kept {
            Kept::Rows(rows) => sample.given_positions = rows * width * colours,
            Kept::Mask(mask) => sample.given_mask = Some(mask.clone()),
        }
        Ok(if request.naive {
            sample_naive(model, &sample, device)
        } else {
            sample_cached(model, &sample, device)
        })
    }
}

impl ImageRun {
    /// The auto-encoder's codes e(x) [n, D] of the test images at `indices`, with the
    /// images themselves (levels, one after the other).
    pub fn test_codes(
        &self,
        model: &ImageModel,
        indices: &[usize],
        device: &Device,
    ) -> Result<(Vec<f32>, Vec<u8>)> {
        let ImageModel::AutoEncoder(ae) = model else {
            bail!("{} is not an auto-encoder run", self.folder.0.display());
        };
        let data = self.data()?;
        let set = &data.test;
        if let Some(&i) = indices.iter().find(|&&i| i >= set.len()) {
            bail!(
                "test image {i} does not exist: {} has {} test images",
                data.name,
                set.len()
            );
        }
        let (x, _) = train::image_batch(set, indices, device);
        let codes: Vec<f32> = ae
            .encoder
            .forward(x)
            .into_data()
            .convert::<f32>()
            .iter()
            .collect();
        let images = indices
            .iter()
            .flat_map(|&i| set.image(i).to_vec())
            .collect();
        Ok((codes, images))
    }

    /// Reconstructions or an interpolation of an auto-encoder run (see
    /// [`SampleOptions::reconstruct`] and [`SampleOptions::interpolate`]): a grid whose rows
    /// start with the originals.
    fn sample_auto_encoder(
        &self,
        model: &ImageModel,
        options: &SampleOptions,
        device: &Device,
    ) -> Result<ImageSamples> {
        if options.class.is_some() || options.condition.is_some() {
            bail!(
                "an auto-encoder run draws given the codes of test images, not classes or vectors"
            );
        }
        let config = &self.config;
        let size = config.model.colours() * config.height * config.width;
        let (vectors, originals, columns, per_row) = match options.interpolate {
            Some((a, b)) => {
                if options.reconstruct.is_some() {
                    bail!("--reconstruct and --interpolate: choose one");
                }
                let (codes, images) = self.test_codes(model, &[a, b], device)?;
                let d = codes.len() / 2;
                let n = options.n.max(2);
                let mut line = Vec::with_capacity(n * d);
                for i in 0..n {
                    let t = i as f32 / (n - 1) as f32;
                    line.extend((0..d).map(|j| (1.0 - t) * codes[j] + t * codes[d + j]));
                }
                // One row: image a, the draws along the line, image b.
                (line, images, n + 2, n)
            }
            None => {
                let k = options.reconstruct.unwrap_or(8);
                if k == 0 {
                    bail!("--reconstruct needs at least one test image");
                }
                let draws = (options.n / k).max(1);
                let indices: Vec<usize> = (0..k).collect();
                let (codes, images) = self.test_codes(model, &indices, device)?;
                let d = codes.len() / k;
                let repeated = (0..k)
                    .flat_map(|i| std::iter::repeat_n(&codes[i * d..(i + 1) * d], draws).flatten())
                    .copied()
                    .collect();
                (repeated, images, draws + 1, draws)
            }
        };
        let n = vectors.len() / config.model.latent().unwrap_or(1).max(1);
        let mut request =
            SampleRequest::new(config.height, config.width, vec![None; n], options.seed);
        request.colours = config.model.colours();
        request.vectors = Some(vectors);
        request.temperature = options.temperature;
        request.batch = options.batch;
        let drawn = if options.naive {
            sample_naive(model, &request, device)
        } else {
            sample_cached(model, &request, device)
        };
        let mut levels = Vec::with_capacity(drawn.len() + originals.len());
        if options.interpolate.is_some() {
            levels.extend_from_slice(&originals[..size]);
            levels.extend_from_slice(&drawn);
            levels.extend_from_slice(&originals[size..]);
        } else {
            for (row, original) in originals.chunks(size).enumerate() {
                levels.extend_from_slice(original);
                levels.extend_from_slice(&drawn[row * per_row * size..(row + 1) * per_row * size]);
            }
        }
        Ok(ImageSamples {
            levels,
            shape: crate::viz::ImageShape {
                colours: config.model.colours(),
                height: config.height,
                width: config.width,
                levels: config.model.levels(),
            },
            columns,
        })
    }

    /// The vectors h of `n` samples of a vector-conditioned run (`None` for other runs): the
    /// rows of `options.condition`, or the test images' vectors in turn.
    pub fn sample_vectors(&self, options: &SampleOptions, n: usize) -> Result<Option<Vec<f32>>> {
        let dim = match self.config.model.condition() {
            Some(crate::models::ConditionWidth::Vectors(d)) => d,
            _ => {
                if let Some(spec) = &options.condition {
                    bail!(
                        "{spec}: the run {} is not conditioned on vectors",
                        self.folder.0.display()
                    );
                }
                return Ok(None);
            }
        };
        let vectors = sample_vectors(options.condition.as_deref(), dim, n, || {
            let data = self.data()?;
            let values = data.test.vectors.as_ref().map(|v| v.values.clone());
            Ok((data.name, values.unwrap_or_default()))
        })?;
        Ok(Some(vectors))
    }
}

/// The vectors h of `n` samples of a run conditioned on vectors of `dim` values: the rows of
/// `spec` (`vectors:FILE`, at least `n` of them, row i for sample i), or without it the
/// vectors that `default` gives (the data's name and its test examples' vectors), in turn.
fn sample_vectors(
    spec: Option<&str>,
    dim: usize,
    n: usize,
    default: impl FnOnce() -> Result<(String, Vec<f32>)>,
) -> Result<Vec<f32>> {
    let values = match spec {
        Some(spec) => {
            let v = train::image::read_vectors(spec)?;
            if v.dim != dim {
                bail!(
                    "{}: vectors of {} values, but the run is conditioned on vectors of {dim}",
                    v.origin,
                    v.dim
                );
            }
            if v.rows() < n {
                bail!(
                    "{}: {} rows for {n} samples (one row per sample)",
                    v.origin,
                    v.rows()
                );
            }
            v.values
        }
        None => {
            let (name, values) = default()?;
            if values.len() < dim {
                bail!("{name} has no test vectors to draw for");
            }
            values
        }
    };
    let rows = values.len() / dim;
    Ok((0..n)
        .flat_map(|i| values[(i % rows) * dim..(i % rows + 1) * dim].to_vec())
        .collect())
}

/// Sequences drawn from a sequence run, in the form their data takes.
#[derive(Debug, Clone)]
pub enum SequenceSamples {
    /// The digits drawn as 64-step sequences: 8x8 images.
    Digits(ImageSamples),
    /// Piano rolls: `n` × `length` × `keys` values of 0 or 1.
    PianoRolls {
        /// The rolls, roll after roll, step after step, key after key.
        values: Vec<f32>,
        /// Steps per roll.
        length: usize,
        /// Keys per step.
        keys: usize,
    },
    /// Text: one string per sample.
    Text(Vec<String>),
    /// Real values in the data's units: one row per sample.
    Values(Vec<Vec<f64>>),
    /// Sound: one clip of samples in [−1, 1] per sample (the levels decoded by the data's
    /// quantisation), at `sample_rate`.
    Audio {
        /// The clips.
        clips: Vec<Vec<f32>>,
        /// Samples per second.
        sample_rate: u32,
        /// The class name of each clip, for a class-conditional run.
        labels: Vec<Option<String>>,
    },
}

impl SequenceRun {
    /// The run's model with `weights`, on `device`.
    pub fn model(&self, weights: Weights, device: &Device) -> Result<SequenceModel> {
        self.config
            .load_model(&self.folder, weights == Weights::Best, device)
    }

    /// The run's data, checked against the run.
    pub fn data(&self) -> Result<SequenceData> {
        crate::train::sequence::load_data(&self.config)
    }

    /// The metrics of `split` of the run's data ([`SequenceRun::data`]).
    pub fn metrics(
        &self,
        split: Split,
        weights: Weights,
        batch_size: usize,
        device: &Device,
    ) -> Result<SequenceMetrics> {
        self.metrics_on(&self.data()?, split, weights, batch_size, device)
    }

    /// The metrics of `split` of `data`, the run's data already loaded (and checked).
    pub fn metrics_on(
        &self,
        data: &SequenceData,
        split: Split,
        weights: Weights,
        batch_size: usize,
        device: &Device,
    ) -> Result<SequenceMetrics> {
        let model = self.model(weights, device)?;
        let set = split.pick(&data.train, &data.valid, &data.test);
        let labels = set.iter().map(|e| e.label);
        check_split(
            split,
            &data.name,
            set.len(),
            labels,
            self.config.model.num_classes,
        )?;
        Ok(evaluate_sequences(
            &self.config.model,
            &model,
            data,
            set,
            batch_size,
            device,
        ))
    }

    /// The evaluation report of `split` ([`SequenceRun::metrics`] in the common schema).
    pub fn evaluate(
        &self,
        split: Split,
        weights: Weights,
        batch_size: usize,
        device: &Device,
    ) -> Result<EvalReport> {
        let m = self.metrics(split, weights, batch_size, device)?;
        Ok(EvalReport {
            run: self.folder.0.display().to_string(),
            kind: RunKind::Sequence,
            model: self.config.model.kind().name().to_string(),
            data: self.config.data.clone(),
            split,
            weights: Some(weights),
            examples: m.sequences,
            dims: m.steps,
            nats_per_example: m.nats_per_sequence,
            nats_per_dim: m.nats_per_step,
            bits_per_dim: m.nats_per_step / std::f64::consts::LN_2,
            metrics: FamilyMetrics::Sequence(m),
            conditional_on: ConditionedOn::of_condition(self.config.model.condition()),
        })
    }

    /// Draws sequences (of `options.length` steps, by default the length of the test
    /// sequences, at most 512).
    pub fn sample(&self, options: &SampleOptions, device: &Device) -> Result<SequenceSamples> {
        self.sample_on(&self.data()?, options, device)
    }

    /// [`SequenceRun::sample`] from `data`, the run's data already loaded (and checked).
    pub fn sample_on(
        &self,
        data: &SequenceData,
        options: &SampleOptions,
        device: &Device,
    ) -> Result<SequenceSamples> {
        options.validate()?;
        let model = self.model(options.weights, device)?;
        sample_sequence_model(&self.config, &model, data, options, device)
    }
}

/// Draws sequences from `model` (trained as `config` says on `data`, which gives the
/// default length, the covariates, the test vectors and the units of the values): of
/// `options.length` steps, by default the length of the test sequences, at most 512.
pub fn sample_sequence_model(
    config: &SequenceTrainingConfig,
    model: &SequenceModel,
    data: &SequenceData,
    options: &SampleOptions,
    device: &Device,
) -> Result<SequenceSamples> {
    options.validate()?;
    {
        if data.train.iter().any(|e| e.inputs.is_some()) {
            bail!(
                "{} is a prediction task with separate inputs, not a generative data set: use argen eval",
                data.name
            );
        }
        let output = config.model.output;
        let dims = output.dims();
        // Sound continues its prefix, if given.
        let prefix = match (&options.prefix, &data.audio) {
            (None, _) => Vec::new(),
            (Some(path), Some(audio)) => {
                let levels = audio.levels_of(path)?;
                if levels.is_empty() {
                    bail!("the prefix {} holds no samples", path.display());
                }
                if levels.len() >= MAX_SEQUENCE_LENGTH {
                    bail!(
                        "the prefix {} is {} samples at {} Hz: a sequence run generates at most \
                         {MAX_SEQUENCE_LENGTH} steps in all",
                        path.display(),
                        levels.len(),
                        audio.sample_rate
                    );
                }
                levels
            }
            (Some(_), None) => bail!(
                "--prefix takes a WAV file to continue and serves sound runs; {} is not sound",
                data.name
            ),
        };
        // Sound: one second (after the prefix); other data: its test length, at most 512.
        let default_length = match &data.audio {
            Some(audio) => prefix.len() + audio.sample_rate as usize,
            None => data.test.first().map_or(64, |e| e.len(dims)).min(512),
        };
        let length = options.length.unwrap_or(default_length);
        if length > MAX_SEQUENCE_LENGTH {
            bail!(
                "--length {length} is more than the {MAX_SEQUENCE_LENGTH} steps a sequence run generates"
            );
        }
        if !prefix.is_empty() && length <= prefix.len() {
            bail!(
                "--length {length} does not go past the prefix's {} samples: the length counts \
                 the prefix and what follows it",
                prefix.len()
            );
        }
        let values = options.n.saturating_mul(length).saturating_mul(dims);
        if values > 100_000_000 {
            bail!(
                "{} samples of {length} steps are {values} values: more than the 100,000,000 \
                 one call holds in memory (lower --n or --length)",
                options.n
            );
        }
        // A series with covariates is drawn from its start given the file's covariates.
        let covariates = match &data.covariates {
            Some(layout) => Some(layout.aligned(0, length).ok_or_else(|| {
                anyhow::anyhow!(
                    "{} has covariates for {} steps{}: a sample of {length} steps needs them all \
                     (lower --length)",
                    data.name,
                    layout.len(),
                    if layout.known_ahead {
                        " (known ahead: one more than the steps drawn)"
                    } else {
                        ""
                    }
                )
            })?),
            None => None,
        };
        let vectors = match config.model.vector_dim {
            Some(dim) => Some(sample_vectors(
                options.condition.as_deref(),
                dim,
                options.n,
                || {
                    let values = data
                        .test
                        .iter()
                        .flat_map(|e| e.vector.clone().unwrap_or_default())
                        .collect();
                    Ok((data.name.clone(), values))
                },
            )?),
            None => {
                if options.condition.is_some() {
                    bail!(
                        "the {} is not conditioned on vectors",
                        config.model.describe()
                    );
                }
                None
            }
        };
        let request = SequenceRequest {
            labels: options.labels(config.model.num_classes)?,
            covariates,
            vectors,
            length,
            prefix,
            temperature: options.temperature,
            seed: options.seed,
            batch: options.batch,
        };
        let values = if options.naive {
            sample_sequences_naive(model, output, &request, device)
        } else {
            sample_sequences(model, output, &request, device)
        };
        let n = options.n;
        if let Some(audio) = &data.audio {
            return Ok(SequenceSamples::Audio {
                clips: values.chunks(length).map(|c| audio.decode(c)).collect(),
                sample_rate: audio.sample_rate,
                labels: request
                    .labels
                    .iter()
                    .map(|l| l.and_then(|k| audio.class_names.get(k).cloned()))
                    .collect(),
            });
        }
        if data.name == "digits" && length == 64 {
            return Ok(SequenceSamples::Digits(ImageSamples {
                levels: values.iter().map(|&v| v as u8).collect(),
                shape: crate::viz::ImageShape {
                    colours: 1,
                    height: 8,
                    width: 8,
                    levels: output.levels().unwrap_or(17),
                },
                columns: (n as f64).sqrt().ceil() as usize,
            }));
        }
        if let crate::distributions::OutputDistribution::Bernoulli { dims: keys } = output {
            return Ok(SequenceSamples::PianoRolls {
                values,
                length,
                keys,
            });
        }
        let rows = values.chunks(length * dims);
        Ok(match (&data.alphabet, data.scale) {
            (Some(alphabet), _) => SequenceSamples::Text(
                rows.map(|seq| {
                    seq.iter()
                        .map(|&v| alphabet.get(v as usize).copied().unwrap_or('?'))
                        .collect()
                })
                .collect(),
            ),
            (None, scale) => {
                let (mean, std) = scale.unwrap_or((0.0, 1.0));
                SequenceSamples::Values(
                    rows.map(|seq| seq.iter().map(|&v| f64::from(v) * std + mean).collect())
                        .collect(),
                )
            }
        })
    }
}

impl ClassicFit {
    /// The exact conditional log-likelihood of `split`: the held-out part (`test`, each
    /// value given the ones before it, the first ones from the training part) or the
    /// training part (`train`).
    pub fn evaluate(&self, split: Split) -> Result<EvalReport> {
        let run = &self.fit;
        let from = match split {
            Split::Train => 0,
            Split::Test => run.train_length,
            Split::Valid => bail!("classical runs have a train and a test split only"),
        };
        let (ll, steps, end, chain, model) = match &run.model {
            ClassicModel::Ar { model, .. } => {
                let values = run.values()?.values;
                let end = if split == Split::Train {
                    run.train_length
                } else {
                    values.len()
                };
                let (ll, steps) = model.log_likelihood(&values[..end], from);
                (ll, steps, end, false, "ar")
            }
            ClassicModel::Arx {
                model, covariates, ..
            } => {
                let data = run.covariate_values(covariates)?;
                let end = if split == Split::Train {
                    run.train_length
                } else {
                    data.target.len()
                };
                let (ll, steps) =
                    model.log_likelihood(&data.target[..end], &data.covariates, from)?;
                (ll, steps, end, false, "arx")
            }
            ClassicModel::Markov { chain, alphabet } => {
                let symbols = run.symbols(alphabet)?;
                let end = if split == Split::Train {
                    run.train_length
                } else {
                    symbols.len()
                };
                let (ll, steps) = chain.log_likelihood(&symbols[..end], from)?;
                (ll, steps, end, true, "markov")
            }
        };
        if steps == 0 {
            bail!(
                "the {split} split of {} has no step to score ({end} values, held out from {from})",
                run.data,
            );
        }
        let per_step = -ll / steps as f64;
        Ok(EvalReport {
            run: self.folder.display().to_string(),
            kind: RunKind::Classic,
            model: model.to_string(),
            data: run.data.clone(),
            split,
            weights: None,
            examples: 1,
            dims: steps,
            nats_per_example: -ll,
            nats_per_dim: per_step,
            bits_per_dim: per_step / std::f64::consts::LN_2,
            metrics: FamilyMetrics::Classic(ClassicMetrics {
                steps,
                log_likelihood: ll,
                bits_per_symbol: chain.then(|| per_step / std::f64::consts::LN_2),
                perplexity: chain.then(|| per_step.exp()),
            }),
            conditional_on: None,
        })
    }
}
