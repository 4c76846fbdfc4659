//! Properties of the image models that follow from the chain rule, checked exactly:
//! causality over pixels and colour channels, completeness of the receptive field (no blind
//! spot for the Gated PixelCNN), normalisation over spaces enumerated in full, and samples
//! whose frequencies match the model's probabilities.

use argen::distributions::categorical;
use argen::generate::{SampleRequest, sample_naive};
use argen::models::{Condition, GatedPixelCnnConfig, ImageModel, ImageModelConfig, PixelCnnConfig};
use burn::prelude::*;

fn gated(levels: usize, layers: usize, kernel: usize, classes: Option<usize>) -> ImageModelConfig {
    ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
        levels,
        channels: 16,
        layers,
        first_kernel: kernel,
        kernel,
        head: 32,
        num_classes: classes,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    })
}

fn gated_colour(
    levels: usize,
    colours: usize,
    layers: usize,
    kernel: usize,
    classes: Option<usize>,
) -> ImageModelConfig {
    ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
        levels,
        channels: 6 * colours,
        layers,
        first_kernel: kernel,
        kernel: 3,
        head: 8 * colours,
        num_classes: classes,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours,
    })
}

fn pixelcnn(
    levels: usize,
    colours: usize,
    blocks: usize,
    kernel: usize,
    classes: Option<usize>,
) -> ImageModelConfig {
    ImageModelConfig::Pixelcnn(PixelCnnConfig {
        levels,
        colours,
        channels: 12 * colours,
        blocks,
        first_kernel: kernel,
        kernel: 3,
        head: 8 * colours,
        num_classes: classes,
        vector_dim: None,
    })
}

fn int4(values: Vec<i64>, shape: [usize; 4], device: &Device) -> Tensor<4, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn labels(values: Vec<i64>, device: &Device) -> Condition {
    let n = values.len();
    Condition::Classes(Tensor::from_data(TensorData::new(values, [n]), device))
}

/// Generation order: position q is pixel q / C (raster order), colour q % C.
/// Storage index of position q in an image [colour][row][column].
fn index(q: usize, c: usize, h: usize, w: usize) -> usize {
    let (pixel, colour) = (q / c, q % c);
    (colour * h + pixel / w) * w + pixel % w
}

/// The image at which dependencies are measured: a fixed pattern of levels, moved by `shift`.
fn base_image(n: usize, levels: usize, shift: usize) -> Vec<i64> {
    (0..n)
        .map(|i| ((i * 7 + 3 + shift) % levels) as i64)
        .collect()
}

/// deps[q][p]: does the distribution at position q change when the value at position p
/// changes? Measured by perturbing each position in turn (exactly zero where there is no
/// path; a far dependency may round away in f32, see the gradient version).
fn perturbation_dependencies(
    model: &ImageModel,
    c: usize,
    h: usize,
    w: usize,
    class: Option<i64>,
    device: &Device,
) -> Vec<Vec<bool>> {
    let (n, levels) = (c * h * w, model.levels());
    let base = base_image(n, levels, 0);
    let mut batch = base.clone();
    for p in 0..n {
        let mut img = base.clone();
        img[index(p, c, h, w)] = (img[index(p, c, h, w)] + 1) % levels as i64;
        batch.extend(img);
    }
    let y = class.map(|k| labels(vec![k; n + 1], device));
    let logits = model
        .forward(int4(batch, [n + 1, c, h, w], device), y)
        .into_data()
        .convert::<f32>();
    let logits = logits.as_slice::<f32>().unwrap();
    // logits [image, level, colour, row, col]
    let at =
        |img: usize, level: usize, q: usize| logits[(img * levels + level) * n + index(q, c, h, w)];
    (0..n)
        .map(|q| {
            (0..n)
                .map(|p| (0..levels).any(|l| at(1 + p, l, q).to_bits() != at(0, l, q).to_bits()))
                .collect()
        })
        .collect()
}

/// deps[q][p]: is the gradient of the logits at position q with respect to the embedded
/// input of position p non-zero? Exactly zero where no path connects p to q.
fn gradient_dependencies(
    model: &ImageModel,
    c: usize,
    h: usize,
    w: usize,
    class: Option<i64>,
    shift: usize,
) -> Vec<Vec<bool>> {
    let device = Device::flex().autodiff();
    let model = model.clone().to_device(&device);
    let (n, levels) = (c * h * w, model.levels());
    let image = base_image(n, levels, shift);
    // Copy q of the image selects the logits at position q; one backward pass serves all q.
    let batch: Vec<i64> = (0..n).flat_map(|_| image.clone()).collect();
    let input = model
        .embed(int4(batch, [n, c, h, w], &device))
        .detach()
        .require_grad();
    let y = class.map(|k| labels(vec![k; n], &device));
    let logits = model.forward_embedded(input.clone(), y);
    let mut select = vec![0f32; n * levels * n];
    for q in 0..n {
        for l in 0..levels {
            select[(q * levels + l) * n + index(q, c, h, w)] = 1.0;
        }
    }
    let select = Tensor::<5>::from_data(TensorData::new(select, [n, levels, c, h, w]), &device);
    let grads = (logits * select).sum().backward();
    // Embedded channels come in C equal blocks, one per colour: sum |grad| per block.
    let grad = input.grad(&grads).unwrap().abs();
    let channels = grad.dims()[1];
    let grad = grad
        .reshape([n, c, channels / c, h, w])
        .sum_dim(2)
        .into_data()
        .convert::<f32>();
    let grad = grad.as_slice::<f32>().unwrap().to_vec();
    (0..n)
        .map(|q| {
            (0..n)
                .map(|p| grad[q * n + index(p, c, h, w)] != 0.0)
                .collect()
        })
        .collect()
}

/// A dependency seen by either measure. A gradient can be zero where a finite perturbation
/// still acts (a ReLU switched off at the base point), and a perturbation can round away where
/// the gradient acts; causality must hold for both, completeness for at least one.
fn union(a: Vec<Vec<bool>>, b: Vec<Vec<bool>>) -> Vec<Vec<bool>> {
    a.into_iter()
        .zip(b)
        .map(|(x, y)| x.into_iter().zip(y).map(|(u, v)| u || v).collect())
        .collect()
}

#[test]
#[allow(clippy::needless_range_loop)] // q and p index positions, not just deps
fn gated_pixelcnn_no_output_depends_on_its_own_or_later_pixels_and_there_is_no_blind_spot() {
    let device = Device::flex();
    let (h, w, levels) = (9, 10, 4);
    for layers in [1, 2, 5] {
        for kernel in [3, 5] {
            for classes in [None, Some(3)] {
                let model = gated(levels, layers, kernel, classes).init_seeded(11, &device);
                let class = classes.map(|_| 2);
                let deps = union(
                    gradient_dependencies(&model, 1, h, w, class, 0),
                    perturbation_dependencies(&model, 1, h, w, class, &device),
                );
                let name = format!("layers {layers}, kernel {kernel}, classes {classes:?}");
                let half = kernel / 2;
                // The field the two stacks must reach after `layers` layers.
                let rows_up = half + 1 + half * (layers - 1);
                let cols_side = half + half * (layers - 1);
                let cols_left = half + 1 + half * (layers - 1);
                for q in 0..h * w {
                    let (qr, qc) = (q / w, q % w);
                    for p in 0..h * w {
                        let (pr, pc) = (p / w, p % w);
                        // Causality: nothing at or after q in raster order.
                        if p >= q {
                            assert!(
                                !deps[q][p],
                                "{name}: output {qr},{qc} depends on input {pr},{pc}"
                            );
                            continue;
                        }
                        // Completeness: every pixel of the rows above within the field
                        // (left and right alike), and of the same row to the left.
                        let above = pr < qr && qr - pr <= rows_up && pc.abs_diff(qc) <= cols_side;
                        let left = pr == qr && qc - pc <= cols_left;
                        if above || left {
                            assert!(
                                deps[q][p],
                                "{name}: output {qr},{qc} misses input {pr},{pc} (blind spot)"
                            );
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn five_gated_layers_see_the_whole_past_of_a_small_image() {
    // With 5 layers of kernel 3 the field covers every earlier pixel of a 5x5 image:
    // the dependency set of each pixel is exactly its past.
    let model = gated(3, 5, 3, None).init_seeded(5, &Device::flex());
    let deps = gradient_dependencies(&model, 1, 5, 5, None, 0);
    for (q, row) in deps.iter().enumerate() {
        for (p, &dep) in row.iter().enumerate() {
            assert_eq!(dep, p < q, "output {q}, input {p}");
        }
    }
}

#[test]
#[allow(clippy::needless_range_loop)]
fn both_models_are_causal_over_pixels_and_colour_channels() {
    let device = Device::flex();
    let (h, w) = (5, 6);
    for colours in [1, 3] {
        for (kind, blocks) in [
            ("pixelcnn", 0),
            ("pixelcnn", 1),
            ("pixelcnn", 3),
            ("gated", 1),
            ("gated", 3),
        ] {
            for classes in [None, Some(2)] {
                let config = if kind == "gated" {
                    gated_colour(3, colours, blocks, 5, classes)
                } else {
                    pixelcnn(3, colours, blocks, 5, classes)
                };
                let model = config.init_seeded(3, &device);
                let class = classes.map(|_| 1);
                // Gradients at three images: in these tiny models a path can be switched off
                // by the head's ReLU at one image (every channel negative), not at all three.
                let deps = (0..3).fold(
                    perturbation_dependencies(&model, colours, h, w, class, &device),
                    |deps, shift| {
                        union(
                            deps,
                            gradient_dependencies(&model, colours, h, w, class, shift),
                        )
                    },
                );
                let name =
                    format!("{kind}: colours {colours}, depth {blocks}, classes {classes:?}");
                let n = colours * h * w;
                for q in 0..n {
                    for p in 0..n {
                        if p >= q {
                            assert!(!deps[q][p], "{name}: position {q} depends on position {p}");
                        }
                    }
                    // Within the current pixel, colour c sees every earlier colour.
                    let (pixel, colour) = (q / colours, q % colours);
                    for earlier in 0..colour {
                        assert!(
                            deps[q][pixel * colours + earlier],
                            "{name}: {q} misses colour {earlier} of its pixel"
                        );
                    }
                    // The pixel to the left is seen in full (all colours).
                    if pixel % w > 0 {
                        for any in 0..colours {
                            assert!(
                                deps[q][(pixel - 1) * colours + any],
                                "{name}: {q} misses its left neighbour"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// All L^n images of n values, as a batch [L^n, c, h, w].
fn all_images(n: usize, levels: usize) -> Vec<i64> {
    let count = levels.pow(n as u32);
    let mut out = Vec::with_capacity(count * n);
    for k in 0..count {
        let mut rest = k;
        let mut img = vec![0i64; n];
        for p in (0..n).rev() {
            img[p] = (rest % levels) as i64;
            rest /= levels;
        }
        out.extend(img);
    }
    out
}

/// Σ_x p(x | class) over every image of the space, from the model's `log_prob` (the fused
/// head on the CPU), which must also give each image the log-probability of its logits.
fn total_probability(model: &ImageModel, c: usize, h: usize, w: usize, class: Option<i64>) -> f64 {
    let device = Device::flex();
    let n = c * h * w;
    let count = model.levels().pow(n as u32);
    let x = int4(all_images(n, model.levels()), [count, c, h, w], &device);
    let y = class.map(|k| labels(vec![k; count], &device));
    let f64s = |t: Tensor<1>| -> Vec<f64> { t.into_data().convert::<f64>().iter().collect() };
    let log_p = f64s(model.log_prob(x.clone(), y.clone()));
    let from_logits = f64s(categorical::log_prob(model.forward(x.clone(), y), x));
    for (fused, plain) in log_p.iter().zip(&from_logits) {
        assert!(
            (fused - plain).abs() < 1e-4,
            "log p {fused} against {plain} from the logits"
        );
    }
    log_p.iter().map(|v| v.exp()).sum()
}

#[test]
fn probabilities_of_all_images_sum_to_one() {
    let device = Device::flex();
    // Gated PixelCNN: 2x2 images, 3 levels (81 images), unconditional and per class.
    for classes in [None, Some(3)] {
        let model = gated(3, 2, 3, classes).init_seeded(1, &device);
        let class_list: Vec<Option<i64>> = match classes {
            None => vec![None],
            Some(k) => (0..k as i64).map(Some).collect(),
        };
        for class in class_list {
            let total = total_probability(&model, 1, 2, 2, class);
            assert!(
                (total - 1.0).abs() < 1e-4,
                "gated, class {class:?}: total probability {total}"
            );
        }
    }
    // Gated PixelCNN in colour: 2x2 images, 3 channels, 2 levels (4,096 images).
    let model = gated_colour(2, 3, 2, 3, None).init_seeded(3, &device);
    let total = total_probability(&model, 3, 2, 2, None);
    assert!(
        (total - 1.0).abs() < 1e-4,
        "gated colour: total probability {total}"
    );
    // PixelCNN in colour: 2x2 images, 3 channels, 2 levels (4,096 images).
    for classes in [None, Some(2)] {
        let model = pixelcnn(2, 3, 2, 3, classes).init_seeded(2, &device);
        let total = total_probability(&model, 3, 2, 2, classes.map(|_| 1));
        assert!(
            (total - 1.0).abs() < 1e-4,
            "pixelcnn colour, classes {classes:?}: total probability {total}"
        );
    }
}

#[test]
fn sample_frequencies_match_the_exact_probabilities() {
    let device = Device::flex();
    let (h, w, levels) = (2, 2, 3);
    let temperature = 0.3; // sharpens the random model's conditionals, so the law is far from uniform
    let model = gated(levels, 2, 3, Some(2)).init_seeded(2, &device);
    let class = 1;

    // Exact probability of each of the 81 images under the tempered conditionals.
    let n = h * w;
    let images = all_images(n, levels);
    let x = int4(images.clone(), [81, 1, h, w], &device);
    let logits = model
        .forward(x, Some(labels(vec![class; 81], &device)))
        .into_data()
        .convert::<f32>();
    let logits = logits.as_slice::<f32>().unwrap();
    let exact: Vec<f64> = (0..81)
        .map(|k| {
            (0..n)
                .map(|p| {
                    let row: Vec<f32> = (0..levels)
                        .map(|l| logits[(k * levels + l) * n + p])
                        .collect();
                    categorical::probabilities(&row, temperature)[images[k * n + p] as usize]
                })
                .product()
        })
        .collect();
    assert!((exact.iter().sum::<f64>() - 1.0).abs() < 1e-6);

    let draws = 20_000;
    let mut request = SampleRequest::new(h, w, vec![Some(class as usize); draws], 7);
    request.temperature = temperature;
    request.batch = 5_000;
    let samples = sample_naive(&model, &request, &device);
    let mut counts = vec![0usize; 81];
    for img in samples.chunks(n) {
        let k = img.iter().fold(0usize, |k, &v| k * levels + v as usize);
        counts[k] += 1;
    }
    // Pearson's chi-square over cells with an expected count of at least 5 (the rest pooled).
    let (mut chi2, mut cells, mut pooled_obs, mut pooled_exp) = (0.0, 0usize, 0.0, 0.0);
    for (c, p) in counts.iter().zip(&exact) {
        let e = p * draws as f64;
        if e >= 5.0 {
            chi2 += (*c as f64 - e).powi(2) / e;
            cells += 1;
        } else {
            pooled_obs += *c as f64;
            pooled_exp += e;
        }
    }
    if pooled_exp > 0.0 {
        chi2 += (pooled_obs - pooled_exp).powi(2) / pooled_exp.max(1e-9);
        cells += 1;
    }
    let df = (cells - 1) as f64;
    // Wilson–Hilferty approximation of the 0.999 quantile of chi-square(df).
    let z = 3.09;
    let limit = df * (1.0 - 2.0 / (9.0 * df) + z * (2.0 / (9.0 * df)).sqrt()).powi(3);
    assert!(
        cells > 10,
        "too few cells ({cells}): the test would have no power"
    );
    assert!(
        chi2 < limit,
        "chi-square {chi2:.1} over {cells} cells exceeds {limit:.1}"
    );
}
