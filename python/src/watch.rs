//! A training run seen from Python: a callback per step and epoch, Ctrl-C between steps.

use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use argen::train::{EpochStatus, StepStatus, Watch};

use crate::convert::*;

/// What a training run reports to Python: a callback per step and epoch, and Ctrl-C (or an
/// exception in the callback) stops the run between two steps.
pub(crate) struct PythonWatch {
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

/// Runs a training function with a [`PythonWatch`] of `callback`, the lock released; a
/// Ctrl-C or an exception of the callback comes back as itself, with the library's note of
/// what was kept.
pub(crate) fn run_watched<T: Send>(
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
