//! Neural sequence models from Python: training on a series, a text or level sequences.

use std::path::PathBuf;

use burn::module::Module;
use burn::prelude::Device;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use argen::data::sequences::{SeqExample, SequenceData, load_sequences};
use argen::models::options::SequenceModelOptions;
use argen::models::{SequenceModel, SequenceModelKind};
use argen::run::{SampleOptions, SequenceSamples, Split, sample_sequence_model};
use argen::train::sequence::{
    SequenceTask, SequenceTrainingConfig, evaluate_sequences, sequence_log_probs,
};
use argen::train::{Progress, RunFolder, TrainOptions, train_watched};

use crate::convert::*;
use crate::watch::*;

/// A trained neural sequence model (window MLP, GRU, LSTM, WaveNet, TCN) with its data, in
/// memory or read from a run folder.
#[pyclass(name = "SequenceModel", module = "argen", frozen)]
pub(crate) struct PySequenceModel {
    pub(crate) config: SequenceTrainingConfig,
    pub(crate) model: SequenceModel,
    pub(crate) data: SequenceData,
    pub(crate) folder: Option<PathBuf>,
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
        json_dict(py, &metrics)
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
            .map(|targets| SeqExample::of_targets(targets, 0))
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
    /// float32 [n, length, keys] for piano rolls, uint8 [n, 8, 8] for the digits, float32
    /// [n, length] samples in [−1, 1] for sound.
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
            SequenceSamples::Values(rows) => rows_array(py, rows)?,
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
            SequenceSamples::Audio { clips, .. } => rows_array(py, clips)?,
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
        json_dict(py, &self.config)
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
pub(crate) fn train_sequence(
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
    refuse_existing_run(folder.as_ref())?;
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
            let n_valid = held_out(n, valid_fraction)?;
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
                None => argen::data::sequences::single_series(
                    "text",
                    SeriesData::Symbols(SymbolSeries::from_text("text", &text)),
                ),
            }
        }
        _ => {
            return Err(value_error(
                "give one of values= (a real series), text= (a str) or sequences= (levels [N, T])",
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
    let training = loop_options(
        TrainOptions::default()
            .epochs(epochs.unwrap_or(argen::train::sequence::DEFAULT_EPOCHS))
            .clip_norm(argen::train::sequence::default_clip_norm(&model_config)),
        batch_size,
        lr,
        seed,
    )?;
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
