//! Autoregressive models of order p for real-valued series:
//!
//! x_t = c + Σ_{i=1..p} a_i x_{t-i} + ε_t,   ε_t ~ N(0, σ²) independent.
//!
//! Three fits, all in closed form:
//! - [`fit_ols`]: conditional least squares on t = p..n-1 with a constant (statsmodels'
//!   `AutoReg(x, p, trend="c")`); σ² = SSR / (n - p), the maximum-likelihood value.
//! - [`fit_yule_walker`]: the Yule-Walker equations R a = r on the demeaned series with the
//!   biased autocovariances r_k = (1/n) Σ_t y_t y_{t-k} (statsmodels'
//!   `yule_walker(x, p, method="mle")`), solved by the Levinson-Durbin recursion;
//!   σ² = r_0 - Σ a_i r_i.
//! - [`fit_burg`]: Burg's method on the demeaned series (statsmodels' `burg(x, p)`): each
//!   reflection coefficient minimises the summed forward and backward prediction errors;
//!   σ² = (1 - k_p²) d_p / (2 (n - p)), the mean of both errors after the last stage.
//!
//! For Yule-Walker and Burg the constant is c = mean(x) (1 - Σ a_i).
//!
//! Order selection ([`select_order`]) compares AIC or BIC of the OLS fits of every order
//! 0..=P on one common sample, t = P..n-1 (the first P values are dropped for every order),
//! as statsmodels' `ar_select_order` does: with log-likelihood
//! ℓ = -(N/2)(ln(2π σ̂²) + 1), σ̂² = SSR/N, N = n - P and k = p + 1 coefficients
//! (constant and lags), AIC = -2ℓ + 2k and BIC = -2ℓ + ln(N) k, the values that
//! `ar_select_order` reports. (statsmodels' `AutoRegResults.aic` also counts σ² and is 2
//! larger; a constant shift does not change the choice.)
//!
//! AR with exogenous regressors (ARX, statsmodels' `AutoReg(x, p, trend="c", exog=Z)`) is in
//! [`super::arx`]; it shares this module's [`Forecast`], [`Selection`] and [`ArError`].

use serde::{Deserialize, Serialize};

use super::linalg::Cholesky;
use crate::data::series::standard_normal;

/// How the coefficients are estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArMethod {
    /// Conditional least squares (ordinary least squares on the lagged values).
    Ols,
    /// Yule-Walker equations with biased ("mle") autocovariances.
    YuleWalker,
    /// Burg's method.
    Burg,
}

impl std::fmt::Display for ArMethod {
    /// "OLS", "Yule-Walker" or "Burg".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ArMethod::Ols => "OLS",
            ArMethod::YuleWalker => "Yule-Walker",
            ArMethod::Burg => "Burg",
        })
    }
}

/// The information criterion used to choose an order (k: the number of regression
/// coefficients, p + 1 for an AR(p); ARX adds one per covariate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    /// Akaike: -2ℓ + 2k.
    Aic,
    /// Bayesian (Schwarz): -2ℓ + ln(N) k.
    Bic,
}

/// A fitted AR(p) model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArModel {
    /// How it was fitted.
    pub method: ArMethod,
    /// The constant c.
    pub intercept: f64,
    /// a_1..a_p: the weight of x_{t-i} is `coefs[i - 1]`.
    pub coefs: Vec<f64>,
    /// The innovation variance σ².
    pub sigma2: f64,
    /// Standard errors of (c, a_1, ..., a_p): the square roots of the diagonal of
    /// σ² (XᵀX)⁻¹, X the conditional design [1, x_{t-1}, ..., x_{t-p}] over t = p..n-1
    /// (statsmodels' AutoReg covariance; asymptotic for Yule-Walker and Burg).
    pub std_errors: Vec<f64>,
    /// Number of values of the series the model was fitted on.
    pub n: usize,
}

/// Mean and standard deviation of a Gaussian forecast of one value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// Mean of the predictive distribution.
    pub mean: f64,
    /// Standard deviation of the predictive distribution.
    pub std: f64,
}

impl Forecast {
    /// The central interval of probability `level`: mean ± z σ with z = Φ⁻¹((1 + level)/2).
    pub fn interval(&self, level: f64) -> (f64, f64) {
        let z = normal_quantile(0.5 + level / 2.0);
        (self.mean - z * self.std, self.mean + z * self.std)
    }
}

/// The score of one order in [`select_order`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrderScore {
    /// The order p.
    pub order: usize,
    /// Conditional log-likelihood ℓ on the common sample, with σ̂² = SSR/N.
    pub log_likelihood: f64,
    /// -2ℓ + 2k, k = p + 1 regression coefficients (p + 1 + the number of covariates for
    /// ARX).
    pub aic: f64,
    /// -2ℓ + ln(N) k.
    pub bic: f64,
}

/// The outcome of [`select_order`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// The criterion used.
    pub criterion: Criterion,
    /// The size N = n - P of the common sample.
    pub nobs: usize,
    /// One score per order 0..=P.
    pub scores: Vec<OrderScore>,
    /// The order with the smallest criterion (the smallest such order on ties).
    pub best: usize,
}

/// Why a fit failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArError {
    /// Too few values for the order.
    #[error("the series has {n} values, too few for an AR({order}) fit: it needs at least {need}")]
    TooShort {
        /// Length of the series.
        n: usize,
        /// The order asked for.
        order: usize,
        /// The least length that works.
        need: usize,
    },
    /// A value is NaN or infinite.
    #[error("value {index} of the series is not finite ({value})")]
    NotFinite {
        /// Its index.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The least-squares system is singular (a constant series, say).
    #[error(
        "the AR({0}) least-squares system is singular (is the series constant or exactly periodic?)"
    )]
    Singular(usize),
    /// The series has zero variance.
    #[error("the series is constant: its variance is zero")]
    Constant,
    /// The ARX least-squares system is singular.
    #[error(
        "the ARX({order}) least-squares system with {covariates} covariate(s) is singular (is a \
         covariate constant, or a combination of the other covariates or of the lags?)"
    )]
    SingularArx {
        /// The order.
        order: usize,
        /// The number of covariates.
        covariates: usize,
    },
    /// Too few values for an ARX fit.
    #[error(
        "the series has {n} values, too few for an ARX({order}) fit with {covariates} \
         covariate(s): it needs at least {need}"
    )]
    TooShortArx {
        /// Length of the series.
        n: usize,
        /// The order asked for.
        order: usize,
        /// The number of covariates.
        covariates: usize,
        /// The least length that works.
        need: usize,
    },
    /// Fewer rows of covariates than steps that need them.
    #[error("{need} rows of covariates are needed (one per step{context}), but there are {have}")]
    FewCovariates {
        /// Rows needed.
        need: usize,
        /// Rows given.
        have: usize,
        /// What the rows are for, as a phrase starting with ", " (or empty).
        context: String,
    },
    /// A row of covariates of the wrong width.
    #[error(
        "row {row} of the covariates has {width} values, but the model has {expected} covariates"
    )]
    CovariateWidth {
        /// The 0-based row (step).
        row: usize,
        /// Its number of values.
        width: usize,
        /// The number of covariates.
        expected: usize,
    },
    /// A covariate is NaN or infinite.
    #[error("covariate {column} at step {row} is not finite ({value})")]
    CovariateNotFinite {
        /// The 0-based row (step).
        row: usize,
        /// The 0-based column.
        column: usize,
        /// The value.
        value: f64,
    },
}

pub(super) fn check(x: &[f64], order: usize, need: usize) -> Result<(), ArError> {
    if let Some((index, &value)) = x.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(ArError::NotFinite { index, value });
    }
    if x.len() < need {
        return Err(ArError::TooShort {
            n: x.len(),
            order,
            need,
        });
    }
    Ok(())
}

/// The least length of a series for an AR(p) fit: 2p + 2, so that the n - p equations of
/// conditional least squares outnumber the p + 1 coefficients.
pub fn min_length(order: usize) -> usize {
    2 * order + 2
}

/// Fits an AR(`order`) model with `method`.
pub fn fit(x: &[f64], order: usize, method: ArMethod) -> Result<ArModel, ArError> {
    match method {
        ArMethod::Ols => fit_ols(x, order),
        ArMethod::YuleWalker => fit_yule_walker(x, order),
        ArMethod::Burg => fit_burg(x, order),
    }
}

/// XᵀX and Xᵀy of the design [1, z_{1,t} - m_1, ..., z_{k,t} - m_k, x_{t-1} - m, ...,
/// x_{t-p} - m] and target x_t - m over t = start..n-1, as one (k+p+2) x (k+p+2) row-major
/// matrix G of [design, target]: G[i][j] for i, j ≤ k+p is XᵀX, G[i][k+p+1] is Xᵀy and the
/// last entry is yᵀy. `z` holds a row per step (empty for a plain AR: k = 0) and `zm` the
/// k centres m_j. The covariates come before the lags so that the leading block of size
/// 1 + k + q is the design of order q ≤ p.
pub(super) fn lag_gram(
    x: &[f64],
    z: &[Vec<f64>],
    zm: &[f64],
    p: usize,
    start: usize,
    m: f64,
) -> Vec<f64> {
    let k = zm.len();
    let dim = k + p + 2;
    let mut g = vec![0.0; dim * dim];
    let mut v = vec![0.0; dim];
    v[0] = 1.0;
    for t in start..x.len() {
        for j in 0..k {
            v[1 + j] = z[t][j] - zm[j];
        }
        for i in 1..=p {
            v[k + i] = x[t - i] - m;
        }
        v[k + p + 1] = x[t] - m;
        for i in 0..dim {
            let vi = v[i];
            let row = &mut g[i * dim..(i + 1) * dim];
            for j in i..dim {
                row[j] += vi * v[j];
            }
        }
    }
    for i in 0..dim {
        for j in 0..i {
            g[i * dim + j] = g[j * dim + i];
        }
    }
    g
}

/// Conditional least squares: minimises Σ_{t=p}^{n-1} (x_t - c - Σ a_i x_{t-i})².
/// σ² = SSR / (n - p); standard errors from σ² (XᵀX)⁻¹.
pub fn fit_ols(x: &[f64], order: usize) -> Result<ArModel, ArError> {
    check(x, order, min_length(order))?;
    let p = order;
    let g = lag_gram(x, &[], &[], p, p, 0.0);
    let dim = p + 2;
    let chol = Cholesky::factor(&g, dim, p + 1).ok_or(ArError::Singular(p))?;
    let xty: Vec<f64> = (0..=p).map(|i| g[i * dim + p + 1]).collect();
    let beta = chol.solve(&xty);
    let mut model = ArModel {
        method: ArMethod::Ols,
        intercept: beta[0],
        coefs: beta[1..].to_vec(),
        sigma2: 0.0,
        std_errors: Vec::new(),
        n: x.len(),
    };
    let nobs = x.len() - p;
    let ssr: f64 = (p..x.len())
        .map(|t| (x[t] - model.predict_next(&x[..t])).powi(2))
        .sum();
    model.sigma2 = ssr / nobs as f64;
    if model.sigma2.is_nan() || model.sigma2 <= 0.0 {
        return Err(ArError::Singular(p));
    }
    model.std_errors = chol
        .inverse_diagonal()
        .iter()
        .map(|d| (model.sigma2 * d).sqrt())
        .collect();
    Ok(model)
}

/// Standard errors of (c, a_1..a_p) as σ² (XᵀX)⁻¹ on the conditional design; empty if the
/// design is singular.
fn design_std_errors(x: &[f64], p: usize, sigma2: f64) -> Vec<f64> {
    let g = lag_gram(x, &[], &[], p, p, 0.0);
    match Cholesky::factor(&g, p + 2, p + 1) {
        Some(chol) => chol
            .inverse_diagonal()
            .iter()
            .map(|d| (sigma2 * d).sqrt())
            .collect(),
        None => Vec::new(),
    }
}

pub(super) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Biased sample autocovariances r_0..r_p of the demeaned series: r_k = (1/n) Σ_{t≥k} y_t y_{t-k}.
pub fn autocovariances(x: &[f64], p: usize) -> Vec<f64> {
    let m = mean(x);
    let y: Vec<f64> = x.iter().map(|v| v - m).collect();
    let n = y.len() as f64;
    (0..=p)
        .map(|k| (k..y.len()).map(|t| y[t] * y[t - k]).sum::<f64>() / n)
        .collect()
}

/// The Levinson-Durbin recursion: solves the Toeplitz system Σ_j a_j r_{|i-j|} = r_i,
/// i = 1..p. Returns (a, partial autocorrelations k_1..k_p, final error r_0 - Σ a_i r_i).
pub fn levinson_durbin(r: &[f64], p: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let mut a: Vec<f64> = Vec::with_capacity(p);
    let mut pacf = Vec::with_capacity(p);
    let mut err = r[0];
    for k in 1..=p {
        let acc = r[k] - (1..k).map(|j| a[j - 1] * r[k - j]).sum::<f64>();
        let kk = acc / err;
        let prev = a.clone();
        for j in 1..k {
            a[j - 1] = prev[j - 1] - kk * prev[k - j - 1];
        }
        a.push(kk);
        pacf.push(kk);
        err *= 1.0 - kk * kk;
    }
    (a, pacf, err)
}

/// Yule-Walker estimates with biased autocovariances (statsmodels `method="mle"`).
pub fn fit_yule_walker(x: &[f64], order: usize) -> Result<ArModel, ArError> {
    check(x, order, min_length(order))?;
    let r = autocovariances(x, order);
    if r[0].is_nan() || r[0] <= 0.0 {
        return Err(ArError::Constant);
    }
    let (coefs, _, sigma2) = levinson_durbin(&r, order);
    let m = mean(x);
    Ok(ArModel {
        method: ArMethod::YuleWalker,
        intercept: m * (1.0 - coefs.iter().sum::<f64>()),
        std_errors: design_std_errors(x, order, sigma2),
        coefs,
        sigma2,
        n: x.len(),
    })
}

/// Burg's method on the demeaned series. Stage m (m = 1..p) has forward errors f_t and
/// backward errors b_{t-1}, t = m..n-1; the reflection coefficient
/// k_m = 2 Σ f_t b_{t-1} / d_m with d_m = Σ (f_t² + b_{t-1}²) updates them as
/// f_t ← f_t - k_m b_{t-1}, b_t ← b_{t-1} - k_m f_t, and the coefficients by Levinson's
/// a_j ← a_j - k_m a_{m-j}, a_m = k_m.
pub fn fit_burg(x: &[f64], order: usize) -> Result<ArModel, ArError> {
    check(x, order, min_length(order))?;
    let m = mean(x);
    let n = x.len();
    let mut f: Vec<f64> = x.iter().map(|v| v - m).collect();
    let mut b = f.clone();
    if f.iter().all(|v| *v == 0.0) {
        return Err(ArError::Constant);
    }
    let mut a: Vec<f64> = Vec::with_capacity(order);
    let mut sigma2 = f.iter().map(|v| v * v).sum::<f64>() / n as f64;
    for stage in 1..=order {
        let (mut num, mut den) = (0.0, 0.0);
        for t in stage..n {
            num += f[t] * b[t - 1];
            den += f[t] * f[t] + b[t - 1] * b[t - 1];
        }
        if den.is_nan() || den <= 0.0 {
            return Err(ArError::Singular(order));
        }
        let k = 2.0 * num / den;
        // Descending t, so that b[t - 1] still holds the previous stage's value.
        for t in (stage..n).rev() {
            let (ft, bt1) = (f[t], b[t - 1]);
            f[t] = ft - k * bt1;
            b[t] = bt1 - k * ft;
        }
        let prev = a.clone();
        for j in 1..stage {
            a[j - 1] = prev[j - 1] - k * prev[stage - j - 1];
        }
        a.push(k);
        sigma2 = (1.0 - k * k) * den / (2.0 * (n - stage) as f64);
    }
    Ok(ArModel {
        method: ArMethod::Burg,
        intercept: m * (1.0 - a.iter().sum::<f64>()),
        std_errors: design_std_errors(x, order, sigma2),
        coefs: a,
        sigma2,
        n,
    })
}

/// Scores the OLS fits of orders 0..=`max_order` on the common sample t = max_order..n-1 and
/// picks the order with the smallest `criterion`. One pass over the data builds the
/// (P+2)² cross-product matrix of the lags; each order then solves its leading block.
pub fn select_order(
    x: &[f64],
    max_order: usize,
    criterion: Criterion,
) -> Result<Selection, ArError> {
    check(x, max_order, min_length(max_order))?;
    // Centring on the mean changes only the constant, and keeps SSR = yᵀy - βᵀXᵀy accurate.
    let g = lag_gram(x, &[], &[], max_order, max_order, mean(x));
    select_from_gram(&g, 0, max_order, x.len() - max_order, criterion, |p| {
        ArError::Singular(p)
    })
}

/// Scores the orders 0..=`p_max` from the Gram matrix of [`lag_gram`] with `k` covariates
/// over `nobs` observations: order p solves the leading block of size 1 + k + p.
pub(super) fn select_from_gram(
    g: &[f64],
    k: usize,
    p_max: usize,
    nobs: usize,
    criterion: Criterion,
    singular: impl Fn(usize) -> ArError,
) -> Result<Selection, ArError> {
    let dim = k + p_max + 2;
    let yty = g[dim * dim - 1];
    let mut scores = Vec::with_capacity(p_max + 1);
    for p in 0..=p_max {
        let size = 1 + k + p;
        let chol = Cholesky::factor(g, dim, size).ok_or_else(|| singular(p))?;
        let xty: Vec<f64> = (0..size).map(|i| g[i * dim + dim - 1]).collect();
        let beta = chol.solve(&xty);
        let ssr = yty - beta.iter().zip(&xty).map(|(b, v)| b * v).sum::<f64>();
        let sigma2 = ssr / nobs as f64;
        if sigma2.is_nan() || sigma2 <= 0.0 {
            return Err(singular(p));
        }
        let ll = -(nobs as f64) / 2.0 * ((std::f64::consts::TAU * sigma2).ln() + 1.0);
        let k = size as f64;
        scores.push(OrderScore {
            order: p,
            log_likelihood: ll,
            aic: -2.0 * ll + 2.0 * k,
            bic: -2.0 * ll + (nobs as f64).ln() * k,
        });
    }
    let value = |s: &OrderScore| match criterion {
        Criterion::Aic => s.aic,
        Criterion::Bic => s.bic,
    };
    let best = scores
        .iter()
        .fold(None::<&OrderScore>, |best, s| match best {
            Some(b) if value(b) <= value(s) => Some(b),
            _ => Some(s),
        })
        .map(|s| s.order)
        .unwrap_or(0);
    Ok(Selection {
        criterion,
        nobs,
        scores,
        best,
    })
}

/// What statsmodels' `AutoRegResults` reports of a fit, beside the coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FitStatistics {
    /// The number N = n - p of equations of the fit.
    pub nobs: usize,
    /// The conditional log-likelihood ℓ = Σ_{t=p}^{n-1} ln N(x_t; c + Σ a_i x_{t-i}, σ²).
    pub llf: f64,
    /// -2ℓ + 2(p + 2): the p + 1 coefficients and σ² (statsmodels' `aic`).
    pub aic: f64,
    /// -2ℓ + ln(N)(p + 2) (statsmodels' `bic`).
    pub bic: f64,
}

impl ArModel {
    /// [`FitStatistics`] of the model on `x`, the series it was fitted on.
    pub fn statistics(&self, x: &[f64]) -> FitStatistics {
        let (llf, nobs) = self.log_likelihood(x, 0);
        let k = (self.order() + 2) as f64;
        FitStatistics {
            nobs,
            llf,
            aic: -2.0 * llf + 2.0 * k,
            bic: -2.0 * llf + (nobs as f64).ln() * k,
        }
    }

    /// The order p.
    pub fn order(&self) -> usize {
        self.coefs.len()
    }

    /// The conditional mean of the next value: c + Σ a_i x_{t-i}, where `past` ends with
    /// x_{t-1} and holds at least p values.
    pub fn predict_next(&self, past: &[f64]) -> f64 {
        lag_mean(self.intercept, &self.coefs, past)
    }

    /// The exact conditional log-likelihood Σ_t ln N(x_t; c + Σ a_i x_{t-i}, σ²) over
    /// t = max(from, p)..n-1, each term given the values before it; returns (sum, number of
    /// terms).
    pub fn log_likelihood(&self, x: &[f64], from: usize) -> (f64, usize) {
        let start = from.max(self.order());
        let norm = -0.5 * (std::f64::consts::TAU * self.sigma2).ln();
        let mut sum = 0.0;
        for t in start..x.len() {
            let e = x[t] - self.predict_next(&x[..t]);
            sum += norm - e * e / (2.0 * self.sigma2);
        }
        (sum, x.len().saturating_sub(start))
    }

    /// The MA(∞) weights ψ_0..ψ_{h-1} of the model: ψ_0 = 1, ψ_j = Σ_{i=1..min(j,p)} a_i ψ_{j-i}.
    pub fn psi_weights(&self, h: usize) -> Vec<f64> {
        psi_weights(&self.coefs, h)
    }

    /// Dynamic (iterated) forecasts of the `horizon` values after `history`: each step
    /// feeds the previous forecasts back as if observed. The h-step forecast error has
    /// variance σ² Σ_{j<h} ψ_j², so the interval widens with the horizon. `history` must
    /// hold at least p values.
    pub fn forecast_dynamic(&self, history: &[f64], horizon: usize) -> Vec<Forecast> {
        let psi = self.psi_weights(horizon);
        let mut path = history[history.len() - self.order()..].to_vec();
        let mut var = 0.0;
        (0..horizon)
            .map(|h| {
                let mean = self.predict_next(&path);
                path.push(mean);
                var += self.sigma2 * psi[h] * psi[h];
                Forecast {
                    mean,
                    std: var.sqrt(),
                }
            })
            .collect()
    }

    /// One-step-ahead forecasts of x_t for t = origin..origin+horizon-1, each from the
    /// observed values before t (so they need the data up to origin + horizon - 2); the
    /// error has variance σ² at every step.
    pub fn forecast_one_step(&self, x: &[f64], origin: usize, horizon: usize) -> Vec<Forecast> {
        let end = (origin + horizon).min(x.len() + 1);
        (origin.max(self.order())..end)
            .map(|t| Forecast {
                mean: self.predict_next(&x[..t]),
                std: self.sigma2.sqrt(),
            })
            .collect()
    }

    /// Simulates `n` values that continue `history` (its last p values start the
    /// recursion) with Gaussian innovations drawn from `seed`. With fewer than p values of
    /// history the recursion starts from the unconditional mean c / (1 - Σ a_i) (0 if the
    /// model has a unit root) and runs 10p + 500 steps of burn-in first.
    pub fn simulate(&self, history: &[f64], n: usize, seed: u64) -> Vec<f64> {
        let p = self.order();
        let mut rng = crate::rng::seeded(seed);
        let sigma = self.sigma2.sqrt();
        let (mut path, burn_in) = if history.len() >= p {
            (history[history.len() - p..].to_vec(), 0)
        } else {
            let s: f64 = self.coefs.iter().sum();
            let mu = if (1.0 - s).abs() > 1e-12 {
                self.intercept / (1.0 - s)
            } else {
                0.0
            };
            (vec![mu; p], 10 * p + 500)
        };
        for _ in 0..burn_in + n {
            let next = self.predict_next(&path) + sigma * standard_normal(&mut rng);
            path.push(next);
        }
        path.split_off(path.len() - n)
    }
}

/// The MA(∞) weights ψ_0..ψ_{h-1} of the lag polynomial with coefficients a_1..a_p:
/// ψ_0 = 1, ψ_j = Σ_{i=1..min(j,p)} a_i ψ_{j-i}.
pub fn psi_weights(coefs: &[f64], h: usize) -> Vec<f64> {
    let mut psi: Vec<f64> = Vec::with_capacity(h);
    for j in 0..h {
        let v = if j == 0 {
            1.0
        } else {
            (1..=j.min(coefs.len()))
                .map(|i| coefs[i - 1] * psi[j - i])
                .sum()
        };
        psi.push(v);
    }
    psi
}

/// c + Σ_i a_i x_{t-i} for `past` ending with x_{t-1} (at least p = `coefs.len()` values):
/// the autoregressive part of an AR or ARX conditional mean.
pub(crate) fn lag_mean(intercept: f64, coefs: &[f64], past: &[f64]) -> f64 {
    let n = past.len();
    intercept
        + coefs
            .iter()
            .enumerate()
            .map(|(i, a)| a * past[n - 1 - i])
            .sum::<f64>()
}

/// Φ⁻¹(q): the q-quantile of the standard normal distribution, 0 < q < 1 (Acklam's rational
/// approximation, relative error below 1.2e-9).
pub fn normal_quantile(q: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    if q <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if q >= 1.0 {
        return f64::INFINITY;
    }
    let low = 0.02425;
    if q < low {
        let r = (-2.0 * q.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    } else if q <= 1.0 - low {
        let r = q - 0.5;
        let s = r * r;
        (((((A[0] * s + A[1]) * s + A[2]) * s + A[3]) * s + A[4]) * s + A[5]) * r
            / (((((B[0] * s + B[1]) * s + B[2]) * s + B[3]) * s + B[4]) * s + 1.0)
    } else {
        let r = (-2.0 * (1.0 - q).ln()).sqrt();
        -(((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles() {
        assert!((normal_quantile(0.975) - 1.959963984540054).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090232306167813).abs() < 1e-8);
    }

    #[test]
    fn psi_weights_of_an_ar1_are_powers() {
        let m = ArModel {
            method: ArMethod::Ols,
            intercept: 0.0,
            coefs: vec![0.5],
            sigma2: 1.0,
            std_errors: vec![],
            n: 0,
        };
        let psi = m.psi_weights(4);
        assert_eq!(psi, vec![1.0, 0.5, 0.25, 0.125]);
        let f = m.forecast_dynamic(&[2.0], 2);
        assert_eq!(f[0].mean, 1.0);
        assert_eq!(f[1].mean, 0.5);
        assert!((f[1].std - 1.25f64.sqrt()).abs() < 1e-15);
    }
}
