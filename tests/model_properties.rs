//! Properties of the Gated PixelCNN that follow from the chain rule, checked exactly:
//! causality and completeness of the receptive field (no blind spot), normalisation over a
//! space enumerated in full, and samples whose frequencies match the model's probabilities.

use argen::distributions::categorical;
use argen::generate::{SampleRequest, sample_naive};
use argen::models::{GatedPixelCnn, GatedPixelCnnConfig};
use burn::prelude::*;

fn config(
    levels: usize,
    layers: usize,
    kernel: usize,
    classes: Option<usize>,
) -> GatedPixelCnnConfig {
    GatedPixelCnnConfig {
        levels,
        channels: 16,
        layers,
        first_kernel: kernel,
        kernel,
        head: 32,
        num_classes: classes,
        dropout: 0.0,
    }
}

fn int3(values: Vec<i64>, shape: [usize; 3], device: &Device) -> Tensor<3, Int> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn labels(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// For each input pixel p (raster index), the set of output pixels whose logits change when
/// x_p changes: deps[q][p] is true when the distribution at q depends on x_p.
fn measured_dependencies(
    model: &GatedPixelCnn,
    h: usize,
    w: usize,
    levels: usize,
    class: Option<i64>,
    device: &Device,
) -> Vec<Vec<bool>> {
    let n = h * w;
    let base: Vec<i64> = (0..n).map(|i| ((i * 7 + 3) % levels) as i64).collect();
    // Image 0 is the base; image 1 + p has pixel p changed to another level.
    let mut batch = base.clone();
    for p in 0..n {
        let mut img = base.clone();
        img[p] = (img[p] + 1) % levels as i64;
        batch.extend(img);
    }
    let y = class.map(|c| labels(vec![c; n + 1], device));
    let logits = model
        .forward(int3(batch, [n + 1, h, w], device), y)
        .into_data()
        .convert::<f32>();
    let logits = logits.as_slice::<f32>().unwrap();
    let at = |img: usize, level: usize, q: usize| logits[(img * levels + level) * n + q];
    (0..n)
        .map(|q| {
            (0..n)
                .map(|p| (0..levels).any(|l| at(1 + p, l, q).to_bits() != at(0, l, q).to_bits()))
                .collect()
        })
        .collect()
}

/// The same dependency sets measured by gradients: deps[q][p] is true when the gradient of
/// the logits at q with respect to the embedded input at p is not zero. Perturbing a level
/// can miss a far dependency (its effect on the logits may round away in f32); a gradient
/// does not round away, and it is exactly zero where no path connects p to q.
fn gradient_dependencies(
    model: &GatedPixelCnn,
    h: usize,
    w: usize,
    levels: usize,
    class: Option<i64>,
) -> Vec<Vec<bool>> {
    let device = Device::flex().autodiff();
    let model = model.clone().to_device(&device);
    let n = h * w;
    let image: Vec<i64> = (0..n).map(|i| ((i * 7 + 3) % levels) as i64).collect();
    // Copy q of the image selects the logits at pixel q; one backward pass serves every q.
    let batch: Vec<i64> = (0..n).flat_map(|_| image.clone()).collect();
    let input = model
        .embed(int3(batch, [n, h, w], &device))
        .detach()
        .require_grad();
    let y = class.map(|c| labels(vec![c; n], &device));
    let logits = model.forward_embedded(input.clone(), y);
    let mut select = vec![0f32; n * levels * n];
    for q in 0..n {
        for l in 0..levels {
            select[(q * levels + l) * n + q] = 1.0;
        }
    }
    let select = Tensor::<4>::from_data(TensorData::new(select, [n, levels, h, w]), &device);
    let grads = (logits * select).sum().backward();
    let grad = input
        .grad(&grads)
        .unwrap()
        .abs()
        .sum_dim(1)
        .into_data()
        .convert::<f32>();
    let grad = grad.as_slice::<f32>().unwrap().to_vec();
    (0..n)
        .map(|q| (0..n).map(|p| grad[q * n + p] != 0.0).collect())
        .collect()
}

#[test]
fn no_output_depends_on_its_own_or_later_pixels_and_there_is_no_blind_spot() {
    let device = Device::flex();
    let (h, w, levels) = (9, 10, 4);
    for layers in [1, 2, 5] {
        for kernel in [3, 5] {
            for classes in [None, Some(3)] {
                let model = config(levels, layers, kernel, classes).init_seeded(11, &device);
                let class = classes.map(|_| 2);
                let by_perturbation = measured_dependencies(&model, h, w, levels, class, &device);
                let deps = gradient_dependencies(&model, h, w, levels, class);
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
                        // Anything a perturbation moves, the gradient must see.
                        assert!(
                            deps[q][p] || !by_perturbation[q][p],
                            "{name}: {qr},{qc} / {pr},{pc}"
                        );
                        // Causality: nothing at or after q in raster order, by either measure.
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
fn five_layers_see_the_whole_past_of_a_small_image() {
    // With 5 layers of kernel 3 the field covers every earlier pixel of a 5x5 image:
    // the dependency set of each pixel is exactly its past.
    let device = Device::flex();
    let model = config(3, 5, 3, None).init_seeded(5, &device);
    let deps = gradient_dependencies(&model, 5, 5, 3, None);
    for (q, row) in deps.iter().enumerate() {
        for (p, &dep) in row.iter().enumerate() {
            assert_eq!(dep, p < q, "output {q}, input {p}");
        }
    }
}

/// All L^n images of n pixels, as a batch [L^n, h, w].
fn all_images(h: usize, w: usize, levels: usize) -> Vec<i64> {
    let n = h * w;
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

#[test]
fn probabilities_of_all_images_sum_to_one() {
    let device = Device::flex();
    let (h, w, levels) = (2, 2, 3);
    let images = all_images(h, w, levels);
    let count = 81;
    for classes in [None, Some(3)] {
        let model = config(levels, 2, 3, classes).init_seeded(1, &device);
        let class_list: Vec<Option<i64>> = match classes {
            None => vec![None],
            Some(k) => (0..k as i64).map(Some).collect(),
        };
        for class in class_list {
            let x = int3(images.clone(), [count, h, w], &device);
            let y = class.map(|c| labels(vec![c; count], &device));
            let log_p = categorical::log_prob(model.forward(x.clone(), y), x)
                .into_data()
                .convert::<f64>();
            let total: f64 = log_p.iter::<f64>().map(f64::exp).sum();
            assert!(
                (total - 1.0).abs() < 1e-4,
                "class {class:?}: total probability {total}"
            );
        }
    }
}

#[test]
fn sample_frequencies_match_the_exact_probabilities() {
    let device = Device::flex();
    let (h, w, levels) = (2, 2, 3);
    let temperature = 0.3; // sharpens the random model's conditionals, so the law is far from uniform
    let model = config(levels, 2, 3, Some(2)).init_seeded(2, &device);
    let class = 1;

    // Exact probability of each of the 81 images under the tempered conditionals.
    let images = all_images(h, w, levels);
    let x = int3(images.clone(), [81, h, w], &device);
    let logits = model
        .forward(x, Some(labels(vec![class; 81], &device)))
        .into_data()
        .convert::<f32>();
    let logits = logits.as_slice::<f32>().unwrap();
    let n = h * w;
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
    let request = SampleRequest {
        height: h,
        width: w,
        labels: vec![Some(class as usize); draws],
        temperature,
        seed: 7,
        batch: 5_000,
        given: None,
        given_pixels: 0,
    };
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
