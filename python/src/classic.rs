//! AR(p) fits and Markov chains from Python.

use numpy::{PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use argen::classic::ar::{self, ArMethod, ArModel, FitStatistics};
use argen::classic::markov::MarkovChain;

use crate::convert::*;

/// A fitted AR(p) model with the statistics statsmodels' `AutoRegResults` gives.
#[pyclass(name = "ArResults", module = "argen", frozen)]
pub(crate) struct PyAr {
    model: ArModel,
    series: Vec<f64>,
    stats: FitStatistics,
}

impl PyAr {
    pub(crate) fn new(model: ArModel, series: Vec<f64>) -> Self {
        let stats = model.statistics(&series);
        Self {
            model,
            series,
            stats,
        }
    }
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
pub(crate) fn fit_ar(x: PyReadonlyArrayDyn<'_, f64>, lags: usize, method: &str) -> PyResult<PyAr> {
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

/// A Markov chain of order k over characters or integer symbols.
#[pyclass(name = "MarkovChain", module = "argen", frozen)]
pub(crate) struct PyMarkov {
    pub(crate) chain: MarkovChain,
    /// The sorted distinct characters, for a chain fitted on text.
    pub(crate) chars: Option<Vec<char>>,
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
            let series = argen::data::series::SymbolSeries::from_text("text", &text);
            let size = series.alphabet.len();
            (series.symbols, size, Some(series.alphabet))
        } else {
            let codes = int_symbols(data)?;
            let size =
                alphabet_size.unwrap_or_else(|| codes.iter().max().map_or(0, |&m| m as usize + 1));
            (codes, size, None)
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
