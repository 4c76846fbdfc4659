//! The discretised mixture of logistics (Salimans et al. 2017, PixelCNN++, arXiv:1701.05517)
//! over L ordered levels 0..L.
//!
//! Level l sits at c_l = 2l/(L−1) − 1 in [−1, 1]; its bin is [c_l − δ, c_l + δ] with
//! δ = 1/(L−1), the first bin extended to −∞ and the last to +∞. With K components of weights
//! π_k = softmax(a)_k, centres μ_k and scales s_k = e^{σ_k}:
//!
//! ```text
//! p(l) = Σ_k π_k [F((c_l + δ − μ_k)/s_k) − F((c_l − δ − μ_k)/s_k)],   F = sigmoid
//! ```
//!
//! The bins tile the real line, so the L probabilities sum to 1 exactly (telescoping).
//! Parameters come as 3K channels: a (K mixture logits), μ (K), σ = ln s (K).

use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax, sigmoid};
use rand::RngExt;

use crate::rng::SeededRng;

/// Smallest log-scale allowed (as in PixelCNN++), so that a bin never gets all the mass of a
/// zero-width logistic.
pub const MIN_LOG_SCALE: f64 = -7.0;

/// The centre c_l of level `l` of `levels`.
pub fn centre(level: usize, levels: usize) -> f64 {
    2.0 * level as f64 / (levels - 1) as f64 - 1.0
}

/// log p(x) for every step: `params` of shape [batch, 3K, time], `x` levels of shape
/// [batch, time] in 0..`levels`; the result has shape [batch, time].
pub fn log_prob(params: Tensor<3>, x: Tensor<2, Int>, levels: usize) -> Tensor<2> {
    let [batch, three_k, time] = params.dims();
    let k = three_k / 3;
    let logit_pi = params.clone().narrow(1, 0, k);
    let mu = params.clone().narrow(1, k, k);
    let log_s = params.narrow(1, 2 * k, k);
    let half = 1.0 / (levels - 1) as f64;
    // c_l for every step, broadcast over the components.
    let c = x
        .clone()
        .float()
        .mul_scalar(2.0 * half)
        .sub_scalar(1.0)
        .reshape([batch, 1, time]);
    let centred = c - mu;
    let is_first = x
        .clone()
        .equal_elem(0)
        .reshape([batch, 1, time])
        .repeat_dim(1, k);
    let is_last = x
        .equal_elem((levels - 1) as i64)
        .reshape([batch, 1, time])
        .repeat_dim(1, k);
    let log_component = bin_log_prob(centred, log_s, is_first, is_last, half);
    log_sum_exp(log_softmax(logit_pi, 1) + log_component, 1).reshape([batch, time])
}

/// ln P(bin) of one logistic for the level whose bin is centred `centred` = c_l − μ away
/// from the logistic's mean, with log-scale `log_scale` (clamped at [`MIN_LOG_SCALE`]) and
/// bin half-width `half` = 1/(L−1); `is_first` and `is_last` mark the levels 0 and L−1, whose
/// bins extend to −∞ and +∞. All tensors have one shape; so has the result.
///
/// The forms are numerically stable: ln F(upper) for the first level, ln(1 − F(lower)) for
/// the last, and for inner levels ln(F(upper) − F(lower)) computed in the tail the bin lies
/// in (PixelCNN++ subtracts CDFs near 1 on the right and falls back to the density at
/// 10⁻⁵, 4% off in the tails), or the density at the bin's centre times its width when even
/// that underflows.
pub(crate) fn bin_log_prob<const D: usize>(
    centred: Tensor<D>,
    log_scale: Tensor<D>,
    is_first: Tensor<D, Bool>,
    is_last: Tensor<D, Bool>,
    half: f64,
) -> Tensor<D> {
    let log_s = log_scale.clamp_min(MIN_LOG_SCALE);
    let inv_s = log_s.clone().neg().exp();
    let upper = (centred.clone().add_scalar(half)) * inv_s.clone();
    let lower = (centred.clone().sub_scalar(half)) * inv_s.clone();
    let log_cdf_upper = log_sigmoid(upper.clone());
    let log_survival_lower = log_sigmoid(lower.clone().neg());
    // F(upper) − F(lower), as the difference of the two survival values 1 − F on the right
    // of the mean: both forms are differences of small numbers in their own tail, so the
    // bin keeps its relative precision far out (where the other form would cancel to 0).
    let mid = centred * inv_s;
    let right = mid.clone().greater_elem(0.0);
    let delta = (sigmoid(upper.clone()) - sigmoid(lower.clone()))
        .mask_where(right, sigmoid(lower.neg()) - sigmoid(upper.neg()));
    // ln f(m) − ln s + ln 2δ with ln f(m) = ln σ(m) + ln σ(−m), m the bin's centre: for a
    // bin whose probability underflows even so.
    let log_pdf_mid = log_sigmoid(mid.clone()) + log_sigmoid(mid.neg()) - log_s;
    let tiny = delta.clone().lower_elem(1e-30);
    let log_inner = delta
        .clamp_min(1e-30)
        .log()
        .mask_where(tiny, log_pdf_mid.add_scalar((2.0 * half).ln()));
    log_inner
        .mask_where(is_first, log_cdf_upper)
        .mask_where(is_last, log_survival_lower)
}

/// ln Σ_k e^{a_k} over axis `dim` (kept, of size 1), stabilised by the maximum.
pub(crate) fn log_sum_exp<const D: usize>(a: Tensor<D>, dim: usize) -> Tensor<D> {
    let max = a.clone().max_dim(dim).detach();
    (a - max.clone()).exp().sum_dim(dim).log() + max
}

/// P(level `level` of `levels`) under one logistic of mean `mean` and log-scale `log_scale`
/// (clamped at [`MIN_LOG_SCALE`]), in f64: F(upper) − F(lower) of its bin, the first bin
/// from −∞ and the last to +∞. The reference the tensor forms are checked against.
pub fn bin_probability(level: usize, levels: usize, mean: f64, log_scale: f64) -> f64 {
    let cdf = |z: f64| 1.0 / (1.0 + (-z).exp());
    let half = 1.0 / (levels - 1) as f64;
    let c = centre(level, levels);
    let s = log_scale.max(MIN_LOG_SCALE).exp();
    let hi = if level == levels - 1 {
        1.0
    } else {
        cdf((c + half - mean) / s)
    };
    let lo = if level == 0 {
        0.0
    } else {
        cdf((c - half - mean) / s)
    };
    hi - lo
}

/// The probabilities of the L levels for one step's parameters (3K values), in f64.
pub fn probabilities(params: &[f32], levels: usize) -> Vec<f64> {
    let k = params.len() / 3;
    let logits: Vec<f64> = params[..k].iter().map(|&v| f64::from(v)).collect();
    let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logits.iter().map(|a| (a - max).exp()).collect();
    let total: f64 = weights.iter().sum();
    (0..levels)
        .map(|l| {
            (0..k)
                .map(|j| {
                    let (mu, log_s) = (f64::from(params[k + j]), f64::from(params[2 * k + j]));
                    weights[j] / total * bin_probability(l, levels, mu, log_s)
                })
                .sum()
        })
        .collect()
}

/// Draws one level from one step's parameters: a component k ~ π, then u ~ U(0, 1),
/// y = μ_k + s_k ln(u / (1 − u)) (a logistic draw), rounded to the nearest level's bin.
/// Temperature T scales the logistic's width (T = 0: the chosen component's centre).
pub fn sample(params: &[f32], levels: usize, temperature: f64, rng: &mut SeededRng) -> usize {
    let k = params.len() / 3;
    let logits: Vec<f32> = params[..k].to_vec();
    let component = super::categorical::sample_row(&logits, 1.0, rng);
    let mu = f64::from(params[k + component]);
    let s = f64::from(params[2 * k + component])
        .max(MIN_LOG_SCALE)
        .exp();
    let u: f64 = rng.random::<f64>().clamp(1e-12, 1.0 - 1e-12);
    let y = mu + temperature * s * (u / (1.0 - u)).ln();
    let level = ((y + 1.0) * (levels - 1) as f64 / 2.0).round();
    level.clamp(0.0, (levels - 1) as f64) as usize
}
