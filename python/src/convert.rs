//! Conversions between numpy arrays and the library's types, and errors as exceptions.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;

use argen::train::{Interrupted, RunFolder, TrainOptions};

/// The data name written into the config of a run trained on arrays.
pub(crate) const ARRAYS: &str = "arrays";

/// A library error as a Python exception: a stopped run is `KeyboardInterrupt`, a missing
/// file `FileNotFoundError`, another failing file operation `OSError`, anything else
/// (shapes, values, options) `ValueError`; the message is the library's, with its causes.
pub(crate) fn to_py(error: anyhow::Error) -> PyErr {
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
pub(crate) fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

/// The elements of a C-contiguous array (the Python layer makes them so).
pub(crate) fn elements<'a, T: numpy::Element>(
    array: &'a PyReadonlyArrayDyn<'_, T>,
) -> PyResult<&'a [T]> {
    array
        .as_slice()
        .map_err(|_| value_error("the array must be C-contiguous"))
}

/// The levels of images laid out [n][colour][row][column] as an array [n, H, W] (grey) or
/// [n, C, H, W] (colour).
pub(crate) fn image_array<'py>(
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

/// A series from a 1-D float64 array.
/// Equal-length rows as a numpy array [rows, length] (a sampled series or sound clips).
pub(crate) fn rows_array<'py, T: numpy::Element>(
    py: Python<'py>,
    rows: Vec<Vec<T>>,
) -> PyResult<Bound<'py, PyAny>> {
    let shape = [rows.len(), rows.first().map_or(0, Vec::len)];
    let flat: Vec<T> = rows.into_iter().flatten().collect();
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), flat)
        .map_err(|e| value_error(e.to_string()))?
        .into_pyarray(py)
        .into_any())
}

pub(crate) fn series(x: &PyReadonlyArrayDyn<'_, f64>) -> PyResult<Vec<f64>> {
    if x.shape().len() != 1 {
        return Err(value_error(format!(
            "the series must be 1-D, got shape {:?}",
            x.shape()
        )));
    }
    Ok(elements(x)?.to_vec())
}

pub(crate) fn vector<'py>(py: Python<'py>, values: Vec<f64>) -> Bound<'py, PyArrayDyn<f64>> {
    let n = values.len();
    ArrayD::from_shape_vec(IxDyn(&[n]), values)
        .expect("a vector's shape is its length")
        .into_pyarray(py)
}

/// A value of the library (a config, metrics) as the Python dict its JSON form reads as.
pub(crate) fn json_dict<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| value_error(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// How many of `n` examples the last `valid_fraction` holds out for validation: at least
/// one, and one fewer than all. A `ValueError` for a fraction outside (0, 1).
pub(crate) fn held_out(n: usize, valid_fraction: f64) -> PyResult<usize> {
    if !(valid_fraction > 0.0 && valid_fraction < 1.0) {
        return Err(value_error(format!(
            "valid_fraction must be between 0 and 1 (exclusive), got {valid_fraction}"
        )));
    }
    Ok(((n as f64 * valid_fraction).round() as usize).clamp(1, n.max(2) - 1))
}

/// Refuses a run folder that holds a run already.
pub(crate) fn refuse_existing_run(folder: Option<&RunFolder>) -> PyResult<()> {
    match folder {
        Some(f) if f.config().exists() => Err(value_error(format!(
            "{} already holds a run; open it with argen.open_run, or choose another folder",
            f.0.display()
        ))),
        _ => Ok(()),
    }
}

/// `training` with the batch size and learning rate given from Python (the family's
/// defaults otherwise) and `seed`, checked.
pub(crate) fn loop_options(
    mut training: TrainOptions,
    batch_size: Option<usize>,
    lr: Option<f64>,
    seed: u64,
) -> PyResult<TrainOptions> {
    if let Some(b) = batch_size {
        training = training.batch_size(b);
    }
    if let Some(lr) = lr {
        training = training.learning_rate(lr);
    }
    training = training.seed(seed);
    training.validate().map_err(to_py)?;
    Ok(training)
}
