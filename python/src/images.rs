//! Image models from Python: training on arrays, log-probabilities, sampling, completion.

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::Device;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use argen::data::{ImageData, ImageSet, SetVectors};
use argen::generate::{SampleRequest, sample_cached, sample_naive};
use argen::models::{ConditionWidth, ImageFormat, ImageModel, ImageModelOptions};
use argen::run::{SampleOptions, Weights, check_class};
use argen::train::image::{ImageTask, TrainingConfig};
use argen::train::{Progress, RunFolder, TrainOptions, train_watched};

use crate::convert::*;
use crate::watch::*;

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

/// A trained image model (Gated PixelCNN, PixelCNN or PixelCNN++) with its settings, in
/// memory or read from a run folder.
#[pyclass(name = "ImageModel", module = "argen", frozen)]
pub(crate) struct PyImageModel {
    config: TrainingConfig,
    model: ImageModel,
    folder: Option<PathBuf>,
}

impl PyImageModel {
    pub(crate) fn device() -> Device {
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

    pub(crate) fn from_run(run: argen::run::ImageRun, weights: Weights) -> PyResult<Self> {
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
        json_dict(py, &self.config)
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
pub(crate) fn train_images(
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
    let n = all.len();
    let n_valid = held_out(n, valid_fraction)?;
    if n < 2 {
        return Err(value_error(
            "training needs at least 2 images (one to train on, one to validate)",
        ));
    }
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
    let training = loop_options(training, batch_size, lr, seed)?;
    let folder = out.map(RunFolder);
    refuse_existing_run(folder.as_ref())?;
    if let Some(f) = &folder {
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
