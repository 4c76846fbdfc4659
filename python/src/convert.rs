//! Conversions between numpy arrays and the library's types, and errors as exceptions.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyValueError};
use pyo3::prelude::*;

use argen::train::Interrupted;

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
