//! Dropout on the CPU with its mask drawn in bulk.
//!
//! During training, dropout keeps each value with probability q = 1 − p and scales it by 1/q
//! (so its expectation is unchanged): y = x ⊙ m / q with m_i ~ Bernoulli(q). burn's `Dropout`
//! draws m value by value through its generic sampler, some 15 ns a value on the machine of
//! BENCHMARKS.md (4.5% of an LSTM training step). Here one draw from the device's generator
//! seeds a ChaCha8 stream ([`crate::rng::seeded`]), which gives 32 random bits per value in
//! bulk: the masks still follow the device's seed (set per epoch by the training loop), and
//! the same seed gives the same masks on every machine. The product with the mask is burn's,
//! so the gradient is dy ⊙ m / q.

use burn::nn::Dropout;
use burn::prelude::*;
use burn::tensor::Distribution;
use rand::RngExt;

/// `layer`'s dropout applied to `x`: x itself outside training (or with p = 0, or on a device
/// without autodiff, as burn's); on the flex CPU backend x ⊙ m / q with the mask drawn by
/// [`mask`]; elsewhere burn's `Dropout::forward`.
pub fn dropout<const D: usize>(layer: &Dropout, x: Tensor<D>) -> Tensor<D> {
    if !layer.training.is_enabled() || !x.device().is_autodiff() || layer.prob == 0.0 {
        return x;
    }
    if !super::on_flex(&x) {
        return layer.forward(x);
    }
    let device = x.device();
    // Two draws from the device's generator: the seed of this mask's own stream.
    let draw = Tensor::<1>::random([2], Distribution::Uniform(0.0, 1.0), &device)
        .into_data()
        .try_to_vec::<f32>()
        .expect("f32 values");
    let seed = (u64::from(draw[0].to_bits()) << 32) | u64::from(draw[1].to_bits());
    let shape = x.shape();
    let values = mask(seed, shape.num_elements(), 1.0 - layer.prob);
    x * Tensor::<D>::from_data(TensorData::new(values, shape), &device)
}

/// `len` values, each 1/q with probability q and 0 otherwise, from the ChaCha8 stream of
/// `seed`: value i is kept when the stream's i-th 32-bit word is below q·2³².
pub fn mask(seed: u64, len: usize, keep: f64) -> Vec<f32> {
    assert!(keep > 0.0 && keep <= 1.0, "a keep probability in (0, 1]");
    let threshold = (keep * 4_294_967_296.0) as u64;
    let scale = (1.0 / keep) as f32;
    let mut words = vec![0u32; len];
    crate::rng::seeded(seed).fill(&mut words[..]);
    words
        .into_iter()
        .map(|w| if u64::from(w) < threshold { scale } else { 0.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept fraction of a large mask is q within five standard deviations of the binomial,
    /// kept values are exactly 1/q, and the mask is a function of its seed.
    #[test]
    fn masks_keep_each_value_with_probability_q() {
        let len = 200_000;
        for keep in [0.7, 0.5, 0.8, 0.05] {
            let m = mask(11, len, keep);
            let kept = m.iter().filter(|&&v| v != 0.0).count() as f64;
            let sd = (len as f64 * keep * (1.0 - keep)).sqrt();
            assert!(
                (kept - len as f64 * keep).abs() < 5.0 * sd,
                "q = {keep}: {kept} of {len} kept"
            );
            assert!(m.iter().all(|&v| v == 0.0 || v == (1.0 / keep) as f32));
            assert_eq!(m, mask(11, len, keep), "the same seed, the same mask");
            assert_ne!(m, mask(12, len, keep), "another seed, another mask");
        }
        assert!(mask(3, 1000, 1.0).iter().all(|&v| v == 1.0));
    }

    /// On the CPU with autodiff, in training: y = x ⊙ m / q and ∂y/∂x = m / q for one mask m
    /// of kept values; outside training, y = x.
    #[test]
    fn the_layer_scales_kept_values_and_their_gradients() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let layer = burn::nn::DropoutConfig::new(0.3).init();
        let values: Vec<f32> = (0..4000).map(|i| 1.0 + (i % 7) as f32).collect();
        let x = Tensor::<2>::from_data(TensorData::new(values.clone(), [40, 100]), &device)
            .require_grad();
        let y = dropout(&layer, x.clone());
        let grads = y.clone().sum().backward();
        let y = y.into_data().try_to_vec::<f32>().unwrap();
        let dx = x
            .grad(&grads)
            .unwrap()
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let q = 0.7f32;
        let mut kept = 0;
        for ((&x, &y), &d) in values.iter().zip(&y).zip(&dx) {
            if y == 0.0 {
                assert_eq!(d, 0.0, "a dropped value has no gradient");
            } else {
                kept += 1;
                assert!((y - x / q).abs() <= 1e-6 * y.abs() && (d - 1.0 / q).abs() <= 1e-6);
            }
        }
        assert!((2600..3000).contains(&kept), "{kept} of 4000 kept");
        let eval = burn::nn::Dropout {
            prob: 0.3,
            training: burn::module::Param::from_bool(false),
        };
        let x = Tensor::<2>::from_data(TensorData::new(values.clone(), [40, 100]), &device);
        assert_eq!(
            dropout(&eval, x).into_data().try_to_vec::<f32>().unwrap(),
            values
        );
    }

    /// Neighbouring values are independent: the four patterns of (kept, kept) pairs of
    /// consecutive values occur with q², q(1 − q), (1 − q)q, (1 − q)².
    #[test]
    fn consecutive_values_are_kept_independently() {
        let (len, keep) = (400_000, 0.7);
        let m = mask(5, len, keep);
        let mut counts = [0f64; 4];
        for pair in m.chunks_exact(2) {
            counts[usize::from(pair[0] != 0.0) * 2 + usize::from(pair[1] != 0.0)] += 1.0;
        }
        let pairs = (len / 2) as f64;
        let expected = [
            (1.0 - keep) * (1.0 - keep),
            (1.0 - keep) * keep,
            keep * (1.0 - keep),
            keep * keep,
        ];
        for (count, p) in counts.iter().zip(expected) {
            let sd = (pairs * p * (1.0 - p)).sqrt();
            assert!(
                (count - pairs * p).abs() < 5.0 * sd,
                "{counts:?} against {expected:?}"
            );
        }
    }
}
