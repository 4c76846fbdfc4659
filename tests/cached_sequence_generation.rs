//! Cached generation of the causal convolution stacks (a queue of recent inputs per layer)
//! against the full forward pass and the naive sampler: the same features step by step, and
//! the same sequences for the same seed, for every kind of block, kernel, dilation cycle,
//! first kernel, conditioning and output distribution.

use argen::distributions::OutputDistribution;
use argen::generate::conv_cache::ConvCache;
use argen::generate::sequence::{SequenceRequest, sample_sequences, sample_sequences_naive};
use argen::models::{Condition, SequenceModel, SequenceModelConfig, SequenceModelKind};
use argen::rng::seeded;
use burn::module::{ModuleMapper, Param};
use burn::prelude::*;
use rand::RngExt;

/// A stack: (kind, kernel, first kernel, layers per block, blocks, classes, weight norm).
type Stack = (
    SequenceModelKind,
    usize,
    usize,
    usize,
    usize,
    Option<usize>,
    bool,
);

/// Convolution stacks of every shape the cache must handle.
fn stacks() -> Vec<Stack> {
    use SequenceModelKind::*;
    let mut all = Vec::new();
    for kind in [Wavenet, Tcn] {
        for (kernel, first_kernel, layers, blocks) in [
            (2, 1, 1, 1),
            (2, 2, 4, 2),
            (3, 3, 3, 1),
            (5, 2, 2, 2),
            (3, 1, 5, 1),
        ] {
            all.push((kind, kernel, first_kernel, layers, blocks, None, false));
        }
        all.push((kind, 3, 2, 3, 2, Some(3), false));
        all.push((kind, 3, 2, 3, 2, None, true));
    }
    all
}

/// The model of `stack`, its weights then each multiplied by a random factor in [0.5, 1.5]
/// (so that a weight-normalised convolution's lengths g differ from ‖v‖, as after training).
fn build(
    (kind, kernel, first_kernel, layers, blocks, classes, weight_norm): Stack,
    output: OutputDistribution,
    seed: u64,
    device: &Device,
) -> SequenceModel {
    let model = SequenceModelConfig::new(kind, output.input_channels(), output)
        .with_hidden(6)
        .with_kernel(kernel)
        .with_first_kernel(first_kernel)
        .with_layers(layers)
        .with_blocks(blocks)
        .with_num_classes(classes)
        .with_weight_norm(Some(weight_norm))
        .init_seeded(seed, device);
    model.map(&mut Jitter(seeded(seed + 77)))
}

/// Multiplies every weight by its own factor in [0.5, 1.5].
struct Jitter(argen::rng::SeededRng);

impl ModuleMapper for Jitter {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let shape = tensor.shape();
        let factors: Vec<f32> = (0..shape.num_elements())
            .map(|_| 0.5 + self.0.random::<f32>())
            .collect();
        let factors = Tensor::from_data(TensorData::new(factors, shape), &tensor.device());
        Param::from_mapped_value(id, tensor * factors, mapper)
    }
}

#[test]
fn cached_features_equal_the_full_forward_pass_at_every_step() {
    let device = Device::flex();
    let output = OutputDistribution::Gaussian {
        dims: 2,
        fixed_variance: false,
    };
    let (batch, time) = (3, 70);
    for (i, stack) in stacks().into_iter().enumerate() {
        let model = build(stack, output, i as u64, &device);
        let SequenceModel::Conv(conv) = &model else {
            panic!("a convolution stack")
        };
        let mut rng = seeded(100 + i as u64);
        let inputs: Vec<f32> = (0..batch * 2 * time)
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect();
        let x = Tensor::<3>::from_data(TensorData::new(inputs, [batch, 2, time]), &device);
        let labels = stack.5.map(|_| {
            Condition::Classes(Tensor::<1, Int>::from_data(
                TensorData::new(vec![0i64, 2, 1], [3]),
                &device,
            ))
        });
        let full = model.forward(x.clone(), labels.clone());
        let p = full.dims()[1];
        let mut cache = ConvCache::new(conv, batch, labels.as_ref(), &device);
        assert_eq!(cache.feature_width(), p);
        for t in 0..time {
            let step = cache.features().to_vec();
            let expected: Vec<f32> = full
                .clone()
                .narrow(2, t, 1)
                .reshape([batch, p])
                .into_data()
                .try_to_vec()
                .unwrap();
            let diff = step
                .iter()
                .zip(&expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                diff < 1e-4,
                "{stack:?}: step {t} differs from the full pass by {diff}"
            );
            let column: Vec<f32> = x
                .clone()
                .narrow(2, t, 1)
                .reshape([batch, 2])
                .into_data()
                .try_to_vec()
                .unwrap();
            cache.observe(&column);
        }
    }
}

#[test]
fn cached_sequences_equal_naive_sequences_for_every_output_distribution() {
    let device = Device::flex();
    let outputs = [
        OutputDistribution::Categorical { levels: 5 },
        OutputDistribution::Bernoulli { dims: 4 },
        OutputDistribution::LogisticMixture {
            levels: 16,
            components: 3,
        },
        OutputDistribution::Gaussian {
            dims: 1,
            fixed_variance: false,
        },
    ];
    let mut compared = 0;
    for (i, stack) in stacks().into_iter().enumerate().step_by(2) {
        for (o, output) in outputs.into_iter().enumerate() {
            let model = build(stack, output, (i * 10 + o) as u64, &device);
            for seed in 0..2u64 {
                let n = 5;
                let labels = match stack.5 {
                    Some(k) => (0..n).map(|j| Some(j % k)).collect(),
                    None => vec![None; n],
                };
                // A given first step on one of the two seeds: the queues must see it too.
                let prefix = if seed == 1 {
                    let mut step = Vec::new();
                    match output {
                        OutputDistribution::Bernoulli { dims } => step.resize(dims, 1.0),
                        OutputDistribution::Gaussian { dims, .. } => step.resize(dims, 0.5),
                        _ => step.push(3.0),
                    }
                    step
                } else {
                    Vec::new()
                };
                let mut request = SequenceRequest {
                    labels,
                    covariates: None,
                    vectors: None,
                    length: 30,
                    prefix,
                    temperature: 1.0,
                    seed,
                    batch: 2,
                };
                let cached = sample_sequences(&model, output, &request, &device);
                request.batch = n;
                let naive = sample_sequences_naive(&model, output, &request, &device);
                assert_eq!(cached.len(), naive.len());
                let tolerance = match output {
                    OutputDistribution::Gaussian { .. } => 1e-3,
                    _ => 0.0,
                };
                for (j, (a, b)) in cached.iter().zip(&naive).enumerate() {
                    assert!(
                        (a - b).abs() <= tolerance,
                        "{stack:?} {output:?} seed {seed}: value {j} is {a} cached, {b} naive"
                    );
                }
                if !request.prefix.is_empty() {
                    let dims = output.dims();
                    assert_eq!(&cached[..dims], &request.prefix[..]);
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, stacks().len().div_ceil(2) * 4 * 2);
}

#[test]
fn sequences_do_not_depend_on_the_batch_they_are_drawn_in() {
    let device = Device::flex();
    let output = OutputDistribution::Categorical { levels: 7 };
    let model = build(
        (SequenceModelKind::Wavenet, 2, 2, 4, 1, None, false),
        output,
        3,
        &device,
    );
    let request = |batch| SequenceRequest {
        labels: vec![None; 7],
        covariates: None,
        vectors: None,
        length: 25,
        prefix: Vec::new(),
        temperature: 1.0,
        seed: 9,
        batch,
    };
    let all_at_once = sample_sequences(&model, output, &request(7), &device);
    for batch in [1, 3] {
        assert_eq!(
            sample_sequences(&model, output, &request(batch), &device),
            all_at_once
        );
    }
    // Different streams per sequence: not every sequence is the same.
    assert!(all_at_once[..25] != all_at_once[25..50]);
}
