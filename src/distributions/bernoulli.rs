//! Independent Bernoulli variables (multi-hot steps such as the keys of a piano roll),
//! each parameterised by a logit z: p(x = 1) = σ(z).
//!
//! ```text
//! log p(x) = x ln σ(z) + (1 − x) ln σ(−z)
//! ```
//!
//! computed as x z + ln σ(−z) (since ln σ(z) = z + ln σ(−z)): one log-sigmoid, which is exact
//! for large |z|, instead of two; on the CPU by argen's fused kernel
//! ([`crate::fused::bernoulli_log_prob`]), which computes it without library calls.

use burn::prelude::*;
use rand::RngExt;

use crate::rng::SeededRng;

/// Element-wise log p(x) for `x` in {0, 1} and `logits` of the same shape.
pub fn log_prob<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    crate::fused::bernoulli_log_prob(logits, x)
}

/// p(x = 1) = σ(z / T) at temperature T (T = 0: 1 when z > 0).
pub fn probability(logit: f64, temperature: f64) -> f64 {
    if temperature <= 0.0 {
        return f64::from(u8::from(logit > 0.0));
    }
    1.0 / (1.0 + (-logit / temperature).exp())
}

/// Draws one variable: 1 with probability σ(z / T), else 0.
pub fn sample(logit: f64, temperature: f64, rng: &mut SeededRng) -> u8 {
    let u: f64 = rng.random();
    u8::from(u < probability(logit, temperature))
}
