//! Ancestral sampling from a sequence model: draw x_0, then x_1 given x_0, and so on. The
//! network reruns on the sequence drawn so far for every step (the naive path: exact, and
//! fast enough for the short sequences here). Each sequence draws from its own random
//! stream ([`crate::rng::seeded_stream`] of the seed and its index), so a sequence does not
//! depend on how many are drawn with it.

use burn::prelude::*;

use crate::distributions::OutputDistribution;
use crate::models::SequenceModel;

/// Draws `labels.len()` sequences of `length` steps; returns the steps, laid out
/// [sequence][time][dims]. `labels` holds each sequence's class for a conditional model.
/// `prefix` (laid out [time][dims]) is copied at the start of every sequence instead of drawn.
#[allow(clippy::too_many_arguments)]
pub fn sample_sequences(
    model: &SequenceModel,
    output: OutputDistribution,
    labels: &[Option<usize>],
    length: usize,
    prefix: &[f32],
    temperature: f64,
    seed: u64,
    device: &Device,
) -> Vec<f32> {
    let n = labels.len();
    let dims = output.dims();
    let channels = output.input_channels();
    let given = prefix.len() / dims;
    let mut values = vec![0f32; n * length * dims];
    let m = given.min(length) * dims;
    for chunk in values.chunks_mut(length * dims) {
        chunk[..m].copy_from_slice(&prefix[..m]);
    }
    let mut rngs: Vec<_> = (0..n)
        .map(|i| crate::rng::seeded_stream(seed, i as u64))
        .collect();
    let label_tensor = labels.iter().all(Option::is_some).then(|| {
        let v: Vec<i64> = labels.iter().map(|l| l.unwrap_or(0) as i64).collect();
        Tensor::<1, Int>::from_data(TensorData::new(v, [n]), device)
    });
    let mut encoded = Vec::with_capacity(channels);
    for t in given.min(length)..length {
        let time = t + 1;
        let mut inputs = vec![0f32; n * channels * time];
        for i in 0..n {
            for s in 0..t {
                encoded.clear();
                let at = (i * length + s) * dims;
                output.encode_step(&values[at..at + dims], &mut encoded);
                for (c, v) in encoded.iter().enumerate() {
                    inputs[(i * channels + c) * time + s] = *v;
                }
            }
        }
        let x = Tensor::from_data(TensorData::new(inputs, [n, channels, time]), device);
        let features = model.forward(x, label_tensor.clone());
        let p = features.dims()[1];
        let params: Vec<f32> = features
            .narrow(2, t, 1)
            .reshape([n, p])
            .into_data()
            .convert::<f32>()
            .iter::<f32>()
            .collect();
        for (i, rng) in rngs.iter_mut().enumerate() {
            let step = output.sample(&params[i * p..(i + 1) * p], temperature, rng);
            let at = (i * length + t) * dims;
            values[at..at + dims].copy_from_slice(&step);
        }
    }
    values
}
