//! The command line's data sets, loaded as numpy arrays.

use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{IntoPyArray, PyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::*;

/// The images of a `--data` source (`digits`, `fashion-mnist`, `colour:fashion-mnist`,
/// `idx:DIR`, ...) cut as the command line cuts them: a dict with `levels` and, for `train`,
/// `valid` and `test`, a tuple (images uint8 [N, H, W] or [N, C, H, W], labels int64 [N]).
#[pyfunction]
pub(crate) fn load_images<'py>(py: Python<'py>, source: &str) -> PyResult<Bound<'py, PyDict>> {
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
pub(crate) fn load_series<'py>(
    py: Python<'py>,
    source: &str,
) -> PyResult<Bound<'py, PyArrayDyn<f64>>> {
    use argen::data::series::{LoadOptions, SeriesSource, load_real};
    let source: SeriesSource = source.parse().map_err(|e| to_py(anyhow::Error::from(e)))?;
    let series = py
        .detach(|| load_real(&source, LoadOptions::default()))
        .map_err(|e| to_py(e.into()))?;
    Ok(vector(py, series.values))
}
