//! The Gaussian distribution for real values, parameterised by its mean μ and its
//! log-variance v = ln σ²:
//!
//! ```text
//! log N(x; μ, σ²) = −½ (ln 2π + v + (x − μ)² e^{−v})
//! ```
//!
//! With the variance fixed to 1 (v = 0), −log N is the squared error halved plus a constant:
//! training on it is least squares.

use burn::prelude::*;
use rand::RngExt;

use crate::rng::SeededRng;

/// ln(2π).
const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Element-wise log N(x; mean, exp(log_var)); all three tensors have the same shape.
pub fn log_prob<const D: usize>(mean: Tensor<D>, log_var: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    let squared = (x - mean).powi_scalar(2);
    (squared * log_var.clone().neg().exp() + log_var + LN_2PI).mul_scalar(-0.5)
}

/// The same density in f64, for one value (used by the tests and by sampling code).
pub fn log_density(mean: f64, log_var: f64, x: f64) -> f64 {
    -0.5 * (LN_2PI + log_var + (x - mean).powi(2) * (-log_var).exp())
}

/// Draws x = μ + T·σ·ε with ε ~ N(0, 1) (Box–Muller); temperature T scales the noise,
/// T = 0 returns the mean.
pub fn sample(mean: f64, log_var: f64, temperature: f64, rng: &mut SeededRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    let eps = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    mean + temperature * (0.5 * log_var).exp() * eps
}
