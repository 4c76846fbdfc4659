//! The output distributions of the sequence models: each one is normalised and its sampler
//! follows its probabilities.

use argen::distributions::{OutputDistribution, Target, bernoulli, gaussian, logistic_mixture};
use argen::rng::seeded;
use burn::prelude::*;

fn device() -> Device {
    Device::flex()
}

/// Features [1, P, n] whose every step holds `params`, and a target [1, n] with levels 0..n.
fn all_levels(params: &[f32], levels: usize) -> (Tensor<3>, Target) {
    let p = params.len();
    let mut data = Vec::with_capacity(p * levels);
    for v in params {
        data.extend(std::iter::repeat_n(*v, levels));
    }
    let features = Tensor::from_data(TensorData::new(data, [1, p, levels]), &device());
    let x: Vec<i64> = (0..levels as i64).collect();
    let target = Target::Levels(Tensor::from_data(
        TensorData::new(x, [1, levels]),
        &device(),
    ));
    (features, target)
}

fn total_probability(dist: OutputDistribution, params: &[f32]) -> f64 {
    let levels = dist.levels().unwrap();
    let (features, target) = all_levels(params, levels);
    let log_p = dist
        .log_prob(features, &target)
        .into_data()
        .convert::<f64>();
    log_p.iter::<f64>().map(f64::exp).sum()
}

#[test]
fn categorical_sums_to_one_over_all_levels() {
    let dist = OutputDistribution::Categorical { levels: 7 };
    let params = [0.3f32, -1.0, 2.5, 0.0, 4.0, -3.0, 1.0];
    let total = total_probability(dist, &params);
    assert!((total - 1.0).abs() < 1e-5, "total {total}");
}

#[test]
fn discretised_logistic_mixture_sums_to_one_and_matches_the_f64_version() {
    for levels in [2usize, 5, 17, 256] {
        let dist = OutputDistribution::LogisticMixture {
            levels,
            components: 3,
        };
        // logits of π, centres μ, log-scales (one very narrow: the fallback path).
        let params = [0.5f32, -1.0, 1.5, -0.7, 0.1, 0.9, -2.0, -6.5, 0.3];
        let total = total_probability(dist, &params);
        assert!((total - 1.0).abs() < 2e-4, "L = {levels}: total {total}");
        let exact: f64 = logistic_mixture::probabilities(&params, levels)
            .iter()
            .sum();
        assert!(
            (exact - 1.0).abs() < 1e-9,
            "L = {levels}: f64 total {exact}"
        );
    }
    // The tensor and the f64 versions agree level by level.
    let levels = 17;
    let params = [0.5f32, -1.0, 1.5, -0.7, 0.1, 0.9, -2.0, -1.5, -3.0];
    let (features, target) = all_levels(&params, levels);
    let dist = OutputDistribution::LogisticMixture {
        levels,
        components: 3,
    };
    let log_p: Vec<f64> = dist
        .log_prob(features, &target)
        .into_data()
        .convert::<f64>()
        .iter::<f64>()
        .collect();
    let exact = logistic_mixture::probabilities(&params, levels);
    for (l, (a, b)) in log_p.iter().zip(&exact).enumerate() {
        assert!((a.exp() - b).abs() < 1e-4, "level {l}: {} vs {b}", a.exp());
    }
}

#[test]
fn gaussian_integrates_to_one_and_matches_the_closed_form() {
    // Trapezoid rule over μ ± 12σ.
    let (mean, log_var) = (0.7f64, (0.3f64 * 0.3).ln());
    let sigma = (0.5 * log_var).exp();
    let n = 20_000;
    let (a, b) = (mean - 12.0 * sigma, mean + 12.0 * sigma);
    let h = (b - a) / n as f64;
    let integral: f64 = (0..=n)
        .map(|i| {
            let w = if i == 0 || i == n { 0.5 } else { 1.0 };
            w * gaussian::log_density(mean, log_var, a + i as f64 * h).exp()
        })
        .sum::<f64>()
        * h;
    assert!((integral - 1.0).abs() < 1e-6, "integral {integral}");
    // The tensor version agrees with the f64 one.
    let dist = OutputDistribution::Gaussian {
        dims: 1,
        fixed_variance: false,
    };
    let features = Tensor::from_data(
        TensorData::new(vec![mean as f32, log_var as f32], [1, 2, 1]),
        &device(),
    );
    let target = dist.target(vec![1.1], 1, 1, &device());
    let log_p = dist.log_prob(features, &target).into_scalar::<f64>();
    assert!((log_p - gaussian::log_density(mean, log_var, 1.1)).abs() < 1e-4);
}

#[test]
fn bernoullis_sum_to_one_over_all_patterns() {
    let logits = [1.5f32, -0.5, 0.0];
    let dist = OutputDistribution::Bernoulli { dims: 3 };
    let mut total = 0.0;
    for pattern in 0..8u32 {
        let bits: Vec<f32> = (0..3).map(|d| ((pattern >> d) & 1) as f32).collect();
        let features = Tensor::from_data(TensorData::new(logits.to_vec(), [1, 3, 1]), &device());
        let target = dist.target(bits, 1, 1, &device());
        total += dist.log_prob(features, &target).into_scalar::<f64>().exp();
    }
    assert!((total - 1.0).abs() < 1e-5, "total {total}");
    assert!((bernoulli::probability(0.0, 1.0) - 0.5).abs() < 1e-12);
}

#[test]
fn samplers_follow_their_probabilities() {
    let n = 20_000;
    let mut rng = seeded(7);
    // Logistic mixture: empirical frequencies against the exact probabilities.
    let levels = 5;
    let params = [0.2f32, -0.4, -0.6, 0.5, -0.5, -1.2];
    let dist = OutputDistribution::LogisticMixture {
        levels,
        components: 2,
    };
    let exact = logistic_mixture::probabilities(&params, levels);
    let mut counts = vec![0usize; levels];
    for _ in 0..n {
        counts[dist.sample(&params, 1.0, &mut rng)[0] as usize] += 1;
    }
    for l in 0..levels {
        let freq = counts[l] as f64 / n as f64;
        let se = (exact[l] * (1.0 - exact[l]) / n as f64).sqrt();
        assert!(
            (freq - exact[l]).abs() < 5.0 * se + 1e-9,
            "level {l}: {freq} vs {}",
            exact[l]
        );
    }
    // Gaussian: mean and variance of the draws.
    let g = OutputDistribution::Gaussian {
        dims: 1,
        fixed_variance: false,
    };
    let draws: Vec<f64> = (0..n)
        .map(|_| f64::from(g.sample(&[2.0, (0.25f32).ln()], 1.0, &mut rng)[0]))
        .collect();
    let mean = draws.iter().sum::<f64>() / n as f64;
    let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
    assert!((mean - 2.0).abs() < 0.02, "mean {mean}");
    assert!((var - 0.25).abs() < 0.02, "variance {var}");
    // Bernoulli: frequency of ones.
    let b = OutputDistribution::Bernoulli { dims: 1 };
    let ones: f32 = (0..n).map(|_| b.sample(&[1.0], 1.0, &mut rng)[0]).sum();
    let p = bernoulli::probability(1.0, 1.0);
    assert!((f64::from(ones) / n as f64 - p).abs() < 0.015);
}

/// Which model distributions a run may use for data of another: a logistic mixture over the
/// same levels for a softmax, a unit-variance Gaussian for a learned-variance one, and nothing
/// else that differs.
#[test]
fn a_model_distribution_stands_only_for_its_own_kind_of_data() {
    use OutputDistribution::*;
    let softmax = Categorical { levels: 17 };
    let mixture = LogisticMixture {
        levels: 17,
        components: 3,
    };
    let learned = Gaussian {
        dims: 1,
        fixed_variance: false,
    };
    let fixed = Gaussian {
        dims: 1,
        fixed_variance: true,
    };
    assert!(softmax.can_stand_for(softmax));
    assert!(mixture.can_stand_for(softmax));
    assert!(fixed.can_stand_for(learned));
    assert!(learned.can_stand_for(learned));
    assert!(!softmax.can_stand_for(mixture));
    assert!(!learned.can_stand_for(fixed));
    assert!(!mixture.can_stand_for(Categorical { levels: 16 }));
    assert!(!fixed.can_stand_for(Gaussian {
        dims: 2,
        fixed_variance: false
    }));
    assert!(!fixed.can_stand_for(softmax));
}
