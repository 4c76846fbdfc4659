//! AR with exogenous regressors (ARX) for a real-valued series with per-step covariates:
//!
//! x_t = c + Σ_{i=1..p} a_i x_{t-i} + Σ_{j=1..k} b_j z_{j,t} + ε_t,   ε_t ~ N(0, σ²) independent,
//!
//! the covariates z_t entering at the same step t as the value they help explain
//! (contemporaneous), as in statsmodels' `AutoReg(x, lags=p, trend="c", exog=Z)`, whose
//! design row for x_t is [1, x_{t-1}, ..., x_{t-p}, z_{1,t}, ..., z_{k,t}]. The parameters
//! are kept in that order: constant, lags, covariates.
//!
//! - [`fit_arx`]: ordinary least squares on t = p..n-1 (N = n - p equations), by Householder
//!   QR of the design. σ² = SSR / N (statsmodels' `sigma2`, the maximum-likelihood value,
//!   not SSR / (N - k)); standard errors are the square roots of the diagonal of
//!   σ² (XᵀX)⁻¹ (statsmodels' `bse`: its OLS covariance rescaled by (N - k)/N).
//! - The conditional log-likelihood of the fit is ℓ = -(N/2)(ln(2π σ²) + 1) (statsmodels'
//!   `llf`). [`ArxModel::aic`] and [`ArxModel::bic`] are statsmodels' `AutoRegResults.aic`
//!   and `.bic`: -2ℓ + 2(m + 1) and -2ℓ + ln(N)(m + 1), where m = 1 + p + k regression
//!   coefficients and the + 1 counts σ².
//! - [`select_order_arx`]: the OLS fits of orders 0..=P, every one with all k covariates,
//!   on the common sample t = P..n-1, as statsmodels' `ar_select_order(x, P, exog=Z)`: its
//!   criteria count the m = 1 + p + k regression coefficients but not σ², so they are 2
//!   below `AutoRegResults.aic` (and ln N below `.bic`) of the same fit; the shift is the
//!   same for every order and does not change the choice.
//! - [`ArxModel::forecast_dynamic`]: iterated forecasts given the future covariates. The
//!   covariates are taken as known, so the h-step error is that of the AR part alone:
//!   variance σ² Σ_{j<h} ψ_j², ψ the MA(∞) weights of the lags (statsmodels'
//!   `get_prediction`).

use serde::{Deserialize, Serialize};

use super::ar::{self, ArError, Criterion, Forecast, Selection};
use super::linalg;

/// A fitted ARX(p) model with k covariates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArxModel {
    /// The constant c.
    pub intercept: f64,
    /// a_1..a_p: the weight of x_{t-i} is `coefs[i - 1]`.
    pub coefs: Vec<f64>,
    /// b_1..b_k: the weight of z_{j,t} is `exog_coefs[j - 1]`.
    pub exog_coefs: Vec<f64>,
    /// The innovation variance σ² = SSR / N.
    pub sigma2: f64,
    /// Standard errors of (c, a_1..a_p, b_1..b_k): the square roots of the diagonal of
    /// σ² (XᵀX)⁻¹.
    pub std_errors: Vec<f64>,
    /// Number of values of the series the model was fitted on (n; N = n - p equations).
    pub n: usize,
}

/// The least length of a series for an ARX(p) fit with k covariates: 2p + k + 2, so that
/// the n - p equations outnumber the 1 + p + k coefficients.
pub fn min_length_arx(order: usize, covariates: usize) -> usize {
    2 * order + covariates + 2
}

/// Checks that `z` has a finite row of width `k` for each of the first `need` steps.
fn check_covariates(z: &[Vec<f64>], k: usize, need: usize, context: &str) -> Result<(), ArError> {
    if z.len() < need {
        return Err(ArError::FewCovariates {
            need,
            have: z.len(),
            context: context.to_string(),
        });
    }
    for (row, values) in z[..need].iter().enumerate() {
        if values.len() != k {
            return Err(ArError::CovariateWidth {
                row,
                width: values.len(),
                expected: k,
            });
        }
        if let Some((column, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(ArError::CovariateNotFinite { row, column, value });
        }
    }
    Ok(())
}

/// The number of covariates of `z`: the width of its first row (0 if it has none).
fn width(z: &[Vec<f64>]) -> usize {
    z.first().map_or(0, Vec::len)
}

/// Fits x_t = c + Σ a_i x_{t-i} + Σ b_j z_{j,t} by least squares on t = p..n-1: minimises
/// Σ_t (x_t - c - Σ a_i x_{t-i} - Σ b_j z_{j,t})². `z[t]` holds the k covariates of step t;
/// it needs a row for each of the n values of `x` (later rows, the future covariates, are
/// not read). σ² = SSR / (n - p); standard errors from σ² (XᵀX)⁻¹.
pub fn fit_arx(x: &[f64], z: &[Vec<f64>], order: usize) -> Result<ArxModel, ArError> {
    let k = width(z);
    let p = order;
    ar::check(x, order, 0)?;
    if x.len() < min_length_arx(p, k) {
        return Err(ArError::TooShortArx {
            n: x.len(),
            order,
            covariates: k,
            need: min_length_arx(p, k),
        });
    }
    check_covariates(z, k, x.len(), ", one for each value of the series")?;
    let cols = 1 + p + k;
    let nobs = x.len() - p;
    let mut design = Vec::with_capacity(nobs * cols);
    for t in p..x.len() {
        design.push(1.0);
        design.extend((1..=p).map(|i| x[t - i]));
        design.extend_from_slice(&z[t]);
    }
    let singular = ArError::SingularArx {
        order,
        covariates: k,
    };
    let ls = linalg::least_squares(&design, nobs, cols, &x[p..]).ok_or(singular.clone())?;
    let mut model = ArxModel {
        intercept: ls.beta[0],
        coefs: ls.beta[1..=p].to_vec(),
        exog_coefs: ls.beta[1 + p..].to_vec(),
        sigma2: 0.0,
        std_errors: Vec::new(),
        n: x.len(),
    };
    let ssr: f64 = (p..x.len())
        .map(|t| (x[t] - model.predict_next(&x[..t], &z[t])).powi(2))
        .sum();
    model.sigma2 = ssr / nobs as f64;
    if model.sigma2.is_nan() || model.sigma2 <= 0.0 {
        return Err(singular);
    }
    model.std_errors = ls
        .inverse_gram_diagonal
        .iter()
        .map(|d| (model.sigma2 * d).sqrt())
        .collect();
    Ok(model)
}

/// Scores the ARX fits of orders 0..=`max_order`, each with all the covariates of `z`, on
/// the common sample t = max_order..n-1, and picks the order with the smallest `criterion`
/// (the smallest such order on ties). With N = n - P and σ̂² = SSR/N of each fit,
/// ℓ = -(N/2)(ln(2π σ̂²) + 1), AIC = -2ℓ + 2m and BIC = -2ℓ + ln(N) m, m = 1 + p + k: the
/// values of statsmodels' `ar_select_order(x, P, trend="c", exog=Z)`. One pass over the
/// data builds the cross-products of [1, z_t, x_{t-1}, ..., x_{t-P}, x_t]; each order
/// solves a leading block.
pub fn select_order_arx(
    x: &[f64],
    z: &[Vec<f64>],
    max_order: usize,
    criterion: Criterion,
) -> Result<Selection, ArError> {
    let k = width(z);
    ar::check(x, max_order, 0)?;
    if x.len() < min_length_arx(max_order, k) {
        return Err(ArError::TooShortArx {
            n: x.len(),
            order: max_order,
            covariates: k,
            need: min_length_arx(max_order, k),
        });
    }
    check_covariates(z, k, x.len(), ", one for each value of the series")?;
    // Centring every column on its mean over the sample changes only the constant, and
    // keeps SSR = yᵀy - βᵀXᵀy accurate.
    let sample = &z[max_order..x.len()];
    let zm: Vec<f64> = (0..k)
        .map(|j| sample.iter().map(|row| row[j]).sum::<f64>() / sample.len() as f64)
        .collect();
    let g = ar::lag_gram(x, z, &zm, max_order, max_order, ar::mean(x));
    ar::select_from_gram(&g, k, max_order, x.len() - max_order, criterion, |p| {
        ArError::SingularArx {
            order: p,
            covariates: k,
        }
    })
}

impl ArxModel {
    /// The order p.
    pub fn order(&self) -> usize {
        self.coefs.len()
    }

    /// The number k of covariates.
    pub fn covariates(&self) -> usize {
        self.exog_coefs.len()
    }

    /// The parameters in statsmodels' order: (c, a_1..a_p, b_1..b_k).
    pub fn params(&self) -> Vec<f64> {
        std::iter::once(self.intercept)
            .chain(self.coefs.iter().copied())
            .chain(self.exog_coefs.iter().copied())
            .collect()
    }

    /// The number N = n - p of equations of the fit.
    pub fn nobs(&self) -> usize {
        self.n.saturating_sub(self.order())
    }

    /// The conditional mean of x_t: c + Σ a_i x_{t-i} + Σ b_j z_{j,t}, where `past` ends
    /// with x_{t-1} and holds at least p values, and `z_t` holds the k covariates of step t.
    pub fn predict_next(&self, past: &[f64], z_t: &[f64]) -> f64 {
        super::ar::lag_mean(self.intercept, &self.coefs, past)
            + self
                .exog_coefs
                .iter()
                .zip(z_t)
                .map(|(b, z)| b * z)
                .sum::<f64>()
    }

    /// The log-likelihood of the fit on its N equations, ℓ = -(N/2)(ln(2π σ²) + 1)
    /// (statsmodels' `llf`; equal to [`ArxModel::log_likelihood`] over the training values).
    pub fn fit_log_likelihood(&self) -> f64 {
        let nobs = self.nobs() as f64;
        -nobs / 2.0 * ((std::f64::consts::TAU * self.sigma2).ln() + 1.0)
    }

    /// statsmodels' `AutoRegResults.aic`: -2ℓ + 2(m + 1), m = 1 + p + k coefficients and
    /// the + 1 for σ² (2 more than the AIC of [`select_order_arx`] on the same sample).
    pub fn aic(&self) -> f64 {
        -2.0 * self.fit_log_likelihood() + 2.0 * (self.params().len() + 1) as f64
    }

    /// statsmodels' `AutoRegResults.bic`: -2ℓ + ln(N)(m + 1), m = 1 + p + k.
    pub fn bic(&self) -> f64 {
        -2.0 * self.fit_log_likelihood()
            + (self.nobs() as f64).ln() * (self.params().len() + 1) as f64
    }

    /// The exact conditional log-likelihood Σ_t ln N(x_t; c + Σ a_i x_{t-i} + Σ b_j z_{j,t},
    /// σ²) over t = max(from, p)..n-1, each term given the values before it and the
    /// covariates of its step; returns (sum, number of terms). `z` needs a row for each
    /// value of `x`.
    pub fn log_likelihood(
        &self,
        x: &[f64],
        z: &[Vec<f64>],
        from: usize,
    ) -> Result<(f64, usize), ArError> {
        check_covariates(z, self.covariates(), x.len(), ", one for each value scored")?;
        let start = from.max(self.order());
        let norm = -0.5 * (std::f64::consts::TAU * self.sigma2).ln();
        let mut sum = 0.0;
        for t in start..x.len() {
            let e = x[t] - self.predict_next(&x[..t], &z[t]);
            sum += norm - e * e / (2.0 * self.sigma2);
        }
        Ok((sum, x.len().saturating_sub(start)))
    }

    /// The MA(∞) weights ψ_0..ψ_{h-1} of the lags: ψ_0 = 1, ψ_j = Σ_{i=1..min(j,p)} a_i ψ_{j-i}.
    pub fn psi_weights(&self, h: usize) -> Vec<f64> {
        ar::psi_weights(&self.coefs, h)
    }

    /// Dynamic (iterated) forecasts of the `horizon` values after `history`, given the
    /// covariates of those steps: `future[i]` holds z at step `history.len() + i`. Each
    /// step feeds the previous forecasts back as if observed; the covariates are taken as
    /// known, so the h-step error has variance σ² Σ_{j<h} ψ_j². `history` must hold at
    /// least p values; fewer than `horizon` rows of `future` is an error.
    pub fn forecast_dynamic(
        &self,
        history: &[f64],
        future: &[Vec<f64>],
        horizon: usize,
    ) -> Result<Vec<Forecast>, ArError> {
        check_covariates(
            future,
            self.covariates(),
            horizon,
            ", one for each step of the forecast horizon",
        )?;
        let psi = self.psi_weights(horizon);
        let mut path = history[history.len() - self.order()..].to_vec();
        let mut var = 0.0;
        Ok((0..horizon)
            .map(|h| {
                let mean = self.predict_next(&path, &future[h]);
                path.push(mean);
                var += self.sigma2 * psi[h] * psi[h];
                Forecast {
                    mean,
                    std: var.sqrt(),
                }
            })
            .collect())
    }

    /// One-step-ahead forecasts of x_t for t = origin..origin+horizon-1, each from the
    /// observed values before t and the covariates of step t; the error has variance σ² at
    /// every step. They stop where the observed values (up to x_{n-1}, so t ≤ n) or the
    /// rows of `z` run out.
    pub fn forecast_one_step(
        &self,
        x: &[f64],
        z: &[Vec<f64>],
        origin: usize,
        horizon: usize,
    ) -> Vec<Forecast> {
        let end = (origin + horizon).min(x.len() + 1).min(z.len());
        (origin.max(self.order())..end)
            .map(|t| Forecast {
                mean: self.predict_next(&x[..t], &z[t]),
                std: self.sigma2.sqrt(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_arx_is_recovered_and_forecast() {
        // x_t = 1 + 0.5 x_{t-1} + 2 z_t plus a tiny deterministic wobble.
        let n = 60;
        let z: Vec<Vec<f64>> = (0..n + 3).map(|t| vec![(t as f64 * 0.7).sin()]).collect();
        let mut x = vec![0.0];
        for t in 1..n {
            let wobble = 1e-3 * ((t * 7919 % 13) as f64 - 6.0);
            x.push(1.0 + 0.5 * x[t - 1] + 2.0 * z[t][0] + wobble);
        }
        let m = fit_arx(&x, &z, 1).unwrap();
        assert!((m.intercept - 1.0).abs() < 1e-2, "{m:?}");
        assert!((m.coefs[0] - 0.5).abs() < 1e-2, "{m:?}");
        assert!((m.exog_coefs[0] - 2.0).abs() < 1e-2, "{m:?}");
        let f = m.forecast_dynamic(&x, &z[n..], 3).unwrap();
        let want = m.intercept + m.coefs[0] * x[n - 1] + m.exog_coefs[0] * z[n][0];
        assert!((f[0].mean - want).abs() < 1e-12);
        assert!((f[0].std - m.sigma2.sqrt()).abs() < 1e-15);
        let err = m.forecast_dynamic(&x, &z[n..], 4).unwrap_err();
        assert!(err.to_string().contains("4 rows"), "{err}");
        assert!(matches!(
            fit_arx(&x, &z[..10], 1),
            Err(ArError::FewCovariates { .. })
        ));
    }

    #[test]
    fn a_constant_covariate_is_singular() {
        let x: Vec<f64> = (0..30).map(|t| (t as f64 * 0.3).sin()).collect();
        let z = vec![vec![3.0]; 30];
        assert!(matches!(
            fit_arx(&x, &z, 1),
            Err(ArError::SingularArx { .. })
        ));
        let mut bad = vec![vec![1.0]; 30];
        bad[5][0] = f64::NAN;
        assert!(matches!(
            fit_arx(&x, &bad, 1),
            Err(ArError::CovariateNotFinite { row: 5, .. })
        ));
    }
}
