//! Properties of the neural sequence models: causality and receptive fields measured by
//! perturbation, normalisation over every sequence of a tiny space, and learning a periodic
//! pattern to near-zero loss.

use argen::distributions::OutputDistribution;
use argen::models::{Condition, SequenceModel, SequenceModelConfig, SequenceModelKind};
use argen::rng::{seeded, with_device_seed};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::RngExt;

const CHANNELS: usize = 3;

fn config(kind: SequenceModelKind) -> SequenceModelConfig {
    SequenceModelConfig::new(
        kind,
        CHANNELS,
        OutputDistribution::Categorical { levels: 3 },
    )
    .with_hidden(8)
}

/// Every configuration the causality tests cover: each network, kernels, blocks, depths, and
/// conditioning.
fn configurations() -> Vec<SequenceModelConfig> {
    use SequenceModelKind::*;
    let mut all = Vec::new();
    for window in [1, 3, 6] {
        for layers in [1, 3] {
            all.push(config(Mlp).with_window(window).with_layers(layers));
        }
    }
    for kind in [Gru, Lstm] {
        all.push(config(kind).with_layers(1));
        all.push(config(kind).with_layers(2));
    }
    for kind in [Wavenet, Tcn] {
        for (kernel, first_kernel, layers, blocks) in [
            (2, 1, 1, 1),
            (2, 2, 3, 1),
            (3, 2, 2, 2),
            (2, 5, 4, 1),
            (4, 3, 3, 2),
        ] {
            all.push(
                config(kind)
                    .with_kernel(kernel)
                    .with_first_kernel(first_kernel)
                    .with_layers(layers)
                    .with_blocks(blocks),
            );
        }
    }
    for kind in [Wavenet, Tcn] {
        all.push(
            config(kind)
                .with_kernel(3)
                .with_first_kernel(2)
                .with_layers(3)
                .with_blocks(2)
                .with_weight_norm(Some(true)),
        );
    }
    let conditional: Vec<_> = all
        .iter()
        .step_by(3)
        .map(|c| c.clone().with_num_classes(Some(4)))
        .collect();
    all.extend(conditional);
    all
}

fn random_inputs(time: usize, seed: u64) -> Vec<f32> {
    let mut rng = seeded(seed);
    (0..CHANNELS * time)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect()
}

/// The features [P][time] of one sequence of inputs laid out [channel][time].
fn features(model: &SequenceModel, inputs: &[f32], time: usize, label: Option<i64>) -> Vec<f64> {
    features_on(&Device::flex(), model, inputs, time, label)
}

/// [`features`] on `device` (the autodiff device: training mode, dropout active).
fn features_on(
    device: &Device,
    model: &SequenceModel,
    inputs: &[f32],
    time: usize,
    label: Option<i64>,
) -> Vec<f64> {
    let x = Tensor::from_data(
        TensorData::new(inputs.to_vec(), [1, CHANNELS, time]),
        device,
    );
    let labels =
        label.map(|l| Condition::Classes(Tensor::from_data(TensorData::new(vec![l], [1]), device)));
    model
        .forward(x, labels)
        .into_data()
        .convert::<f64>()
        .iter::<f64>()
        .collect()
}

/// The input steps whose gradient in the features at step `t` is not zero.
fn dependencies(
    config: &SequenceModelConfig,
    seed: u64,
    inputs: &[f32],
    time: usize,
    t: usize,
    label: Option<i64>,
) -> Vec<usize> {
    let device = Device::flex().autodiff();
    let model = config.init_seeded(seed, &device);
    let x: Tensor<3> = Tensor::from_data(
        TensorData::new(inputs.to_vec(), [1, CHANNELS, time]),
        &device,
    )
    .require_grad();
    let labels = label
        .map(|l| Condition::Classes(Tensor::from_data(TensorData::new(vec![l], [1]), &device)));
    let out = model.forward(x.clone(), labels);
    let params = out.dims()[1];
    let weights = Tensor::from_data(
        TensorData::new(random_inputs(params, 99)[..params].to_vec(), [1, params, 1]),
        &device,
    );
    let grads = (out.narrow(2, t, 1) * weights).sum().backward();
    let g: Vec<f32> = x
        .grad(&grads)
        .expect("input gradient")
        .into_data()
        .convert::<f32>()
        .iter::<f32>()
        .collect();
    (0..time)
        .filter(|&s| (0..CHANNELS).any(|c| g[c * time + s] != 0.0))
        .collect()
}

/// Whether the features at step `t` differ between two runs.
fn step_differs(a: &[f64], b: &[f64], t: usize, time: usize) -> bool {
    let params = a.len() / time;
    (0..params).any(|p| (a[p * time + t] - b[p * time + t]).abs() > 1e-6)
}

#[test]
fn every_model_is_causal_and_its_measured_receptive_field_is_the_formula() {
    let time = 48;
    let device = Device::flex();
    for (n, config) in configurations().into_iter().enumerate() {
        config.validate().unwrap();
        let model = config.init_seeded(n as u64, &device);
        let label = config.num_classes.map(|_| 2);
        let base_inputs = random_inputs(time, 1000 + n as u64);
        let base = features(&model, &base_inputs, time, label);
        // Changing every input at steps >= t leaves the outputs at steps <= t unchanged.
        for t in [0, 1, 5, 17, time - 1] {
            let mut changed = base_inputs.clone();
            let noise = random_inputs(time, 7 + t as u64);
            for c in 0..CHANNELS {
                for s in t..time {
                    changed[c * time + s] = noise[c * time + s];
                }
            }
            let out = features(&model, &changed, time, label);
            for u in 0..=t {
                assert!(
                    !step_differs(&base, &out, u, time),
                    "{config:?}: output {u} changed when the inputs from step {t} on changed"
                );
            }
        }
        // Which past inputs the output at the last step depends on: the gradient of the
        // output with respect to each input step is exactly zero or not.
        let t = time - 1;
        let seen = dependencies(&config, n as u64, &base_inputs, time, t, label);
        assert!(
            seen.iter().all(|&s| s < t),
            "{config:?}: depends on step >= {t}"
        );
        match config.receptive_field() {
            Some(r) => {
                let expected: Vec<usize> = (t.saturating_sub(r)..t).collect();
                assert_eq!(
                    seen, expected,
                    "{config:?}: measured field differs from the formula's {r}"
                );
            }
            None => assert_eq!(
                seen,
                (0..t).collect::<Vec<_>>(),
                "{config:?}: an RNN sees all"
            ),
        }
        // The conditioning reaches the output.
        if config.num_classes.is_some() {
            let other = features(&model, &base_inputs, time, Some(0));
            assert!(
                (0..time).all(|u| step_differs(&base, &other, u, time)),
                "{config:?}: the class does not change every output"
            );
        }
    }
}

/// Dropout acts while training only: on the inference device the model with dropout gives
/// the features of the same weights without it, on the autodiff device two passes differ, and
/// whatever the dropped units, no output depends on its own or later inputs.
#[test]
fn dropout_acts_in_training_only_and_keeps_causality() {
    use SequenceModelKind::*;
    let time = 24;
    let inputs = random_inputs(time, 5);
    for (n, kind) in [Mlp, Gru, Lstm, Wavenet, Tcn].into_iter().enumerate() {
        let plain = config(kind).with_layers(2).with_kernel(3);
        let dropped = plain.clone().with_dropout(Some(0.5));
        dropped.validate().unwrap();
        let seed = 40 + n as u64;
        let device = Device::flex();
        let without = features(&plain.init_seeded(seed, &device), &inputs, time, None);
        let with = features(&dropped.init_seeded(seed, &device), &inputs, time, None);
        assert_eq!(without, with, "{kind:?}: dropout acted at inference");

        let training = Device::flex().autodiff();
        let model = dropped.init_seeded(seed, &training);
        // The masks come from burn-flex's one process-wide generator, which other tests
        // reseed while this one runs: each pass draws under the lock, from its own seed.
        let pass = |s| {
            with_device_seed(&training, s, || {
                features_on(&training, &model, &inputs, time, None)
            })
        };
        assert_ne!(
            pass(1),
            pass(2),
            "{kind:?}: dropout did not act in training"
        );

        for t in [0, 7, time - 1] {
            let seen = dependencies(&dropped, seed, &inputs, time, t, None);
            assert!(
                seen.iter().all(|&s| s < t),
                "{kind:?} with dropout: output {t} depends on {seen:?}"
            );
        }
    }
    let bad = config(Tcn).with_dropout(Some(1.0));
    assert!(bad.validate().unwrap_err().contains("dropout"));
}

#[test]
fn receptive_field_formula_examples() {
    let c = config(SequenceModelKind::Wavenet)
        .with_kernel(2)
        .with_first_kernel(2)
        .with_layers(10)
        .with_blocks(3);
    // 2 + 3 · (1 + 2 + ... + 512) = 2 + 3 · 1023.
    assert_eq!(c.receptive_field(), Some(3071));
    let mut t = c.clone();
    let argen::models::SequenceNetwork::Wavenet(conv) = c.network.clone() else {
        unreachable!("built as a WaveNet")
    };
    t.network = argen::models::SequenceNetwork::Tcn(conv);
    assert_eq!(t.receptive_field(), Some(2 + 2 * 3 * 1023));
    assert_eq!(
        config(SequenceModelKind::Mlp)
            .with_window(7)
            .receptive_field(),
        Some(7)
    );
    assert_eq!(config(SequenceModelKind::Gru).receptive_field(), None);
}

/// log p(x) of sequences of levels under a categorical model whose input is the one-hot step.
fn log_probs(
    model: &SequenceModel,
    levels: usize,
    sequences: &[Vec<usize>],
    device: &Device,
) -> Vec<f64> {
    let dist = OutputDistribution::Categorical { levels };
    let time = sequences[0].len();
    let n = sequences.len();
    let mut inputs = vec![0f32; n * levels * time];
    let mut values = Vec::with_capacity(n * time);
    for (i, seq) in sequences.iter().enumerate() {
        for (t, &v) in seq.iter().enumerate() {
            inputs[i * levels * time + v * time + t] = 1.0;
            values.push(v as f32);
        }
    }
    let x = Tensor::from_data(TensorData::new(inputs, [n, levels, time]), device);
    let target = dist.target(values, n, time, device);
    dist.log_prob(model.forward(x, None), &target)
        .sum_dim(1)
        .into_data()
        .convert::<f64>()
        .iter::<f64>()
        .collect()
}

#[test]
fn tiny_models_sum_to_one_over_all_sequences_of_length_5() {
    let levels = 3usize;
    let time = 5;
    let device = Device::flex();
    let all: Vec<Vec<usize>> = (0..levels.pow(time as u32))
        .map(|mut code| {
            (0..time)
                .map(|_| {
                    let v = code % levels;
                    code /= levels;
                    v
                })
                .collect()
        })
        .collect();
    for kind in [
        SequenceModelKind::Mlp,
        SequenceModelKind::Gru,
        SequenceModelKind::Lstm,
        SequenceModelKind::Wavenet,
        SequenceModelKind::Tcn,
    ] {
        let config =
            SequenceModelConfig::new(kind, levels, OutputDistribution::Categorical { levels })
                .with_hidden(6)
                .with_window(2)
                .with_layers(2);
        let model = config.init_seeded(3, &device);
        let total: f64 = log_probs(&model, levels, &all, &device)
            .iter()
            .map(|l| l.exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-4, "{kind:?}: total {total}");
    }
}

#[test]
fn every_model_learns_a_periodic_pattern() {
    let pattern = [0usize, 1, 2, 3, 1, 2];
    let levels = 4;
    let time = 36;
    let sequence: Vec<usize> = (0..time).map(|t| pattern[t % pattern.len()]).collect();
    let device = Device::flex().autodiff();
    for kind in [
        SequenceModelKind::Mlp,
        SequenceModelKind::Gru,
        SequenceModelKind::Lstm,
        SequenceModelKind::Wavenet,
        SequenceModelKind::Tcn,
    ] {
        let config =
            SequenceModelConfig::new(kind, levels, OutputDistribution::Categorical { levels })
                .with_hidden(24)
                .with_window(4)
                .with_layers(3)
                .with_kernel(2)
                .with_first_kernel(2);
        let mut model = config.init_seeded(5, &device);
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        let mut last = f64::INFINITY;
        for _ in 0..300 {
            let lp = log_probs_autodiff(&model, levels, &sequence, &device);
            let loss = lp.neg().mean();
            last = loss.clone().into_scalar::<f64>();
            if last < 1e-3 {
                break;
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        assert!(
            last < 0.01,
            "{kind:?}: loss {last} nats per step after training"
        );
    }
}

fn log_probs_autodiff(
    model: &SequenceModel,
    levels: usize,
    sequence: &[usize],
    device: &Device,
) -> Tensor<2> {
    let dist = OutputDistribution::Categorical { levels };
    let time = sequence.len();
    let mut inputs = vec![0f32; levels * time];
    for (t, &v) in sequence.iter().enumerate() {
        inputs[v * time + t] = 1.0;
    }
    let x = Tensor::from_data(TensorData::new(inputs, [1, levels, time]), device);
    let values = sequence.iter().map(|&v| v as f32).collect();
    let target = dist.target(values, 1, time, device);
    dist.log_prob(model.forward(x, None), &target)
}
