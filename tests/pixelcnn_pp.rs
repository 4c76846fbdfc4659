//! PixelCNN++: the pixel mixture is a distribution (exactly normalised, its conditionals
//! multiply back to the joint, its gradients are those of its formula, its sampler draws
//! its probabilities); the strided network is causal with no blind spot at every number of
//! resolutions; cached generation with strides equals naive generation; impossible
//! settings are refused before training.

mod common;

use argen::distributions::categorical;
use argen::distributions::pixel_mixture::{self, Layout};
use argen::generate::{SampleRequest, sample_cached, sample_naive};
use argen::models::{ImageModelConfig, PixelCnnPpConfig};
use argen::receptive_field::measure;
use burn::prelude::*;
use rand::{RngExt, SeedableRng};

/// Random mixture parameters for `pixels` pixels: logits N(0, 1), means U(−1.3, 1.3),
/// log-scales U(`log_scale`), coefficients N(0, 1); one pixel's channels after another.
fn random_params(layout: Layout, pixels: usize, log_scale: (f32, f32), seed: u64) -> Vec<f32> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let k = layout.components;
    let c = layout.colours;
    let mut out = Vec::with_capacity(pixels * layout.channels());
    for _ in 0..pixels {
        for ch in 0..layout.channels() {
            let value = if ch < k {
                rng.random_range(-2.0..2.0)
            } else if ch < k * (1 + c) {
                rng.random_range(-1.3..1.3)
            } else if ch < k * (1 + 2 * c) {
                rng.random_range(log_scale.0..log_scale.1)
            } else {
                rng.random_range(-2.0..2.0)
            };
            out.push(value);
        }
    }
    out
}

/// `values` (one pixel's channels after another) as [pixels, channels, 1, 1].
fn params_tensor(values: &[f32], channels: usize, device: &Device) -> Tensor<4> {
    let pixels = values.len() / channels;
    Tensor::from_data(
        TensorData::new(values.to_vec(), [pixels, channels, 1, 1]),
        device,
    )
}

fn f64s(t: Tensor<1>) -> Vec<f64> {
    t.into_data().convert::<f64>().iter::<f64>().collect()
}

/// Every pixel of `colours` values in 0..levels, in order (R slowest).
fn all_pixels(colours: usize, levels: usize) -> Vec<Vec<usize>> {
    (0..levels.pow(colours as u32))
        .map(|mut k| {
            let mut pixel = vec![0; colours];
            for c in (0..colours).rev() {
                pixel[c] = k % levels;
                k /= levels;
            }
            pixel
        })
        .collect()
}

#[test]
fn the_mixture_sums_to_one_over_the_levels_for_every_parameter_setting() {
    let device = Device::flex();
    // Grey, 256 levels: wide, ordinary and very narrow logistics (the last at the clamp of
    // the log-scale and below it), means outside [−1, 1] included.
    for (i, scales) in [(-1.0, 1.5), (-4.0, -1.0), (-9.0, -6.5)]
        .into_iter()
        .enumerate()
    {
        let layout = Layout::new(5, 1);
        let params = random_params(layout, 6, scales, i as u64);
        let all = params_tensor(&params, layout.channels(), &device);
        for p in 0..6 {
            let one = all.clone().narrow(0, p, 1);
            let y = Tensor::<4>::zeros([1, 1, 1, 1], &device);
            let probs: f64 = pixel_mixture::level_log_probs(one, y, 256, 5)
                .exp()
                .sum()
                .into_scalar::<f64>();
            assert!(
                (probs - 1.0).abs() < 1e-4,
                "scales {scales:?}, pixel {p}: {probs}"
            );
            // The f64 reference, exactly.
            let reference: f64 = (0..256)
                .map(|l| {
                    pixel_mixture::pixel_probability(&params[p * 15..(p + 1) * 15], &[l], 256, 5)
                })
                .sum();
            assert!((reference - 1.0).abs() < 1e-12, "reference {reference}");
        }
    }
    // Colour, 8 levels: the joint over all 512 pixels, with the R → G → B coefficients.
    let layout = Layout::new(3, 3);
    for seed in 0..4 {
        let params = random_params(layout, 1, (-2.5, 0.5), 10 + seed);
        let total: f64 = all_pixels(3, 8)
            .iter()
            .map(|px| pixel_mixture::pixel_probability(&params, px, 8, 3))
            .sum();
        assert!((total - 1.0).abs() < 1e-12, "seed {seed}: {total}");
    }
}

/// `one` parameter setting repeated for `n` pixels.
fn params_again(one: &[f32], n: usize) -> Vec<f32> {
    (0..n).flat_map(|_| one.to_vec()).collect()
}

#[test]
fn the_tensor_forms_agree_with_the_reference_and_the_conditionals_multiply_to_the_joint() {
    let device = Device::flex();
    let levels = 8;
    for (colours, k) in [(1, 4), (3, 3)] {
        let layout = Layout::new(k, colours);
        let pixels = all_pixels(colours, levels);
        let n = pixels.len();
        // One parameter setting for every pixel value, to score all of them at once.
        let one = random_params(layout, 1, (-2.5, 0.0), 3 + colours as u64);
        let params: Vec<f32> = (0..n).flat_map(|_| one.clone()).collect();
        let params = params_tensor(&params, layout.channels(), &device);
        let levels_flat: Vec<i64> = pixels.iter().flatten().map(|&v| v as i64).collect();
        let x =
            Tensor::<4, Int>::from_data(TensorData::new(levels_flat, [n, colours, 1, 1]), &device);
        let joint = f64s(pixel_mixture::log_prob(
            params.clone(),
            x.clone(),
            levels,
            k,
        ));
        // The conditional of each colour given the earlier ones, at the observed levels.
        let conditionals = pixel_mixture::level_log_probs(
            params,
            pixel_mixture::scaled(x.clone(), levels),
            levels,
            k,
        );
        // Generation's one-colour form is the same conditional, value for value.
        let y = pixel_mixture::scaled(x.clone(), levels);
        for colour in 0..colours {
            let one_colour = f64s(
                pixel_mixture::colour_log_probs(
                    params_tensor(&params_again(&one, n), layout.channels(), &device),
                    y.clone(),
                    colour,
                    levels,
                    k,
                )
                .reshape([n * levels]),
            );
            let all = f64s(
                conditionals
                    .clone()
                    .narrow(2, colour, 1)
                    .reshape([n * levels]),
            );
            assert_eq!(one_colour, all, "colour {colour} of {colours}");
        }
        let chain = f64s(categorical::log_prob(conditionals.clone(), x));
        for (i, px) in pixels.iter().enumerate() {
            let reference = pixel_mixture::pixel_probability(&one, px, levels, k).ln();
            assert!(
                (joint[i] - reference).abs() < 1e-4 * (1.0 + reference.abs()),
                "{px:?}: {} vs {reference}",
                joint[i]
            );
            assert!(
                (chain[i] - joint[i]).abs() < 1e-4,
                "{px:?}: chain {} vs joint {}",
                chain[i],
                joint[i]
            );
        }
        // Every conditional is a distribution over the levels.
        let sums: Vec<f64> = conditionals
            .exp()
            .sum_dim(1)
            .into_data()
            .convert::<f64>()
            .iter::<f64>()
            .collect();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-4), "{sums:?}");
    }
}

#[test]
fn the_mixture_gradients_are_those_of_its_formula() {
    let device = Device::flex().autodiff();
    let (levels, k) = (16, 2);
    for (colours, pixel) in [
        (1, vec![5usize]),
        (1, vec![0]),
        (1, vec![15]),
        (3, vec![3, 9, 15]),
    ] {
        let layout = Layout::new(k, colours);
        let params = random_params(layout, 1, (-2.0, -0.5), 20 + pixel[0] as u64);
        let p = params_tensor(&params, layout.channels(), &device).require_grad();
        let values: Vec<i64> = pixel.iter().map(|&v| v as i64).collect();
        let x = Tensor::<4, Int>::from_data(TensorData::new(values, [1, colours, 1, 1]), &device);
        let grads = pixel_mixture::log_prob(p.clone(), x, levels, k)
            .sum()
            .backward();
        let grad: Vec<f64> = p
            .grad(&grads)
            .expect("a gradient")
            .into_data()
            .convert::<f64>()
            .iter::<f64>()
            .collect();
        // Central differences of ln p in f64.
        let eps = 1e-4f32;
        for (ch, &g) in grad.iter().enumerate() {
            let at = |delta: f32| {
                let mut q = params.clone();
                q[ch] += delta;
                pixel_mixture::pixel_probability(&q, &pixel, levels, k).ln()
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * f64::from(eps));
            assert!(
                (numeric - g).abs() < 2e-2 * (1.0 + numeric.abs()),
                "{colours} colours, pixel {pixel:?}, channel {ch}: autodiff {g}, differences {numeric}"
            );
        }
    }
}

/// Pearson's chi-square of `counts` against `probabilities` (cells expected below 5 pooled),
/// with its degrees of freedom.
fn chi_square(counts: &[usize], probabilities: &[f64]) -> (f64, usize) {
    let draws: usize = counts.iter().sum();
    let (mut chi2, mut cells, mut pooled_obs, mut pooled_exp) = (0.0, 0usize, 0.0, 0.0);
    for (&c, &p) in counts.iter().zip(probabilities) {
        let e = p * draws as f64;
        if e >= 5.0 {
            chi2 += (c as f64 - e).powi(2) / e;
            cells += 1;
        } else {
            pooled_obs += c as f64;
            pooled_exp += e;
        }
    }
    if pooled_exp > 0.0 {
        chi2 += (pooled_obs - pooled_exp).powi(2) / pooled_exp.max(1e-9);
        cells += 1;
    }
    (chi2, cells - 1)
}

/// The 0.999 quantile of chi-square with `df` degrees of freedom (Wilson–Hilferty).
fn critical(df: usize) -> f64 {
    let d = df as f64;
    let z = 3.09;
    d * (1.0 - 2.0 / (9.0 * d) + z * (2.0 / (9.0 * d)).sqrt()).powi(3)
}

/// P(the pixel's first colours are `prefix` | component `j`), in f64: the joint of the
/// component alone with the later colours summed out.
fn component_prefix(params: &[f32], j: usize, prefix: &[usize], levels: usize, k: usize) -> f64 {
    let mut one = params.to_vec();
    for (i, v) in one.iter_mut().take(k).enumerate() {
        *v = if i == j { 0.0 } else { -1e4 };
    }
    all_pixels(3, levels)
        .iter()
        .filter(|px| px[..prefix.len()] == *prefix)
        .map(|px| pixel_mixture::pixel_probability(&one, px, levels, k))
        .sum()
}

#[test]
fn sampled_pixel_frequencies_match_the_mixture_and_a_wrong_sampler_is_rejected() {
    let device = Device::flex();
    let (levels, k, colours) = (4, 2, 3);
    let layout = Layout::new(k, colours);
    // Two well separated components with strong colour coefficients.
    let mut params = random_params(layout, 1, (-1.5, -1.0), 31);
    params[0] = 0.3;
    params[1] = -0.3;
    params[k] = -0.8;
    params[k + 1] = 0.8;
    let pixels = all_pixels(colours, levels);
    let exact: Vec<f64> = pixels
        .iter()
        .map(|px| pixel_mixture::pixel_probability(&params, px, levels, k))
        .collect();
    let p = params_tensor(&params, layout.channels(), &device);
    // The conditional of colour `colour` given the earlier colours, as the generation paths
    // compute it: a row of L log-probabilities.
    let conditional = |earlier: &[usize], colour: usize| -> Vec<f32> {
        let mut y = vec![0f32; colours];
        for (c, &l) in earlier.iter().enumerate() {
            y[c] = (2.0 * l as f64 / (levels - 1) as f64 - 1.0) as f32;
        }
        let y = Tensor::<4>::from_data(TensorData::new(y, [1, colours, 1, 1]), &device);
        pixel_mixture::level_log_probs(p.clone(), y, levels, k)
            .narrow(2, colour, 1)
            .reshape([levels])
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
    };
    // A plausible bug: each colour drawn with the prior weights π, not with the posterior
    // given the earlier colours (the right means, the wrong weights).
    let pi: Vec<f64> = {
        let e: Vec<f64> = params[..k].iter().map(|&a| f64::from(a).exp()).collect();
        let t: f64 = e.iter().sum();
        e.into_iter().map(|v| v / t).collect()
    };
    let prior_weighted = |earlier: &[usize], _colour: usize| -> Vec<f32> {
        (0..levels)
            .map(|l| {
                let mut with = earlier.to_vec();
                with.push(l);
                let p: f64 = (0..k)
                    .map(|j| {
                        pi[j] * component_prefix(&params, j, &with, levels, k)
                            / component_prefix(&params, j, earlier, levels, k)
                    })
                    .sum();
                p.ln() as f32
            })
            .collect()
    };
    let draws = 30_000;
    for correct in [true, false] {
        let mut rng = argen::rng::seeded_stream(5, u64::from(correct));
        let mut counts = vec![0usize; pixels.len()];
        let mut memo = std::collections::HashMap::new();
        for _ in 0..draws {
            let mut px = Vec::with_capacity(colours);
            for c in 0..colours {
                let row = memo
                    .entry((px.clone(), c))
                    .or_insert_with(|| {
                        if correct {
                            conditional(&px, c)
                        } else {
                            prior_weighted(&px, c)
                        }
                    })
                    .clone();
                px.push(categorical::sample_row(&row, 1.0, &mut rng));
            }
            counts[px.iter().fold(0, |i, &v| i * levels + v)] += 1;
        }
        let (chi2, df) = chi_square(&counts, &exact);
        if correct {
            assert!(
                chi2 < critical(df),
                "the sampler: chi-square {chi2} on {df} df"
            );
        } else {
            assert!(
                chi2 > critical(df),
                "the test must reject prior weights: chi-square {chi2} on {df} df"
            );
        }
    }
}

fn pp_config(
    levels: usize,
    colours: usize,
    channels: usize,
    blocks: usize,
    resolutions: usize,
    kernel: usize,
) -> PixelCnnPpConfig {
    PixelCnnPpConfig {
        levels,
        colours,
        channels,
        blocks,
        resolutions,
        kernel,
        mixture: 3,
        dropout: 0.0,
        num_classes: None,
        vector_dim: None,
    }
}

#[test]
fn the_strided_network_is_causal_with_no_blind_spot_at_every_resolution_count() {
    // (colours, channels, blocks, resolutions, kernel, image side, targets)
    let cases: [(usize, usize, usize, usize, usize, usize); 6] = [
        (1, 6, 1, 1, 3, 12),
        (1, 6, 1, 2, 3, 12),
        (1, 6, 1, 3, 3, 12),
        (1, 4, 2, 3, 5, 16),
        (3, 6, 1, 2, 3, 12),
        (3, 6, 1, 3, 3, 12),
    ];
    for (i, &(colours, channels, blocks, resolutions, kernel, side)) in cases.iter().enumerate() {
        let config = ImageModelConfig::PixelcnnPp(pp_config(
            16,
            colours,
            channels,
            blocks,
            resolutions,
            kernel,
        ));
        let model = config.init_seeded(i as u64, &Device::flex());
        // Targets on and off the strides, at the edges and inside.
        let targets = [
            (0, 1),
            (1, 0),
            (3, 5),
            (5, 3),
            (side - 1, side - 1),
            (side / 2, side - 1),
            (side - 2, 1),
        ];
        for &(row, col) in &targets {
            for colour in 0..colours {
                let field = measure(&model, &config, side, side, (row, col, colour), None, 2, 3);
                assert!(
                    field.leaks().is_empty(),
                    "case {i}, target {row},{col} colour {colour}: depends on {:?}",
                    field.leaks()
                );
                assert!(
                    field.blind_spot().is_empty(),
                    "case {i}, target {row},{col} colour {colour}: blind spot {:?}",
                    field.blind_spot()
                );
            }
        }
    }
}

#[test]
fn within_a_pixel_each_colour_reads_only_the_colours_before_it() {
    let device = Device::flex().autodiff();
    let config = ImageModelConfig::PixelcnnPp(pp_config(16, 3, 6, 1, 2, 3));
    let model = config.init_seeded(5, &device);
    let (n, side) = (2, 8);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let values: Vec<i64> = (0..n * 3 * side * side)
        .map(|_| rng.random_range(0..16))
        .collect();
    let x = Tensor::<4, Int>::from_data(TensorData::new(values, [n, 3, side, side]), &device);
    let (row, col) = (4, 5);
    for colour in 0..3 {
        let input = model.embed(x.clone()).detach().require_grad();
        let logits = model.forward_embedded(input.clone(), None);
        let target = logits.slice([0..n, 0..16, colour..colour + 1, row..row + 1, col..col + 1]);
        let grads = target.sum().backward();
        let grad = input.grad(&grads).expect("a gradient");
        // Input channels: R, G, B, then the plane of ones.
        for channel in 0..4 {
            let g: f64 = grad
                .clone()
                .slice([0..n, channel..channel + 1, row..row + 1, col..col + 1])
                .abs()
                .sum()
                .into_scalar::<f64>();
            if channel < colour {
                assert!(
                    g > 0.0,
                    "colour {colour} must read channel {channel} of its pixel"
                );
            } else {
                assert_eq!(
                    g, 0.0,
                    "colour {colour} reads channel {channel} of its own pixel"
                );
            }
        }
    }
}

#[test]
fn probabilities_of_all_images_sum_to_one() {
    let device = Device::flex();
    // 2x2 images: grey with 3 levels (81 images) and colour with 2 levels (4,096 images).
    for (colours, levels, resolutions) in [(1, 3, 2), (3, 2, 2), (1, 3, 1)] {
        let config = ImageModelConfig::PixelcnnPp(pp_config(levels, colours, 4, 1, resolutions, 3));
        let model = config.init_seeded(7, &device);
        let n = colours * 4;
        let count = levels.pow(n as u32);
        let values: Vec<i64> = (0..count)
            .flat_map(|mut k| {
                let mut img = vec![0i64; n];
                for p in (0..n).rev() {
                    img[p] = (k % levels) as i64;
                    k /= levels;
                }
                img
            })
            .collect();
        let x =
            Tensor::<4, Int>::from_data(TensorData::new(values, [count, colours, 2, 2]), &device);
        let total: f64 = f64s(model.log_prob(x, None)).iter().map(|l| l.exp()).sum();
        assert!(
            (total - 1.0).abs() < 1e-4,
            "{colours} colours, {levels} levels: {total}"
        );
    }
}

fn request(side: usize, colours: usize, n: usize, seed: u64) -> SampleRequest {
    let mut r = SampleRequest::new(side, side, vec![None; n], seed);
    r.colours = colours;
    r.batch = n;
    r
}

/// (levels, colours, channels, blocks, resolutions, kernel, side, classes, vector dimension)
type Case = (
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    Option<usize>,
    Option<usize>,
);

#[test]
fn cached_generation_with_strides_equals_naive_generation() {
    let device = Device::flex();
    // (levels, colours, channels, blocks, resolutions, kernel, side, classes, vectors)
    let cases: [Case; 7] = [
        (17, 1, 6, 1, 3, 3, 8, None, None),
        (256, 1, 6, 2, 2, 3, 8, None, None),
        (16, 1, 4, 1, 1, 5, 6, None, None),
        (16, 1, 6, 1, 3, 5, 8, Some(3), None),
        (256, 3, 6, 1, 3, 3, 8, None, None),
        (32, 3, 4, 1, 2, 3, 4, Some(2), None),
        (16, 1, 4, 1, 2, 3, 8, None, Some(3)),
    ];
    for (i, &(levels, colours, channels, blocks, resolutions, kernel, side, classes, vectors)) in
        cases.iter().enumerate()
    {
        let mut config = pp_config(levels, colours, channels, blocks, resolutions, kernel);
        config.num_classes = classes;
        config.vector_dim = vectors;
        let model = ImageModelConfig::PixelcnnPp(config).init_seeded(i as u64, &device);
        for seed in [0, 3] {
            let n = 3;
            let mut req = request(side, colours, n, seed);
            req.labels = (0..n).map(|j| classes.map(|k| j % k)).collect();
            if let Some(d) = vectors {
                req.vectors = Some((0..n * d).map(|v| (v as f32 * 0.37).sin()).collect());
            }
            req.temperature = if seed == 3 { 0.7 } else { 1.0 };
            let naive = sample_naive(&model, &req, &device);
            let cached = sample_cached(&model, &req, &device);
            assert_eq!(naive, cached, "case {i}, seed {seed}");
            // Completion: the top rows kept, the rest drawn, the same through both paths.
            let mut req = req.clone();
            req.given = Some(naive.clone());
            req.given_positions = 2 * side * colours;
            let completed = sample_cached(&model, &req, &device);
            assert_eq!(
                completed,
                sample_naive(&model, &req, &device),
                "case {i} completion"
            );
            for image in 0..n {
                let size = colours * side * side;
                for c in 0..colours {
                    let at = image * size + c * side * side;
                    assert_eq!(completed[at..at + 2 * side], naive[at..at + 2 * side]);
                }
            }
        }
    }
}

#[test]
fn images_do_not_depend_on_the_batch_size() {
    let device = Device::flex();
    let model = ImageModelConfig::PixelcnnPp(pp_config(16, 1, 4, 1, 2, 3)).init_seeded(1, &device);
    let mut whole = request(4, 1, 5, 2);
    let all = sample_cached(&model, &whole, &device);
    whole.batch = 2;
    assert_eq!(all, sample_cached(&model, &whole, &device));
}

#[test]
fn impossible_settings_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--resolutions", "5"], "multiples of 16"),
        (&["--resolutions", "0"], "--resolutions must be 1 to 8"),
        (&["--mixture", "0"], "1 to 64 components"),
        (&["--mixture", "100"], "1 to 64 components"),
        (&["--kernel", "4"], "must be odd"),
        (
            &["--head", "64"],
            "--head does not apply to the pixelcnn-pp",
        ),
    ];
    for (extra, phrase) in cases {
        let out = dir.path().join("run");
        let mut args = vec!["train", "--model", "pixelcnn-pp", "--epochs", "1", "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(extra);
        let output = common::argen(&args);
        common::assert_clean_failure(&output, phrase);
        assert!(
            !out.exists(),
            "{extra:?}: nothing is written before the error"
        );
    }
    // The mixture and resolutions are the PixelCNN++'s options.
    let output = common::argen(&["train", "--model", "gated-pixelcnn", "--mixture", "3"]);
    common::assert_clean_failure(
        &output,
        "--mixture does not apply to --model gated-pixelcnn",
    );
    let output = common::argen(&["receptive-field", "--model", "pixelcnn-pp", "--size", "21"]);
    common::assert_clean_failure(&output, "multiples of 4");
}

#[test]
fn a_trained_run_evaluates_samples_and_completes_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("pp");
    let run_s = run.to_str().unwrap();
    let out = common::argen_ok(
        &[
            "train",
            "--model",
            "pixelcnn-pp",
            "--channels",
            "8",
            "--epochs",
            "1",
            "--train-limit",
            "200",
            "--samples",
            "0",
            "--out",
            run_s,
            "--quiet",
        ],
        dir.path(),
    );
    let text = common::stderr(&out) + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PixelCNN++"), "{text}");
    let eval = common::argen_ok(&["eval", run_s, "--json"], dir.path());
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("JSON");
    let bits = report["bits_per_dim"].as_f64().expect("bits/dim");
    assert!(bits > 0.0 && bits < 4.1, "bits/dim {bits}");
    let png = dir.path().join("s.png");
    common::argen_ok(
        &["sample", run_s, "--n", "4", "--out", png.to_str().unwrap()],
        dir.path(),
    );
    assert!(png.exists());
    let naive = dir.path().join("n.png");
    common::argen_ok(
        &[
            "sample",
            run_s,
            "--n",
            "4",
            "--naive",
            "--out",
            naive.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(std::fs::read(&png).unwrap(), std::fs::read(&naive).unwrap());
    let completed = dir.path().join("c.png");
    common::argen_ok(
        &["complete", run_s, "--out", completed.to_str().unwrap()],
        dir.path(),
    );
    assert!(completed.exists());
}

#[test]
fn a_colour_run_on_coloured_digits_learns_and_samples_the_same_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("colour");
    let run_s = run.to_str().unwrap();
    let args = [
        "train",
        "--model",
        "pixelcnn-pp",
        "--data",
        "colour:digits",
        "--channels",
        "8",
        "--resolutions",
        "2",
        "--epochs",
        "2",
        "--lr",
        "5e-3",
        "--batch-size",
        "16",
        "--samples",
        "0",
        "--out",
        run_s,
        "--quiet",
    ];
    common::argen_ok(&args, dir.path());
    let eval = common::argen_ok(&["eval", run_s, "--json"], dir.path());
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).expect("JSON");
    let bits = report["bits_per_dim"].as_f64().expect("bits/dim");
    // Uniform over 17 levels is log2(17) = 4.09 bits/dim; the colours of a pixel share most
    // of their information (one grey value and two colours per image), which two epochs
    // learn (3.25 bits/dim when this was written).
    assert!(bits > 0.0 && bits < 3.7, "bits/dim {bits}");
    let sample = |name: &str, naive: bool| {
        let png = dir.path().join(name);
        let mut args = vec!["sample", run_s, "--n", "3", "--out", png.to_str().unwrap()];
        if naive {
            args.push("--naive");
        }
        common::argen_ok(&args, dir.path());
        std::fs::read(&png).unwrap()
    };
    assert_eq!(sample("cached.png", false), sample("naive.png", true));
}
