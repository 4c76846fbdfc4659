//! A vector h per sequence (like a speaker vector) for every sequence model: causal for any
//! h, h reaches step 0, cached generation equals naive.
//!
//! Per-step covariates c_t for every sequence model: the features at step t never depend on
//! x_≥t, depend on c_≤t (and on c_{t+1} only when the covariates are known ahead), the
//! cached generation reads them as the naive one does, and a series driven by its
//! covariates is predicted to the noise floor only by a model that reads them.

use argen::data::sequences::SequenceData;
use argen::distributions::OutputDistribution;
use argen::generate::sequence::{SequenceRequest, sample_sequences, sample_sequences_naive};
use argen::models::{SequenceModelConfig, SequenceModelKind};
use argen::train::{Progress, TrainOptions, Trainer};
use burn::prelude::*;

const KINDS: [SequenceModelKind; 5] = [
    SequenceModelKind::Mlp,
    SequenceModelKind::Gru,
    SequenceModelKind::Lstm,
    SequenceModelKind::Wavenet,
    SequenceModelKind::Tcn,
];

fn config(kind: SequenceModelKind, covariates: usize) -> SequenceModelConfig {
    let mut c = SequenceModelConfig::new(
        kind,
        1,
        OutputDistribution::Gaussian {
            dims: 1,
            fixed_variance: false,
        },
    )
    .with_hidden(8)
    .with_layers(2);
    if kind == SequenceModelKind::Mlp {
        c = c.with_window(3);
    }
    c.covariates = Some(covariates);
    c
}

/// Which input steps and which covariate positions the features at step `t` depend on
/// (non-zero gradients).
fn dependencies(kind: SequenceModelKind, t: usize, time: usize) -> (Vec<usize>, Vec<usize>) {
    let k = 2;
    let device = Device::flex().autodiff();
    let model = config(kind, k).init_seeded(4, &device);
    let x_values: Vec<f32> = (0..time).map(|i| (i as f32 * 0.7).sin()).collect();
    let c_values: Vec<f32> = (0..k * time).map(|i| (i as f32 * 0.3).cos()).collect();
    let x = Tensor::<3>::from_data(TensorData::new(x_values, [1, 1, time]), &device).require_grad();
    let c = Tensor::<3>::from_data(TensorData::new(c_values, [1, k, time]), &device).require_grad();
    let features = model.forward_with_covariates(x.clone(), None, Some(&c));
    let grads = features.narrow(2, t, 1).sum().backward();
    let nonzero = |g: Vec<f32>, channels: usize| -> Vec<usize> {
        (0..time)
            .filter(|&s| (0..channels).any(|j| g[j * time + s] != 0.0))
            .collect()
    };
    let gx: Vec<f32> = x.grad(&grads).unwrap().into_data().iter().collect();
    let gc: Vec<f32> = c.grad(&grads).unwrap().into_data().iter().collect();
    (nonzero(gx, 1), nonzero(gc, k))
}

#[test]
fn step_t_reads_the_past_values_and_the_covariates_up_to_t_only() {
    let time = 10;
    for kind in KINDS {
        for t in [0, 4, 9] {
            let (xs, cs) = dependencies(kind, t, time);
            assert!(
                xs.iter().all(|&s| s < t),
                "{kind:?}: step {t} reads x at {xs:?}"
            );
            assert!(
                cs.iter().all(|&s| s <= t),
                "{kind:?}: step {t} reads covariates at {cs:?}"
            );
            assert!(cs.contains(&t), "{kind:?}: step {t} ignores its covariates");
        }
    }
}

#[test]
fn known_ahead_covariates_are_read_one_step_early_and_only_then() {
    // Row t of the aligned covariates holds [c_t, c_{t+1}] when they are known ahead.
    let target: Vec<f64> = (0..40).map(|t| t as f64).collect();
    let rows: Vec<Vec<f64>> = (0..41).map(|t| vec![t as f64 * 10.0]).collect();
    let data = SequenceData::with_covariates("s", &target, &rows, vec!["c".into()], true).unwrap();
    let layout = data.covariates.as_ref().unwrap();
    let (mean, std) = layout.scale[0];
    let aligned = layout.aligned(3, 2).unwrap();
    let back: Vec<f64> = aligned.iter().map(|&v| f64::from(v) * std + mean).collect();
    for (got, want) in back.iter().zip([30.0, 40.0, 40.0, 50.0]) {
        assert!((got - want).abs() < 1e-3, "{back:?}");
    }
    // Without a row past the last target, known-ahead covariates are refused.
    let err = SequenceData::with_covariates("s", &target, &rows[..40], vec!["c".into()], true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("one row past the last target"), "{err}");
    // Default: row t holds c_t only.
    let data =
        SequenceData::with_covariates("s", &target, &rows[..40], vec!["c".into()], false).unwrap();
    assert_eq!(data.covariates.unwrap().width(), 1);
}

#[test]
fn cached_generation_equals_naive_with_covariates() {
    let device = Device::flex();
    for kind in [SequenceModelKind::Wavenet, SequenceModelKind::Tcn] {
        let k = 2;
        let model = config(kind, k).init_seeded(8, &device);
        let output = OutputDistribution::Gaussian {
            dims: 1,
            fixed_variance: false,
        };
        let length = 20;
        let request = SequenceRequest {
            labels: vec![None; 3],
            vectors: None,
            covariates: Some(
                (0..length * k)
                    .map(|i| (i as f32 * 0.9).sin() * 3.0)
                    .collect(),
            ),
            length,
            prefix: vec![0.5],
            temperature: 1.0,
            seed: 5,
            batch: 2,
        };
        let naive = sample_sequences_naive(&model, output, &request, &device);
        let cached = sample_sequences(&model, output, &request, &device);
        for (a, b) in naive.iter().zip(&cached) {
            assert!((a - b).abs() < 1e-4, "{kind:?}: naive {a} cached {b}");
        }
        let mut other = request.clone();
        other.covariates = Some(vec![0.0; length * k]);
        let without = sample_sequences(&model, output, &other, &device);
        assert!(
            without
                .iter()
                .zip(&cached)
                .any(|(a, b)| (a - b).abs() > 1e-3),
            "{kind:?}: the covariates do not reach the samples"
        );
    }
}

#[test]
fn a_series_driven_by_its_covariate_is_predicted_to_the_noise_floor_only_with_it() {
    // x_t = 2 c_t + ε_t, c_t ~ N(0, 1), ε_t ~ N(0, 0.5²): the best one-step MSE is 0.25
    // with c_t and about 4.25 (the variance of x) without it.
    let mut rng = argen::rng::seeded(17);
    let normal = |rng: &mut argen::rng::SeededRng| argen::data::series::standard_normal(rng);
    let n = 2000;
    let c: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
    let x: Vec<f64> = c
        .iter()
        .map(|&c| 2.0 * c + 0.5 * normal(&mut rng))
        .collect();
    let rows: Vec<Vec<f64>> = c.iter().map(|&v| vec![v]).collect();
    let noise = 0.25;
    let mse = |covariates: bool| {
        let data = if covariates {
            SequenceData::with_covariates("driven", &x, &rows, vec!["c".into()], false).unwrap()
        } else {
            SequenceData::from_values("driven", &x).unwrap()
        };
        let mut model = config(SequenceModelKind::Mlp, 1).with_hidden(16);
        model.covariates = covariates.then_some(1);
        let options = TrainOptions::default()
            .epochs(60)
            .batch_size(8)
            .learning_rate(3e-3);
        let trained = Trainer::new(options)
            .progress(Progress::Silent)
            .fit_sequences(model.clone(), &data)
            .unwrap();
        let device = Device::flex();
        argen::train::sequence::evaluate_sequences(
            &model,
            &trained.model,
            &data,
            &data.test,
            64,
            &device,
        )
        .mse
        .unwrap()
    };
    let with = mse(true);
    let without = mse(false);
    println!(
        "one-step test MSE: with the covariate {with:.4}, without {without:.4} (noise variance {noise})"
    );
    assert!(with < 1.2 * noise, "with the covariate: {with}");
    assert!(without > 2.0 * noise, "without the covariate: {without}");
}

#[test]
fn a_vector_per_sequence_keeps_every_model_causal_and_reaches_its_first_step() {
    use argen::models::Condition;
    let device = Device::flex().autodiff();
    let time = 8;
    for kind in KINDS {
        let mut c = config(kind, 1);
        c.covariates = None;
        c.vector_dim = Some(3);
        let model = c.init_seeded(2, &device);
        let x = Tensor::<3>::from_data(
            TensorData::new(
                (0..time).map(|i| i as f32 * 0.1).collect::<Vec<_>>(),
                [1, 1, time],
            ),
            &device,
        )
        .require_grad();
        let h = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0, 2.0], [1, 3]), &device)
            .require_grad();
        for t in [0, 5] {
            let features =
                model.forward_with_covariates(x.clone(), Some(Condition::Vectors(h.clone())), None);
            let grads = features.narrow(2, t, 1).sum().backward();
            let gx: Vec<f32> = x.grad(&grads).unwrap().into_data().iter().collect();
            assert!(
                gx[t..].iter().all(|&g| g == 0.0),
                "{kind:?}: step {t} reads x at or after {t}: {gx:?}"
            );
            let gh: Vec<f32> = h.grad(&grads).unwrap().into_data().iter().collect();
            assert!(
                gh.iter().any(|&g| g != 0.0),
                "{kind:?}: h does not reach step {t}"
            );
        }
    }
}

#[test]
fn cached_generation_equals_naive_with_a_vector_per_sequence() {
    let device = Device::flex();
    let output = OutputDistribution::Categorical { levels: 5 };
    for kind in [SequenceModelKind::Wavenet, SequenceModelKind::Tcn] {
        let mut c = SequenceModelConfig::new(kind, output.input_channels(), output)
            .with_hidden(8)
            .with_layers(2);
        c.vector_dim = Some(2);
        let model = c.init_seeded(3, &device);
        let request = SequenceRequest {
            labels: vec![None; 5],
            vectors: Some((0..10).map(|i| (i as f32 * 1.3).sin() * 20.0).collect()),
            covariates: None,
            length: 16,
            prefix: Vec::new(),
            temperature: 1.0,
            seed: 1,
            batch: 2,
        };
        let naive = sample_sequences_naive(&model, output, &request, &device);
        let cached = sample_sequences(&model, output, &request, &device);
        assert_eq!(naive, cached, "{kind:?}");
        let mut same = request.clone();
        same.vectors = Some(request.vectors.as_ref().unwrap()[..2].repeat(5));
        let other = sample_sequences(&model, output, &same, &device);
        assert_eq!(other[..16], cached[..16]);
        assert_ne!(
            other, cached,
            "{kind:?}: the vectors do not reach the samples"
        );
    }
}

#[test]
fn one_step_forecasts_with_covariates_are_the_models_teacher_forced_means() {
    let target: Vec<f64> = (0..60).map(|t| (t as f64 * 0.3).sin()).collect();
    let rows: Vec<Vec<f64>> = (0..61)
        .map(|t| vec![(t as f64 * 0.7).cos(), t as f64])
        .collect();
    for known_ahead in [false, true] {
        let data = SequenceData::with_covariates(
            "s",
            &target,
            &rows,
            vec!["a".into(), "b".into()],
            known_ahead,
        )
        .unwrap();
        let layout = data.covariates.as_ref().unwrap();
        let device = Device::flex();
        let config = config(SequenceModelKind::Tcn, layout.width());
        let model = config.init_seeded(6, &device);
        let values = &data.test[0].targets;
        let n = values.len();
        let predictions = argen::generate::sequence::k_step_predictions_with(
            &model,
            &config,
            values,
            Some(layout),
            &[1, 4],
            &device,
        );
        let x = Tensor::<3>::from_data(TensorData::new(values.clone(), [1, 1, n]), &device);
        let c: Vec<f32> = {
            let aligned = layout.aligned(0, n).unwrap();
            let w = layout.width();
            (0..w)
                .flat_map(|j| (0..n).map(move |t| (t, j)))
                .map(|(t, j)| aligned[t * w + j])
                .collect()
        };
        let c = Tensor::<3>::from_data(TensorData::new(c, [1, layout.width(), n]), &device);
        let means: Vec<f32> = model
            .forward_with_covariates(x, None, Some(&c))
            .narrow(1, 0, 1)
            .into_data()
            .iter()
            .collect();
        // Past the receptive field (8 steps) the window holds the whole relevant past.
        for t in 10..n {
            let got = predictions[0][t];
            assert!(
                (got - f64::from(means[t])).abs() < 1e-4,
                "known ahead {known_ahead}, step {t}: {got} vs {}",
                means[t]
            );
        }
        assert!(predictions[1][20].is_finite());
    }
}

#[test]
fn forecasts_past_the_end_read_the_future_covariate_rows_and_stop_where_they_end() {
    let target: Vec<f64> = (0..50).map(|t| (t as f64 * 0.3).sin()).collect();
    // 50 rows with a target and 4 future rows.
    let rows: Vec<Vec<f64>> = (0..54).map(|t| vec![(t as f64 * 0.7).cos()]).collect();
    let data = SequenceData::with_covariates("s", &target, &rows, vec!["c".into()], false).unwrap();
    let layout = data.covariates.as_ref().unwrap();
    let device = Device::flex();
    let config = config(SequenceModelKind::Tcn, 1);
    let model = config.init_seeded(9, &device);
    let values = &data.test[0].targets;
    let forecast = argen::generate::sequence::forecast_past_end(
        &model,
        &config,
        values,
        Some(layout),
        4,
        &device,
    )
    .unwrap();
    // Step 50 is the model's mean given all 50 values and the covariates of steps 0..=50.
    let n = values.len();
    let mut x = values.clone();
    x.push(0.0);
    let x = Tensor::<3>::from_data(TensorData::new(x, [1, 1, n + 1]), &device);
    let c = Tensor::<3>::from_data(
        TensorData::new(layout.aligned(0, n + 1).unwrap(), [1, 1, n + 1]),
        &device,
    );
    let mean: Vec<f32> = model
        .forward_with_covariates(x, None, Some(&c))
        .narrow(1, 0, 1)
        .into_data()
        .iter()
        .collect();
    assert!(
        (forecast[0] - mean[n]).abs() < 1e-5,
        "{} vs {}",
        forecast[0],
        mean[n]
    );
    // Another future covariate changes the forecast of that step.
    let mut other = rows.clone();
    other[50][0] += 3.0;
    let data2 =
        SequenceData::with_covariates("s", &target, &other, vec!["c".into()], false).unwrap();
    let forecast2 = argen::generate::sequence::forecast_past_end(
        &model,
        &config,
        values,
        data2.covariates.as_ref(),
        1,
        &device,
    )
    .unwrap();
    assert_ne!(forecast2[0], forecast[0]);
    // A fifth step has no covariates: a clear error, not zeros.
    let err = argen::generate::sequence::forecast_past_end(
        &model,
        &config,
        values,
        Some(layout),
        5,
        &device,
    )
    .unwrap_err();
    assert!(err.contains("give at most --horizon 4"), "{err}");
}
