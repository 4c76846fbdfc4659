//! Python bindings of argen: the extension module `argen._argen`, which `argen/__init__.py`
//! re-exports with the conversions of numpy arrays and the progress bar.
//!
//! Every function here is a thin layer over the library: it turns numpy arrays into the
//! library's data types, calls the same function the command line calls, with the Python
//! lock released while Rust computes, and turns errors into Python exceptions. Nothing is
//! computed here that the library does not compute for the command line too.

mod classic;
mod convert;
mod data;
mod images;
mod sequences;
mod watch;

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use pyo3::exceptions::PyFileNotFoundError;
use pyo3::prelude::*;

use argen::classic::{Alphabet, ClassicModel};
use argen::run::{Run, Weights};

use crate::classic::{PyAr, PyMarkov};
use crate::convert::*;
use crate::images::PyImageModel;
use crate::sequences::PySequenceModel;

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

/// The argen extension module.
#[pymodule]
fn _argen(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyImageModel>()?;
    m.add_class::<PySequenceModel>()?;
    m.add_class::<PyAr>()?;
    m.add_class::<PyMarkov>()?;
    m.add_function(wrap_pyfunction!(images::train_images, m)?)?;
    m.add_function(wrap_pyfunction!(sequences::train_sequence, m)?)?;
    m.add_function(wrap_pyfunction!(classic::fit_ar, m)?)?;
    m.add_function(wrap_pyfunction!(open_run, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_images, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_series, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
