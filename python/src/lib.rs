//! Python bindings of argen: the extension module `argen._argen`, which `argen/__init__.py`
//! re-exports with the conversions of numpy arrays and the progress bar.
//!
//! Every function here is a thin layer over the library: it turns numpy arrays into the
//! library's data types, calls the same function the command line calls, with the Python
//! lock released while Rust computes, and turns errors into Python exceptions. Nothing is
//! computed here that the library does not compute for the command line too.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::module::Module;
use burn::prelude::Device;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use argen::classic::ar::{self, ArMethod, ArModel, FitStatistics};
use argen::classic::markov::MarkovChain;
use argen::classic::{Alphabet, ClassicModel};
use argen::data::sequences::{SeqExample, SequenceData, load_sequences};
use argen::data::{ImageData, ImageSet, SetVectors};
use argen::generate::{SampleRequest, sample_cached, sample_naive};
use argen::models::options::SequenceModelOptions;
use argen::models::{
    ConditionWidth, ImageFormat, ImageModel, ImageModelOptions, SequenceModel, SequenceModelKind,
};
use argen::run::{
    Run, SampleOptions, SequenceSamples, Split, Weights, check_class, sample_sequence_model,
};
use argen::train::image::{ImageTask, TrainingConfig};
use argen::train::sequence::{
    SequenceTask, SequenceTrainingConfig, evaluate_sequences, sequence_log_probs,
};
use argen::train::{
    EpochStatus, Interrupted, Progress, RunFolder, StepStatus, TrainOptions, Watch, train_watched,
};

/// The data name written into the config of a run trained on arrays.
const ARRAYS: &str = "arrays";

/// A library error as a Python exception: a stopped run is `KeyboardInterrupt`, a missing
/// file `FileNotFoundError`, another failing file operation `OSError`, anything else
/// (shapes, values, options) `ValueError`; the message is the library's, with its causes.
fn to_py(error: anyhow::Error) -> PyErr {
    let message = format!("{error:#}");
    if error.downcast_ref::<Interrupted>().is_some() {
        return PyKeyboardInterrupt::new_err(message);
    }
    for cause in error.chain() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
                _ => PyOSError::new_err(message),
            };
        }
    }
    PyValueError::new_err(message)
}

/// A `ValueError` with `message`.
fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// The elements of a C-contiguous array (the Python layer makes them so).
fn elements<'a, T: numpy::Element>(array: &'a PyReadonlyArrayDyn<'_, T>) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|_| value_error("the array must be C-contiguous"))
}

// ---------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------

/// Images [N, H, W] (grey) or [N, C, H, W] (C = 1 or 3) as the library's [`ImageSet`], with
/// labels [N] and vectors [N, D] when given.
fn image_set(
    images: &PyReadonlyArrayDyn<'_, u8>,
    labels: Option<&PyReadonlyArrayDyn<'_, i64>>,
    vectors: Option<&PyReadonlyArrayDyn<'_, f32>>,
) -> PyResult<ImageSet> {
    let shape = images.shape();
    let shape = match *shape {
        [n, h, w] => [n, 1, h, w],
        [n, c, h, w] if c == 1 || c == 3 => [n, c, h, w],
        _ => {
            return Err(value_error(format!(
                "images must be [N, H, W] (grey) or [N, C, H, W] with C = 1 or 3, got shape {shape:?}"
            )));
        }
    };
    let n = shape[0];
    if n == 0 {
        return Err(value_error("no images were given (N = 0)"));
    }
    let labels = match labels {
        None => None,
        Some(labels) => {
            let values = elements(labels)?;
            if labels.shape() != [n] {
                return Err(value_error(format!(
                    "labels must be [N] = [{n}], got shape {:?}",
                    labels.shape()
                )));
            }
            let mut out = Vec::with_capacity(n);
            for (i, &l) in values.iter().enumerate() {
                out.push(u8::try_from(l).map_err(|_| {
                    value_error(format!("label {l} of image {i} is outside 0..=255"))
                })?);
            }
            Some(out)
        }
    };
    let mut set = ImageSet::from_levels(elements(images)?.to_vec(), shape, labels)
        .map_err(|e| to_py(e.into()))?;
    if let Some(vectors) = vectors {
        let values = elements(vectors)?;
        let dim = match *vectors.shape() {
            [rows, dim] if rows == n && dim > 0 => dim,
            _ => {
                return Err(value_error(format!(
                    "vectors must be [N, D] = [{n}, D] with D >= 1, got shape {:?}",
                    vectors.shape()
                )));
            }
        };
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(value_error(format!(
                "vector {} holds {} at dimension {}: vectors must be finite",
                i / dim,
                values[i],
                i % dim
            )));
        }
        set.vectors = Some(SetVectors {
            dim,
            values: values.to_vec(),
        });
    }
    Ok(set)
}

/// The levels of images laid out [n][colour][row][column] as an array [n, H, W] (grey) or
/// [n, C, H, W] (colour).
fn image_array<'py>(
    py: Python<'py>,
    levels: Vec<u8>,
    colours: usize,
    height: usize,
    width: usize,
) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
    let n = levels.len() / (colours * height * width).max(1);
    let shape: Vec<usize> = if colours == 1 {
        vec![n, height, width]
    } else {
        vec![n, colours, height, width]
    };
    let array =
        ArrayD::from_shape_vec(IxDyn(&shape), levels).map_err(|e| value_error(e.to_string()))?;
    Ok(array.into_pyarray(py))
}

/// A trained image model (Gated PixelCNN, PixelCNN or PixelCNN++) with its settings, in
/// memory or read from a run folder.
#[pyclass(name = "ImageModel", module = "argen", frozen)]
struct PyImageModel {
    config: TrainingConfig,
    model: ImageModel,
    folder: Option<PathBuf>,
}

impl PyImageModel {
    fn device() -> Device {
        Device::flex()
    }

    /// Checks that `set` has the run's image shape and levels and the conditioning the
    /// model reads.
    fn check_images(&self, set: &ImageSet, what: &str) -> PyResult<()> {
        let model = &self.config.model;
        let want = (model.colours(), self.config.height, self.config.width);
        let have = (set.channels, set.height, set.width);
        if have != want {
            return Err(value_error(format!(
                "{what}: the model reads images of {}x{}x{} (C x H x W), got {}x{}x{}",
                want.0, want.1, want.2, have.0, have.1, have.2
            )));
        }
        let levels = model.levels();
        if let Some(&v) = set.pixels.iter().find(|&&v| usize::from(v) >= levels) {
            return Err(value_error(format!(
                "{what}: the value {v} is not a level of this model (0..={})",
                levels - 1
            )));
        }
        self.check_condition(
            set.labels.iter().map(|&l| usize::from(l)),
            set.vectors.as_ref().map(|v| v.dim),
            what,
        )
    }

    /// Checks classes and vector width against the model's conditioning.
    fn check_condition(
        &self,
        labels: impl Iterator<Item = usize>,
        vector_dim: Option<usize>,
        what: &str,
    ) -> PyResult<()> {
        match (self.model_condition(), vector_dim) {
            (Some(ConditionWidth::Vectors(d)), Some(h)) if d != h => Err(value_error(format!(
                "{what}: the model reads vectors of {d} values, got {h}"
            ))),
            (Some(ConditionWidth::Vectors(_)), None) => Err(value_error(format!(
                "{what}: the model is conditioned on vectors: give vectors= [N, D]"
            ))),
            (Some(ConditionWidth::Vectors(_)), Some(_)) => Ok(()),
            (_, Some(_)) => Err(value_error(format!(
                "{what}: the model is not conditioned on vectors"
            ))),
            (Some(ConditionWidth::Classes(k)), None) => {
                for l in labels {
                    check_class(Some(l), Some(k))
                        .map_err(|e| value_error(format!("{what}: {e}")))?;
                }
                Ok(())
            }
            (None, None) => Ok(()),
        }
    }

    fn model_condition(&self) -> Option<ConditionWidth> {
        self.config.model.condition()
    }

    fn from_run(run: argen::run::ImageRun, weights: Weights) -> PyResult<Self> {
        let model = run.model(weights, &Self::device()).map_err(to_py)?;
        Ok(Self {
            config: run.config,
            model,
            folder: Some(run.folder.0),
        })
    }
}

#[pymethods]
impl PyImageModel {
    /// log p(x) of each image, in nats: a float64 array [N].
    #[pyo3(signature = (images, *, labels=None, vectors=None, batch_size=256))]
    fn log_prob<'py>(
        &self,
        py: Python<'py>,
        images: PyReadonlyArrayDyn<'py, u8>,
        labels: Option<PyReadonlyArrayDyn<'py, i64>>,
        vectors: Option<PyReadonlyArrayDyn<'py, f32>>,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let set = image_set(&images, labels.as_ref(), vectors.as_ref())?;
        self.check_images(&set, "log_prob")?;
        if batch_size == 0 {
            return Err(value_error("batch_size must be at least 1"));
        }
        let log_p = py.detach(|| {
            argen::train::image::log_probs(&self.model, &set, batch_size, &Self::device())
        });
        let n = log_p.len();
        let array =
            ArrayD::from_shape_vec(IxDyn(&[n]), log_p).map_err(|e| value_error(e.to_string()))?;
        Ok(array.into_pyarray(py))
    }

    /// Draws `n` images: uint8 [n, H, W] (grey) or [n, C, H, W] (colour). A class-conditional
    /// model draws `classes` (one class for all, or one per image; default: the classes in
    /// turn); a vector-conditioned one needs `vectors` [n, D].
    #[pyo3(signature = (n, *, seed=0, temperature=1.0, classes=None, vectors=None, naive=false, batch_size=64))]
    #[allow(clippy::too_many_arguments)]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        temperature: f64,
        classes: Option<Vec<usize>>,
        vectors: Option<PyReadonlyArrayDyn<'py, f32>>,
        naive: bool,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
        let options = SampleOptions {
            n,
            seed,
            temperature,
            batch: batch_size,
            ..SampleOptions::default()
        };
        options.validate().map_err(to_py)?;
        self.generate(py, options, classes, vectors, None, naive)
    }

    /// Completes images: the top `keep_rows` rows (default: half the image) are kept, the
    /// rest drawn from the model given them. Returns an array of the images' shape.
    #[pyo3(signature = (images, *, keep_rows=None, seed=0, temperature=1.0, labels=None, vectors=None, naive=false))]
    #[allow(clippy::too_many_arguments)]
    fn complete<'py>(
        &self,
        py: Python<'py>,
        images: PyReadonlyArrayDyn<'py, u8>,
        keep_rows: Option<usize>,
        seed: u64,
        temperature: f64,
        labels: Option<PyReadonlyArrayDyn<'py, i64>>,
        vectors: Option<PyReadonlyArrayDyn<'py, f32>>,
        naive: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
        if self.config.model.num_classes().is_some() && labels.is_none() {
            return Err(value_error(
                "complete: the model is class-conditional: give labels= [N]",
            ));
        }
        let set = image_set(&images, labels.as_ref(), vectors.as_ref())?;
        self.check_images(&set, "complete")?;
        let rows = keep_rows.unwrap_or(self.config.height / 2);
        if rows > self.config.height {
            return Err(value_error(format!(
                "keep_rows {rows} is more than the image height {}",
                self.config.height
            )));
        }
        let options = SampleOptions {
            n: set.len(),
            seed,
            temperature,
            ..SampleOptions::default()
        };
        options.validate().map_err(to_py)?;
        let classes = set.labels.iter().map(|&l| usize::from(l)).collect();
        let given = (
            set.pixels,
            rows * self.config.width * self.config.model.colours(),
        );
        self.generate(py, options, Some(classes), vectors, Some(given), naive)
    }

    /// The number of trained parameters.
    #[getter]
    fn num_params(&self) -> usize {
        self.model.num_params()
    }

    /// Discrete values per colour channel (L).
    #[getter]
    fn levels(&self) -> usize {
        self.config.model.levels()
    }

    /// The image shape (C, H, W).
    #[getter]
    fn shape(&self) -> (usize, usize, usize) {
        (
            self.config.model.colours(),
            self.config.height,
            self.config.width,
        )
    }

    /// Number of classes of a class-conditional model, else None.
    #[getter]
    fn num_classes(&self) -> Option<usize> {
        self.config.model.num_classes()
    }

    /// The run folder, when the model has one.
    #[getter]
    fn path(&self) -> Option<String> {
        self.folder.as_ref().map(|p| p.display().to_string())
    }

    /// The model's name (`gated-pixelcnn`, `pixelcnn`, `pixelcnn-pp`).
    #[getter]
    fn model(&self) -> &str {
        self.config.model.name()
    }

    /// The run's settings (what `config.json` holds), as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&self.config).map_err(|e| value_error(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    fn __repr__(&self) -> String {
        let (c, h, w) = self.shape();
        let at = match &self.folder {
            Some(p) => format!(", run='{}'", p.display()),
            None => ", in memory".to_string(),
        };
        format!(
            "ImageModel({}, {c}x{h}x{w} images of {} levels, {} parameters{at})",
            self.config.model.describe(),
            self.levels(),
            self.num_params()
        )
    }
}

impl PyImageModel {
    /// Sampling and completion: the request the command line builds, then the cached (or
    /// naive) sampler.
    fn generate<'py>(
        &self,
        py: Python<'py>,
        options: SampleOptions,
        classes: Option<Vec<usize>>,
        vectors: Option<PyReadonlyArrayDyn<'py, f32>>,
        given: Option<(Vec<u8>, usize)>,
        naive: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
        if self.model.is_auto_encoder() {
            return Err(value_error(
                "this is a PixelCNN auto-encoder: sample it with `argen sample` (codes of test images)",
            ));
        }
        let n = options.n;
        let num_classes = self.config.model.num_classes();
        let labels: Vec<Option<usize>> = match (num_classes, classes) {
            (None, Some(_)) if given.is_none() => {
                return Err(value_error("classes= needs a class-conditional model"));
            }
            (None, _) => vec![None; n],
            (Some(_), Some(c)) if c.len() == 1 => vec![Some(c[0]); n],
            (Some(_), Some(c)) if c.len() == n => c.into_iter().map(Some).collect(),
            (Some(_), Some(c)) => {
                return Err(value_error(format!(
                    "classes: give one class or one per image ({n}), got {}",
                    c.len()
                )));
            }
            (Some(_), None) => options.labels(num_classes).map_err(to_py)?,
        };
        for label in &labels {
            check_class(*label, num_classes).map_err(to_py)?;
        }
        let vectors = match vectors {
            None => None,
            Some(v) => {
                let dim = match *v.shape() {
                    [rows, dim] if rows == n => dim,
                    _ => {
                        return Err(value_error(format!(
                            "vectors must be [n, D] = [{n}, D], got shape {:?}",
                            v.shape()
                        )));
                    }
                };
                let values = elements(&v)?.to_vec();
                if values.iter().any(|x| !x.is_finite()) {
                    return Err(value_error("vectors must be finite"));
                }
                Some((dim, values))
            }
        };
        self.check_condition(std::iter::empty(), vectors.as_ref().map(|v| v.0), "sample")?;
        let (colours, height, width) = self.shape();
        let mut request = SampleRequest::new(height, width, labels, options.seed);
        request.colours = colours;
        request.temperature = options.temperature;
        request.batch = options.batch;
        request.vectors = vectors.map(|v| v.1);
        if let Some((levels, positions)) = given {
            request.given = Some(levels);
            request.given_positions = positions;
        }
        let device = Self::device();
        let levels = py.detach(|| {
            if naive {
                sample_naive(&self.model, &request, &device)
            } else {
                sample_cached(&self.model, &request, &device)
            }
        });
        image_array(py, levels, colours, height, width)
    }
}

/// What a training run reports to Python: a callback per step and epoch, and Ctrl-C (or an
/// exception in the callback) stops the run between two steps.
struct PythonWatch {
    callback: Option<Py<PyAny>>,
    failure: Mutex<Option<PyErr>>,
}

impl PythonWatch {
    fn call(&self, fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>) {
        let Some(callback) = &self.callback else {
            return;
        };
        Python::attach(|py| {
            let result = (|| {
                let info = PyDict::new(py);
                fill(&info)?;
                callback.call1(py, (info,)).map(|_| ())
            })();
            if let Err(e) = result {
                self.failure.lock().expect("not poisoned").get_or_insert(e);
            }
        });
    }
}

impl Watch for PythonWatch {
    fn step(&self, s: &StepStatus) {
        self.call(|d| {
            d.set_item("event", "step")?;
            d.set_item("epoch", s.epoch)?;
            d.set_item("epochs", s.epochs)?;
            d.set_item("step", s.step)?;
            d.set_item("steps", s.steps)?;
            d.set_item("loss", s.loss)?;
            d.set_item("examples_per_second", s.examples_per_second)
        });
    }

    fn epoch(&self, s: &EpochStatus) {
        self.call(|d| {
            d.set_item("event", "epoch")?;
            d.set_item("epoch", s.epoch)?;
            d.set_item("epochs", s.epochs)?;
            d.set_item("train_loss", s.train_loss)?;
            d.set_item("valid_loss", s.valid_score)?;
            d.set_item("seconds", s.seconds)?;
            d.set_item("summary", s.summary.as_str())
        });
    }

    fn should_stop(&self) -> bool {
        let mut failure = self.failure.lock().expect("not poisoned");
        if failure.is_none()
            && let Err(e) = Python::attach(|py| py.check_signals())
        {
            *failure = Some(e);
        }
        failure.is_some()
    }
}

/// Trains an image model on arrays. The last `valid_fraction` of the images (in the given
/// order) are held out for validation; the best validation weights are returned.
#[pyfunction]
#[pyo3(signature = (
    images, *, levels=256, labels=None, vectors=None, model="gated-pixelcnn", channels=None,
    layers=None, kernel=None, first_kernel=None, head=None, dropout=None, conditional=false,
    resolutions=None, mixture=None, epochs=None, batch_size=None, lr=None, seed=0,
    valid_fraction=0.1, out=None, callback=None
))]
#[allow(clippy::too_many_arguments)]
fn train_images(
    py: Python<'_>,
    images: PyReadonlyArrayDyn<'_, u8>,
    levels: usize,
    labels: Option<PyReadonlyArrayDyn<'_, i64>>,
    vectors: Option<PyReadonlyArrayDyn<'_, f32>>,
    model: &str,
    channels: Option<usize>,
    layers: Option<usize>,
    kernel: Option<usize>,
    first_kernel: Option<usize>,
    head: Option<usize>,
    dropout: Option<f64>,
    conditional: bool,
    resolutions: Option<usize>,
    mixture: Option<usize>,
    epochs: Option<usize>,
    batch_size: Option<usize>,
    lr: Option<f64>,
    seed: u64,
    valid_fraction: f64,
    out: Option<PathBuf>,
    callback: Option<Py<PyAny>>,
) -> PyResult<PyImageModel> {
    if conditional && labels.is_none() {
        return Err(value_error("conditional=True needs labels= [N]"));
    }
    let all = image_set(&images, labels.as_ref(), vectors.as_ref())?;
    if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
        return Err(value_error(format!(
            "valid_fraction must be between 0 and 1 (exclusive), got {valid_fraction}"
        )));
    }
    let n = all.len();
    if n < 2 {
        return Err(value_error(
            "training needs at least 2 images (one to train on, one to validate)",
        ));
    }
    let n_valid = ((n as f64 * valid_fraction).round() as usize).clamp(1, n - 1);
    let train_part = all.subset(&(0..n - n_valid).collect::<Vec<_>>());
    let valid_part = all.subset(&(n - n_valid..n).collect::<Vec<_>>());
    let test_part = all.subset(&[]);
    let mut data = ImageData::from_sets(ARRAYS, levels, train_part, valid_part, test_part)
        .map_err(|e| to_py(e.into()))?;

    let defaults = ImageModelOptions::default();
    let options = ImageModelOptions {
        model: model.to_string(),
        channels: channels.unwrap_or(defaults.channels),
        layers,
        first_kernel: first_kernel.unwrap_or(defaults.first_kernel),
        kernel: kernel.unwrap_or(defaults.kernel),
        head: head.unwrap_or(defaults.head),
        dropout,
        conditional,
        resolutions,
        mixture,
        ..defaults
    };
    if !argen::models::options::is_image_model(model) {
        return Err(value_error(format!(
            "unknown image model '{model}': gated-pixelcnn, pixelcnn or pixelcnn-pp"
        )));
    }
    let model_config = options
        .build(ImageFormat::of(&data), ARRAYS)
        .map_err(to_py)?;
    let mut training = TrainOptions::for_images(ARRAYS);
    if let Some(epochs) = epochs {
        training = training.epochs(epochs);
    }
    if let Some(b) = batch_size {
        training = training.batch_size(b);
    }
    if let Some(lr) = lr {
        training = training.learning_rate(lr);
    }
    training = training.seed(seed);
    training.validate().map_err(to_py)?;
    let folder = out.map(RunFolder);
    if let Some(f) = &folder {
        if f.config().exists() {
            return Err(value_error(format!(
                "{} already holds a run; open it with argen.open_run, or choose another folder",
                f.0.display()
            )));
        }
        // The split goes into the run folder, so that the command line reopens the run
        // with its data (`argen eval`, `train --resume`).
        let dir = f.0.join("data");
        argen::data::arrays::save_arrays_dir(&data, &dir).map_err(to_py)?;
        data.name = argen::data::absolute_source(&format!("arrays:{}", dir.display()));
    }
    let config = TrainingConfig::new(
        model_config,
        data.name.clone(),
        data.train.height,
        data.train.width,
        training,
    );
    let trained = run_watched(py, callback, |watch| {
        train_watched(
            &ImageTask::new(&config, &data),
            folder.as_ref(),
            false,
            Progress::Silent,
            &[PyImageModel::device()],
            watch,
        )
    })?;
    Ok(PyImageModel {
        config,
        model: trained.model,
        folder: folder.map(|f| f.0),
    })
}

// ---------------------------------------------------------------------------------------
// Neural sequence models
// ---------------------------------------------------------------------------------------

/// A trained neural sequence model (window MLP, GRU, LSTM, WaveNet, TCN) with its data, in
/// memory or read from a run folder.
#[pyclass(name = "SequenceModel", module = "argen", frozen)]
struct PySequenceModel {
    config: SequenceTrainingConfig,
    model: SequenceModel,
    data: SequenceData,
    folder: Option<PathBuf>,
}

#[pymethods]
impl PySequenceModel {
    /// The exact NLL of the model's held-out `split` ("train", "valid" or "test"): a dict
    /// of the metrics `argen eval` prints (nats per step, per sequence, accuracy, ...).
    #[pyo3(signature = (split="test", *, batch_size=256))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        split: &str,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let split: Split = split.parse().map_err(value_error)?;
        if batch_size == 0 {
            return Err(value_error("batch_size must be at least 1"));
        }
        let set = split.pick(&self.data.train, &self.data.valid, &self.data.test);
        if set.is_empty() {
            return Err(value_error(format!(
                "the {split} part of the data is empty"
            )));
        }
        let metrics = py.detach(|| {
            evaluate_sequences(
                &self.config.model,
                &self.model,
                &self.data,
                set,
                batch_size,
                &Device::flex(),
            )
        });
        let text = serde_json::to_string(&metrics).map_err(|e| value_error(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// log p(x) of each given sequence, in nats: a float64 array [N]. A text model takes a
    /// str or a list of str, a real-series model a float64 array [T] or [N, T] (in the
    /// series' units: the density includes the standardisation's Jacobian), a model of
    /// levels an integer array [T] or [N, T].
    #[pyo3(signature = (sequences, *, batch_size=256))]
    fn log_prob<'py>(
        &self,
        py: Python<'py>,
        sequences: &Bound<'py, PyAny>,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        if self.config.model.num_classes.is_some() || self.config.model.vector_dim.is_some() {
            return Err(value_error(
                "log_prob of a conditional sequence model is not in the Python package yet",
            ));
        }
        if self.data.covariates.is_some() || self.data.train.iter().any(|e| e.inputs.is_some()) {
            return Err(value_error(
                "log_prob of a model with inputs or covariates is not in the Python package yet",
            ));
        }
        let rows: Vec<Vec<f32>> = match (&self.data.alphabet, self.data.output) {
            (Some(alphabet), _) => {
                let texts: Vec<String> = match sequences.extract::<String>() {
                    Ok(text) => vec![text],
                    Err(_) => sequences
                        .extract()
                        .map_err(|_| value_error("a text model takes a str or a list of str"))?,
                };
                let mut rows = Vec::with_capacity(texts.len());
                for (i, text) in texts.iter().enumerate() {
                    let codes =
                        argen::data::series::encode_chars(text, alphabet).ok_or_else(|| {
                            value_error(format!(
                                "text {i} holds a character the model was not trained on"
                            ))
                        })?;
                    rows.push(codes.iter().map(|&c| c as f32).collect());
                }
                rows
            }
            (None, argen::distributions::OutputDistribution::Gaussian { dims: 1, .. }) => {
                let (mean, std) = self.data.scale.unwrap_or((0.0, 1.0));
                let values: Vec<Vec<f64>> = match sequences.extract::<Vec<f64>>() {
                    Ok(row) => vec![row],
                    Err(_) => sequences.extract().map_err(|_| {
                        value_error("a series model takes a float array [T] or [N, T]")
                    })?,
                };
                if values.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(value_error(
                        "the sequences must be finite (no NaN or infinity)",
                    ));
                }
                values
                    .iter()
                    .map(|row| row.iter().map(|v| ((v - mean) / std) as f32).collect())
                    .collect()
            }
            (None, argen::distributions::OutputDistribution::Categorical { levels }) => {
                let values: Vec<Vec<i64>> = match sequences.extract::<Vec<i64>>() {
                    Ok(row) => vec![row],
                    Err(_) => sequences.extract().map_err(|_| {
                        value_error("a model of levels takes an integer array [T] or [N, T]")
                    })?,
                };
                if let Some(v) = values
                    .iter()
                    .flatten()
                    .find(|&&v| v < 0 || v as usize >= levels)
                {
                    return Err(value_error(format!(
                        "the value {v} is not a level of this model (0..={})",
                        levels - 1
                    )));
                }
                values
                    .iter()
                    .map(|row| row.iter().map(|&v| v as f32).collect())
                    .collect()
            }
            (None, other) => {
                return Err(value_error(format!(
                    "log_prob of a model of {other:?} is not in the Python package yet"
                )));
            }
        };
        if rows.is_empty() || rows.iter().any(Vec::is_empty) {
            return Err(value_error(
                "give at least one sequence of at least one step",
            ));
        }
        if batch_size == 0 {
            return Err(value_error("batch_size must be at least 1"));
        }
        let examples: Vec<SeqExample> = rows
            .into_iter()
            .map(|targets| SeqExample {
                inputs: None,
                targets,
                mask: None,
                label: 0,
                covariates: None,
                index: 0,
                vector: None,
            })
            .collect();
        let jacobian = self.data.scale.map_or(0.0, |(_, std)| std.ln());
        let device = Device::flex();
        let log_p = py.detach(|| {
            sequence_log_probs(
                &self.config.model,
                &self.model,
                &self.data,
                &examples,
                batch_size,
                &device,
            )
        });
        let log_p: Vec<f64> = log_p
            .iter()
            .zip(&examples)
            .map(|(lp, e)| lp - jacobian * e.targets.len() as f64)
            .collect();
        Ok(vector(py, log_p))
    }

    /// Draws `n` sequences of `length` steps (default: the test sequences' length, at most
    /// 512): a list of str for text, float64 [n, length] for a real series (in its units),
    /// float32 [n, length, keys] for piano rolls, uint8 [n, 8, 8] for the digits.
    #[pyo3(signature = (n, *, length=None, seed=0, temperature=1.0, naive=false))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        length: Option<usize>,
        seed: u64,
        temperature: f64,
        naive: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = SampleOptions {
            n,
            seed,
            temperature,
            length,
            naive,
            ..SampleOptions::default()
        };
        let device = Device::flex();
        let samples = py
            .detach(|| {
                sample_sequence_model(&self.config, &self.model, &self.data, &options, &device)
            })
            .map_err(to_py)?;
        Ok(match samples {
            SequenceSamples::Text(texts) => texts.into_pyobject(py)?.into_any(),
            SequenceSamples::Values(rows) => {
                let length = rows.first().map_or(0, Vec::len);
                let flat: Vec<f64> = rows.into_iter().flatten().collect();
                ArrayD::from_shape_vec(IxDyn(&[n, length]), flat)
                    .map_err(|e| value_error(e.to_string()))?
                    .into_pyarray(py)
                    .into_any()
            }
            SequenceSamples::PianoRolls {
                values,
                length,
                keys,
            } => ArrayD::from_shape_vec(
                IxDyn(&[values.len() / (length * keys).max(1), length, keys]),
                values,
            )
            .map_err(|e| value_error(e.to_string()))?
            .into_pyarray(py)
            .into_any(),
            SequenceSamples::Digits(images) => image_array(py, images.levels, 1, 8, 8)?.into_any(),
        })
    }

    /// The number of trained parameters.
    #[getter]
    fn num_params(&self) -> usize {
        self.model.num_params()
    }

    /// The model's name (`mlp`, `gru`, `lstm`, `wavenet`, `tcn`).
    #[getter]
    fn model(&self) -> &str {
        self.config.model.kind().name()
    }

    /// The run folder, when the model has one.
    #[getter]
    fn path(&self) -> Option<String> {
        self.folder.as_ref().map(|p| p.display().to_string())
    }

    /// The run's settings (what `config.json` holds), as a dict.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(&self.config).map_err(|e| value_error(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }

    fn __repr__(&self) -> String {
        let at = match &self.folder {
            Some(p) => format!(", run='{}'", p.display()),
            None => ", in memory".to_string(),
        };
        format!(
            "SequenceModel({} on {}, {} parameters{at})",
            self.config.model.describe(),
            self.data.name,
            self.num_params()
        )
    }
}

/// Trains a neural sequence model on one real series (`values`, cut as the command line
/// cuts a series: standardised, windows of 64 steps from the first 80%) or one text
/// (`text`, a character model).
#[pyfunction]
#[pyo3(signature = (
    values=None, *, text=None, sequences=None, levels=None, valid_fraction=0.1, model="lstm", hidden=None, depth=None, blocks=None, window=None,
    kernel=None, first_kernel=None, mixture=None, dropout=None, epochs=None, batch_size=None,
    lr=None, seed=0, out=None, callback=None
))]
#[allow(clippy::too_many_arguments)]
fn train_sequence(
    py: Python<'_>,
    values: Option<PyReadonlyArrayDyn<'_, f64>>,
    text: Option<String>,
    sequences: Option<PyReadonlyArrayDyn<'_, i64>>,
    levels: Option<usize>,
    valid_fraction: f64,
    model: &str,
    hidden: Option<usize>,
    depth: Option<usize>,
    blocks: Option<usize>,
    window: Option<usize>,
    kernel: Option<usize>,
    first_kernel: Option<usize>,
    mixture: Option<usize>,
    dropout: Option<f64>,
    epochs: Option<usize>,
    batch_size: Option<usize>,
    lr: Option<f64>,
    seed: u64,
    out: Option<PathBuf>,
    callback: Option<Py<PyAny>>,
) -> PyResult<PySequenceModel> {
    use argen::data::series::{SeriesData, SymbolSeries};
    let folder = out.map(RunFolder);
    if let Some(f) = &folder
        && f.config().exists()
    {
        return Err(value_error(format!(
            "{} already holds a run; open it with argen.open_run, or choose another folder",
            f.0.display()
        )));
    }
    let data = match (values, text, sequences) {
        (None, None, Some(sequences)) => {
            if folder.is_some() {
                return Err(value_error(
                    "out= with sequences= is not supported yet: the command line has no source \
                     for arrays of level sequences (train without out=)",
                ));
            }
            let [n, t] = *sequences.shape() else {
                return Err(value_error(format!(
                    "sequences must be [N, T] integer levels, got shape {:?}",
                    sequences.shape()
                )));
            };
            let flat = elements(&sequences)?;
            if let Some(&v) = flat
                .iter()
                .find(|&&v| !(0..=i64::from(u32::MAX)).contains(&v))
            {
                return Err(value_error(format!(
                    "the value {v} is not a level (0 or more)"
                )));
            }
            let rows: Vec<Vec<u32>> = (0..n)
                .map(|i| flat[i * t..(i + 1) * t].iter().map(|&v| v as u32).collect())
                .collect();
            let levels = levels.unwrap_or_else(|| {
                rows.iter()
                    .flatten()
                    .max()
                    .map_or(2, |&m| m as usize + 1)
                    .max(2)
            });
            if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
                return Err(value_error(format!(
                    "valid_fraction must be between 0 and 1 (exclusive), got {valid_fraction}"
                )));
            }
            let n_valid = ((n as f64 * valid_fraction).round() as usize).clamp(1, n.max(2) - 1);
            SequenceData::from_level_sequences(ARRAYS, levels, &rows, n_valid)
                .map_err(|e| to_py(e.into()))?
        }
        (Some(values), None, None) => {
            let values = series(&values)?;
            match &folder {
                // Saved as a CSV column in the run folder and read back as the command
                // line reads `csv:FILE:value`: the run reopens with its data.
                Some(f) => {
                    let mut csv = String::from("value\n");
                    for v in &values {
                        if !v.is_finite() {
                            return Err(value_error(format!(
                                "the series holds {v}: values must be finite"
                            )));
                        }
                        csv.push_str(&format!("{v}\n"));
                    }
                    let file = save_run_data(f, "series.csv", csv.as_bytes())?;
                    load_sequences(&format!("csv:{file}:value")).map_err(|e| to_py(e.into()))?
                }
                None => SequenceData::from_values(ARRAYS, &values).map_err(|e| to_py(e.into()))?,
            }
        }
        (None, Some(text), None) => {
            if text.chars().count() < 10 {
                return Err(value_error("the text needs at least 10 characters"));
            }
            match &folder {
                Some(f) => {
                    let file = save_run_data(f, "text.txt", text.as_bytes())?;
                    load_sequences(&format!("text:{file}")).map_err(|e| to_py(e.into()))?
                }
                None => {
                    let mut alphabet: Vec<char> = text.chars().collect();
                    alphabet.sort_unstable();
                    alphabet.dedup();
                    let symbols = argen::data::series::encode_chars(&text, &alphabet)
                        .expect("every character is in the alphabet");
                    argen::data::sequences::single_series(
                        "text",
                        SeriesData::Symbols(SymbolSeries {
                            name: "text".into(),
                            symbols,
                            alphabet,
                        }),
                    )
                }
            }
        }
        _ => {
            return Err(value_error(
                "give one of values= (a real series) or text= (a str)",
            ));
        }
    };
    let Some(kind) = SequenceModelKind::from_name(model) else {
        return Err(value_error(format!(
            "unknown sequence model '{model}': mlp, gru, lstm, wavenet or tcn"
        )));
    };
    let defaults = SequenceModelOptions::default();
    let options = SequenceModelOptions {
        hidden: hidden.unwrap_or(defaults.hidden),
        depth: depth.unwrap_or(defaults.depth),
        blocks: blocks.unwrap_or(defaults.blocks),
        window: window.unwrap_or(defaults.window),
        kernel: kernel.unwrap_or(defaults.kernel),
        first_kernel: first_kernel.unwrap_or(defaults.first_kernel),
        mixture,
        dropout,
        ..defaults
    };
    let model_config = options
        .build(
            kind,
            data.input_channels(),
            data.output,
            data.num_classes,
            &data.name,
        )
        .map_err(to_py)?;
    let mut training = TrainOptions::default()
        .epochs(epochs.unwrap_or(argen::train::sequence::DEFAULT_EPOCHS))
        .clip_norm(argen::train::sequence::default_clip_norm(&model_config))
        .seed(seed);
    if let Some(b) = batch_size {
        training = training.batch_size(b);
    }
    if let Some(lr) = lr {
        training = training.learning_rate(lr);
    }
    training.validate().map_err(to_py)?;
    let config = SequenceTrainingConfig::new(model_config, data.name.clone(), training);
    let trained = run_watched(py, callback, |watch| {
        train_watched(
            &SequenceTask::new(&config, &data),
            folder.as_ref(),
            false,
            Progress::Silent,
            &[Device::flex()],
            watch,
        )
    })?;
    Ok(PySequenceModel {
        config,
        model: trained.model,
        data,
        folder: folder.map(|f| f.0),
    })
}

/// Writes `bytes` as `data/NAME` of the run folder `f` (atomically) and returns the file's
/// absolute path.
fn save_run_data(f: &RunFolder, name: &str, bytes: &[u8]) -> PyResult<String> {
    let dir = f.0.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| to_py(anyhow::Error::from(e)))?;
    let path = dir.join(name);
    argen::files::write_atomically(&path, bytes).map_err(to_py)?;
    let path = std::fs::canonicalize(&path).map_err(|e| to_py(anyhow::Error::from(e)))?;
    Ok(path.display().to_string())
}

/// Runs a training function with a [`PythonWatch`] of `callback`, the lock released; a
/// Ctrl-C or an exception of the callback comes back as itself, with the library's note of
/// what was kept.
fn run_watched<T: Send>(
    py: Python<'_>,
    callback: Option<Py<PyAny>>,
    train: impl FnOnce(&PythonWatch) -> anyhow::Result<T> + Send,
) -> PyResult<T> {
    let watch = PythonWatch {
        callback,
        failure: Mutex::new(None),
    };
    let result = py.detach(|| train(&watch));
    let failure = watch.failure.lock().expect("not poisoned").take();
    match (result, failure) {
        (Ok(trained), _) => Ok(trained),
        (Err(e), Some(py_error)) => {
            let note = PyString::new(py, &format!("{e:#}"));
            let _ = py_error.value(py).call_method1("add_note", (note,));
            Err(py_error)
        }
        (Err(e), None) => Err(to_py(e)),
    }
}

// ---------------------------------------------------------------------------------------
// Classical models
// ---------------------------------------------------------------------------------------

/// A series from a 1-D float64 array.
fn series(x: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<Vec<f64>> {
    if x.shape().len() != 1 {
        return Err(value_error(format!(
            "the series must be 1-D, got shape {:?}",
            x.shape()
        )));
    }
    Ok(elements(x)?.to_vec())
}

/// A fitted AR(p) model with the statistics statsmodels' `AutoRegResults` gives.
#[pyclass(name = "ArResults", module = "argen", frozen)]
struct PyAr {
    model: ArModel,
    series: Vec<f64>,
    stats: FitStatistics,
}

impl PyAr {
    fn new(model: ArModel, series: Vec<f64>) -> Self {
        let stats = model.statistics(&series);
        Self {
            model,
            series,
            stats,
        }
    }
}

fn vector<'py>(py: Python<'py>, values: Vec<f64>) -> Bound<'py, PyArrayDyn<f64>> {
    let n = values.len();
    ArrayD::from_shape_vec(IxDyn(&[n]), values)
        .expect("a vector's shape is its length")
        .into_pyarray(py)
}

#[pymethods]
impl PyAr {
    /// (c, a_1, ..., a_p): the constant, then the weight of x_{t-i} at position i.
    #[getter]
    fn params<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        let mut p = vec![self.model.intercept];
        p.extend(&self.model.coefs);
        vector(py, p)
    }

    /// Standard errors of the params.
    #[getter]
    fn bse<'py>(&self, py: Python<'py>) -> Bound<'py, PyArrayDyn<f64>> {
        vector(py, self.model.std_errors.clone())
    }

    /// The innovation variance σ².
    #[getter]
    fn sigma2(&self) -> f64 {
        self.model.sigma2
    }

    /// The conditional log-likelihood of the fitted series.
    #[getter]
    fn llf(&self) -> f64 {
        self.stats.llf
    }

    /// -2 llf + 2 (p + 2).
    #[getter]
    fn aic(&self) -> f64 {
        self.stats.aic
    }

    /// -2 llf + ln(nobs) (p + 2).
    #[getter]
    fn bic(&self) -> f64 {
        self.stats.bic
    }

    /// The number n - p of equations of the fit.
    #[getter]
    fn nobs(&self) -> usize {
        self.stats.nobs
    }

    /// The order p.
    #[getter]
    fn order(&self) -> usize {
        self.model.order()
    }

    /// "OLS", "Yule-Walker" or "Burg".
    #[getter]
    fn method(&self) -> String {
        self.model.method.to_string()
    }

    /// Forecasts `steps` values past the end of the series, each with its standard error
    /// and the central interval of probability 1 - alpha: a dict of float64 arrays `mean`,
    /// `std`, `lower`, `upper`.
    #[pyo3(signature = (steps, *, alpha=0.05))]
    fn forecast<'py>(
        &self,
        py: Python<'py>,
        steps: usize,
        alpha: f64,
    ) -> PyResult<Bound<'py, PyDict>> {
        if steps == 0 || steps > argen::run::MAX_SEQUENCE_LENGTH {
            return Err(value_error(format!(
                "steps must be in 1..={}, got {steps}",
                argen::run::MAX_SEQUENCE_LENGTH
            )));
        }
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(value_error(format!("alpha must be in (0, 1), got {alpha}")));
        }
        let forecasts = self.model.forecast_dynamic(&self.series, steps);
        let intervals: Vec<(f64, f64)> =
            forecasts.iter().map(|f| f.interval(1.0 - alpha)).collect();
        let out = PyDict::new(py);
        out.set_item(
            "mean",
            vector(py, forecasts.iter().map(|f| f.mean).collect()),
        )?;
        out.set_item("std", vector(py, forecasts.iter().map(|f| f.std).collect()))?;
        out.set_item("lower", vector(py, intervals.iter().map(|i| i.0).collect()))?;
        out.set_item("upper", vector(py, intervals.iter().map(|i| i.1).collect()))?;
        Ok(out)
    }

    /// Simulates `n` values: a continuation of the fitted series, or (`continuation=False`)
    /// a fresh path started at the process mean after a burn-in.
    #[pyo3(signature = (n, *, seed=0, continuation=true))]
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        continuation: bool,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        if n == 0 || n > argen::run::MAX_SEQUENCE_LENGTH {
            return Err(value_error(format!(
                "n must be in 1..={}, got {n}",
                argen::run::MAX_SEQUENCE_LENGTH
            )));
        }
        let history: &[f64] = if continuation { &self.series } else { &[] };
        Ok(vector(py, self.model.simulate(history, n, seed)))
    }

    fn __repr__(&self) -> String {
        format!(
            "ArResults(AR({}) by {}, nobs={}, sigma2={:.6}, llf={:.4})",
            self.model.order(),
            self.model.method,
            self.stats.nobs,
            self.model.sigma2,
            self.stats.llf
        )
    }
}

/// Fits an AR(`lags`) model to a series (`method`: "ols", "yule-walker" or "burg").
#[pyfunction]
#[pyo3(signature = (x, lags, *, method="ols"))]
fn fit_ar(x: PyReadonlyArrayDyn<'_, f64>, lags: usize, method: &str) -> PyResult<PyAr> {
    let method = match method {
        "ols" => ArMethod::Ols,
        "yule-walker" | "yule_walker" | "yw" => ArMethod::YuleWalker,
        "burg" => ArMethod::Burg,
        other => {
            return Err(value_error(format!(
                "unknown method '{other}': ols, yule-walker or burg"
            )));
        }
    };
    let x = series(&x)?;
    let model = ar::fit(&x, lags, method).map_err(|e| value_error(e.to_string()))?;
    Ok(PyAr::new(model, x))
}

/// Symbols of a chain: a string's characters through the chain's alphabet, or integers.
enum Symbols {
    Text(Vec<u32>),
    Codes(Vec<u32>),
}

/// A Markov chain of order k over characters or integer symbols.
#[pyclass(name = "MarkovChain", module = "argen", frozen)]
struct PyMarkov {
    chain: MarkovChain,
    /// The sorted distinct characters, for a chain fitted on text.
    chars: Option<Vec<char>>,
}

impl PyMarkov {
    /// `data` (a str for a text chain, a sequence of ints otherwise) as symbols.
    fn symbols(&self, data: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
        match (&self.chars, data.extract::<String>()) {
            (Some(chars), Ok(text)) => {
                argen::data::series::encode_chars(&text, chars).ok_or_else(|| {
                    value_error("the text holds a character the chain was not fitted on")
                })
            }
            (Some(_), Err(_)) => Err(value_error("this chain was fitted on text: give a str")),
            (None, Ok(_)) => Err(value_error(
                "this chain was fitted on integer symbols: give a sequence of ints",
            )),
            (None, Err(_)) => {
                let codes = int_symbols(data)?;
                if let Some(&s) = codes
                    .iter()
                    .find(|&&s| s as usize >= self.chain.alphabet_size())
                {
                    return Err(value_error(format!(
                        "symbol {s} is outside the alphabet 0..{}",
                        self.chain.alphabet_size()
                    )));
                }
                Ok(codes)
            }
        }
    }

    /// Symbols as a str (text chain) or a list of ints.
    fn output<'py>(&self, py: Python<'py>, symbols: Vec<u32>) -> PyResult<Bound<'py, PyAny>> {
        match &self.chars {
            Some(chars) => {
                let text: String = symbols.iter().map(|&s| chars[s as usize]).collect();
                Ok(PyString::new(py, &text).into_any())
            }
            None => Ok(symbols.into_pyobject(py)?.into_any()),
        }
    }
}

/// Integer symbols (each in 0..2^32) from a sequence of ints.
fn int_symbols(data: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    let values: Vec<i64> = data
        .extract()
        .map_err(|_| value_error("symbols must be a str or a sequence of ints"))?;
    values
        .iter()
        .map(|&v| {
            u32::try_from(v)
                .map_err(|_| value_error(format!("symbol {v} is negative or too large")))
        })
        .collect()
}

fn markov_error(e: argen::classic::markov::MarkovError) -> PyErr {
    value_error(e.to_string())
}

#[pymethods]
impl PyMarkov {
    /// Fits a chain of order `order` by counting transitions, with additive smoothing α:
    /// p(s | c) = (n(c, s) + α) / (n(c) + α V). `data` is a str (its sorted distinct
    /// characters become the alphabet) or a sequence of ints (alphabet 0..alphabet_size,
    /// default the largest symbol + 1).
    #[staticmethod]
    #[pyo3(signature = (data, order=1, *, smoothing=0.01, alphabet_size=None))]
    fn fit(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        order: usize,
        smoothing: f64,
        alphabet_size: Option<usize>,
    ) -> PyResult<Self> {
        let (symbols, size, chars) = if let Ok(text) = data.extract::<String>() {
            let mut chars: Vec<char> = text.chars().collect();
            chars.sort_unstable();
            chars.dedup();
            let symbols = argen::data::series::encode_chars(&text, &chars)
                .expect("every character is in the alphabet");
            (Symbols::Text(symbols), chars.len(), Some(chars))
        } else {
            let codes = int_symbols(data)?;
            let size =
                alphabet_size.unwrap_or_else(|| codes.iter().max().map_or(0, |&m| m as usize + 1));
            (Symbols::Codes(codes), size, None)
        };
        let symbols = match symbols {
            Symbols::Text(s) | Symbols::Codes(s) => s,
        };
        let chain = py
            .detach(|| MarkovChain::fit(&symbols, size, order, smoothing))
            .map_err(markov_error)?;
        Ok(Self { chain, chars })
    }

    /// Σ_{t ≥ k} ln p(x_t | x_{t-k..t-1}): the log-probability of the data given its first
    /// k symbols, in nats.
    fn log_prob(&self, data: &Bound<'_, PyAny>) -> PyResult<f64> {
        let symbols = self.symbols(data)?;
        let (ll, _) = self
            .chain
            .log_likelihood(&symbols, 0)
            .map_err(markov_error)?;
        Ok(ll)
    }

    /// Draws `n` symbols after `start` (default: a context drawn from the training
    /// contexts), at `temperature` (0: the most likely symbol each step).
    #[pyo3(signature = (n, *, seed=0, temperature=1.0, start=None))]
    fn sample<'py>(
        &self,
        py: Python<'py>,
        n: usize,
        seed: u64,
        temperature: f64,
        start: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if n > argen::run::MAX_SEQUENCE_LENGTH {
            return Err(value_error(format!(
                "n must be at most {}, got {n}",
                argen::run::MAX_SEQUENCE_LENGTH
            )));
        }
        if !(temperature >= 0.0 && temperature.is_finite()) {
            return Err(value_error(format!(
                "temperature must be finite and >= 0, got {temperature}"
            )));
        }
        let past = match start {
            Some(s) => self.symbols(s)?,
            None => self.chain.draw_context(seed),
        };
        let drawn = py
            .detach(|| self.chain.sample(&past, n, seed, temperature))
            .map_err(markov_error)?;
        self.output(py, drawn)
    }

    /// The stationary distribution over the V^k contexts (context code c = Σ_i s_i V^(k-1-i),
    /// oldest symbol first): a float64 array [V^k].
    fn stationary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let pi = py
            .detach(|| self.chain.stationary())
            .map_err(markov_error)?;
        Ok(vector(py, pi))
    }

    /// The exact distribution of the symbol `n` steps after `past` (n ≥ 1): a float64
    /// array [V].
    fn n_step<'py>(
        &self,
        py: Python<'py>,
        past: &Bound<'py, PyAny>,
        n: usize,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let past = self.symbols(past)?;
        let p = py
            .detach(|| self.chain.n_step(&past, n))
            .map_err(markov_error)?;
        Ok(vector(py, p))
    }

    /// The most likely `n` symbols after `past` (Viterbi over the contexts) and their
    /// log-probability.
    fn most_likely_continuation<'py>(
        &self,
        py: Python<'py>,
        past: &Bound<'py, PyAny>,
        n: usize,
    ) -> PyResult<(Bound<'py, PyAny>, f64)> {
        let past = self.symbols(past)?;
        let (best, lp) = py
            .detach(|| self.chain.most_likely_continuation(&past, n))
            .map_err(markov_error)?;
        Ok((self.output(py, best)?, lp))
    }

    /// The distribution of the symbol before `after` under the stationary chain (the
    /// reverse-order conditional p(x_{t} | x_{t+1..t+k})): a float64 array [V].
    fn reverse_distribution<'py>(
        &self,
        py: Python<'py>,
        after: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
        let after = self.symbols(after)?;
        let p = py
            .detach(|| self.chain.reverse().and_then(|r| r.distribution(&after)))
            .map_err(markov_error)?;
        Ok(vector(py, p))
    }

    /// Draws `n` symbols backwards, before `after`, from the reverse chain.
    #[pyo3(signature = (after, n, *, seed=0, temperature=1.0))]
    fn sample_backwards<'py>(
        &self,
        py: Python<'py>,
        after: &Bound<'py, PyAny>,
        n: usize,
        seed: u64,
        temperature: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        if n > argen::run::MAX_SEQUENCE_LENGTH {
            return Err(value_error(format!(
                "n must be at most {}",
                argen::run::MAX_SEQUENCE_LENGTH
            )));
        }
        let after = self.symbols(after)?;
        let drawn = py
            .detach(|| {
                self.chain
                    .reverse()
                    .and_then(|r| r.sample_backwards(&after, n, seed, temperature))
            })
            .map_err(markov_error)?;
        self.output(py, drawn)
    }

    /// The order k.
    #[getter]
    fn order(&self) -> usize {
        self.chain.order()
    }

    /// The number V of symbols.
    #[getter]
    fn alphabet_size(&self) -> usize {
        self.chain.alphabet_size()
    }

    /// The characters of a text chain (sorted), else None.
    #[getter]
    fn alphabet(&self) -> Option<String> {
        self.chars.as_ref().map(|c| c.iter().collect())
    }

    /// The additive smoothing α.
    #[getter]
    fn smoothing(&self) -> f64 {
        self.chain.smoothing()
    }

    fn __repr__(&self) -> String {
        let over = match &self.chars {
            Some(c) => format!("{} characters", c.len()),
            None => format!("{} symbols", self.chain.alphabet_size()),
        };
        format!(
            "MarkovChain(order {}, {over}, smoothing {}, {} contexts seen)",
            self.chain.order(),
            self.chain.smoothing(),
            self.chain.seen_contexts()
        )
    }
}

// ---------------------------------------------------------------------------------------
// Run folders
// ---------------------------------------------------------------------------------------

/// Opens a run folder written by the command line or by Python: an image run gives an
/// ImageModel (with the `weights` "best" or "last"), a neural sequence run a SequenceModel
/// (its data reloaded), an AR fit ArResults, a Markov chain fit a MarkovChain.
#[pyfunction]
#[pyo3(signature = (path, *, weights="best"))]
fn open_run(py: Python<'_>, path: PathBuf, weights: &str) -> PyResult<Py<PyAny>> {
    if !Path::new(&path).exists() {
        return Err(PyFileNotFoundError::new_err(format!(
            "{} does not exist",
            path.display()
        )));
    }
    let weights = match weights {
        "best" => Weights::Best,
        "last" => Weights::Last,
        other => {
            return Err(value_error(format!(
                "weights must be 'best' or 'last', got '{other}'"
            )));
        }
    };
    let run = py.detach(|| Run::open(&path)).map_err(to_py)?;
    match run {
        Run::Image(run) => {
            let model = py.detach(|| PyImageModel::from_run(run, weights))?;
            Ok(Py::new(py, model)?.into_any())
        }
        Run::Classic(fit) => match &fit.fit.model {
            ClassicModel::Ar { model, .. } => {
                let values = fit.fit.values().map_err(to_py)?.values;
                Ok(Py::new(py, PyAr::new(model.clone(), values))?.into_any())
            }
            ClassicModel::Markov { chain, alphabet } => {
                let chars = match alphabet {
                    Alphabet::Chars { chars } => Some(chars.chars().collect()),
                    Alphabet::Bins { .. } => None,
                };
                Ok(Py::new(
                    py,
                    PyMarkov {
                        chain: chain.clone(),
                        chars,
                    },
                )?
                .into_any())
            }
            other => Err(value_error(format!(
                "{} holds a {} fit, which the Python package does not open yet",
                path.display(),
                match other {
                    ClassicModel::Arx { .. } => "ARX",
                    _ => "classical",
                }
            ))),
        },
        Run::Sequence(run) => {
            let device = Device::flex();
            let (model, data) = py
                .detach(|| Ok::<_, anyhow::Error>((run.model(weights, &device)?, run.data()?)))
                .map_err(to_py)?;
            let model = PySequenceModel {
                config: run.config,
                model,
                data,
                folder: Some(run.folder.0),
            };
            Ok(Py::new(py, model)?.into_any())
        }
    }
}

// ---------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------

/// The images of a `--data` source (`digits`, `fashion-mnist`, `colour:fashion-mnist`,
/// `idx:DIR`, ...) cut as the command line cuts them: a dict with `levels` and, for `train`,
/// `valid` and `test`, a tuple (images uint8 [N, H, W] or [N, C, H, W], labels int64 [N]).
#[pyfunction]
fn load_images<'py>(py: Python<'py>, source: &str) -> PyResult<Bound<'py, PyDict>> {
    let data = py
        .detach(|| argen::train::image::load_data(source))
        .map_err(to_py)?;
    let out = PyDict::new(py);
    out.set_item("levels", data.levels)?;
    for (name, set) in [
        ("train", &data.train),
        ("valid", &data.valid),
        ("test", &data.test),
    ] {
        let images = image_array(py, set.pixels.clone(), set.channels, set.height, set.width)?;
        let labels: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
        let labels = ArrayD::from_shape_vec(IxDyn(&[labels.len()]), labels)
            .expect("one label per image")
            .into_pyarray(py);
        out.set_item(name, (images, labels))?;
    }
    Ok(out)
}

/// A real-valued series of a `--data` source (`sunspots`, `sine`, `csv:FILE:COLUMN`, ...):
/// a float64 array.
#[pyfunction]
fn load_series<'py>(py: Python<'py>, source: &str) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    use argen::data::series::{LoadOptions, SeriesSource, load_real};
    let source: SeriesSource = source.parse().map_err(|e| to_py(anyhow::Error::from(e)))?;
    let series = py
        .detach(|| load_real(&source, LoadOptions::default()))
        .map_err(|e| to_py(e.into()))?;
    Ok(vector(py, series.values))
}

/// The argen extension module.
#[pymodule]
fn _argen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyImageModel>()?;
    m.add_class::<PySequenceModel>()?;
    m.add_class::<PyAr>()?;
    m.add_class::<PyMarkov>()?;
    m.add_function(wrap_pyfunction!(train_images, m)?)?;
    m.add_function(wrap_pyfunction!(train_sequence, m)?)?;
    m.add_function(wrap_pyfunction!(fit_ar, m)?)?;
    m.add_function(wrap_pyfunction!(open_run, m)?)?;
    m.add_function(wrap_pyfunction!(load_images, m)?)?;
    m.add_function(wrap_pyfunction!(load_series, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
