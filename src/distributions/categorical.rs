//! The categorical distribution over L discrete levels, parameterised by logits:
//! p(x = l) = exp(z_l) / Σ_j exp(z_j).

use burn::prelude::*;
use rand::RngExt;

use crate::rng::SeededRng;

/// log p(x) summed over every position of each example: `logits` of shape
/// [batch, levels, colours, height, width] and values `x` of shape
/// [batch, colours, height, width] in 0..L give a tensor of shape [batch] (nats per example).
pub fn log_prob(logits: Tensor<5>, x: Tensor<4, Int>) -> Tensor<1> {
    let [batch, colours, height, width] = x.dims();
    let levels = logits.dims()[1];
    let positions = colours * height * width;
    // log softmax over the levels, picked at each observed level (one fused operation).
    crate::fused::level_log_prob(
        logits.reshape([batch, levels, positions]),
        x.reshape([batch, positions]),
    )
    .sum_dim(1)
    .reshape([batch])
}

/// Draws one level from the logits `logits` (one row of L values) at `temperature`:
/// p_T(l) ∝ exp(z_l / T). Temperature 0 picks the most likely level.
pub fn sample_row(logits: &[f32], temperature: f64, rng: &mut SeededRng) -> usize {
    let probs = probabilities(logits, temperature);
    let u: f64 = rng.random();
    let mut cumulative = 0.0;
    for (level, p) in probs.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return level;
        }
    }
    // Rounding can leave the total a hair below 1: the last level with mass takes it.
    probs.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// Softmax of `logits / temperature` in f64 (a one-hot of the arg max for temperature 0).
pub fn probabilities(logits: &[f32], temperature: f64) -> Vec<f64> {
    if temperature <= 0.0 {
        let best = logits
            .iter()
            .enumerate()
            .fold(0, |best, (i, &z)| if z > logits[best] { i } else { best });
        return (0..logits.len())
            .map(|i| f64::from(u8::from(i == best)))
            .collect();
    }
    let scaled: Vec<f64> = logits.iter().map(|&z| f64::from(z) / temperature).collect();
    let max = scaled.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scaled.iter().map(|z| (z - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_and_follow_temperature() {
        let logits = [0.0f32, 1.0, 2.0];
        let p = probabilities(&logits, 1.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((p[2] / p[1] - std::f64::consts::E).abs() < 1e-9);
        let cold = probabilities(&logits, 0.5);
        assert!(cold[2] > p[2]);
        assert_eq!(probabilities(&logits, 0.0), vec![0.0, 0.0, 1.0]);
    }
}
