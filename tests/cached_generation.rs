//! Cached generation gives the same images as naive generation: the same weights, seed and
//! temperature give the same random draws in the same order, and logits equal within float
//! rounding, so the same levels.

use argen::generate::{SampleRequest, sample_cached, sample_naive};
use argen::models::{GatedPixelCnnConfig, ImageModel, ImageModelConfig};
use burn::prelude::*;

fn model(
    levels: usize,
    layers: usize,
    first_kernel: usize,
    kernel: usize,
    classes: Option<usize>,
    seed: u64,
) -> ImageModel {
    ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
        levels,
        channels: 8,
        layers,
        first_kernel,
        kernel,
        head: 16,
        num_classes: classes,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    })
    .init_seeded(seed, &Device::flex())
}

fn request(h: usize, w: usize, n: usize, classes: Option<usize>, seed: u64) -> SampleRequest {
    let labels = (0..n).map(|i| classes.map(|k| i % k)).collect();
    let mut r = SampleRequest::new(h, w, labels, seed);
    r.batch = n;
    r
}

#[test]
fn cached_equals_naive_for_many_configurations_and_seeds() {
    let device = Device::flex();
    // (levels, layers, first kernel, kernel, classes)
    let configs = [
        (3, 1, 3, 3, None),
        (4, 2, 3, 3, Some(3)),
        (5, 3, 5, 3, None),
        (4, 3, 7, 5, Some(2)),
        (17, 4, 7, 3, None),
        (3, 2, 1, 1, None),
    ];
    for (i, &(levels, layers, first_kernel, kernel, classes)) in configs.iter().enumerate() {
        let model = model(levels, layers, first_kernel, kernel, classes, i as u64);
        for seed in [0, 1, 42] {
            let mut req = request(6, 5, 4, classes, seed);
            // Below 1 the draws depend more sharply on the logits: a stricter check.
            req.temperature = if seed == 42 { 0.5 } else { 1.0 };
            let naive = sample_naive(&model, &req, &device);
            let cached = sample_cached(&model, &req, &device);
            assert_eq!(naive, cached, "config {i}, seed {seed}");
            assert!(
                naive.iter().any(|&v| v != naive[0]),
                "degenerate samples, config {i}"
            );
        }
    }
}

#[test]
fn cached_equals_naive_for_colour_images() {
    let device = Device::flex();
    // (levels, layers, first kernel, kernel, classes)
    let configs = [
        (4, 1, 3, 3, None),
        (3, 3, 5, 3, Some(2)),
        (6, 2, 7, 5, None),
    ];
    for (i, &(levels, layers, first_kernel, kernel, classes)) in configs.iter().enumerate() {
        let model = ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
            levels,
            channels: 12,
            layers,
            first_kernel,
            kernel,
            head: 18,
            num_classes: classes,
            vector_dim: None,
            spatial: None,
            dropout: 0.0,
            colours: 3,
        })
        .init_seeded(50 + i as u64, &device);
        for seed in [0, 7] {
            let mut req = request(4, 5, 3, classes, seed);
            req.colours = 3;
            req.batch = if seed == 0 { 3 } else { 2 };
            let naive = sample_naive(&model, &req, &device);
            let cached = sample_cached(&model, &req, &device);
            assert_eq!(naive.len(), 3 * 3 * 4 * 5);
            assert_eq!(naive, cached, "colour config {i}, seed {seed}");
            assert!(
                naive.iter().any(|&v| v != naive[0]),
                "degenerate samples, colour config {i}"
            );
        }
    }
}

#[test]
fn images_do_not_depend_on_the_batch_size_and_caches_reset_between_batches() {
    let device = Device::flex();
    let model = model(5, 3, 5, 3, Some(3), 9);
    let mut all = request(5, 6, 7, Some(3), 3);
    let reference = sample_cached(&model, &all, &device);
    for batch in [1, 2, 3, 7] {
        all.batch = batch;
        assert_eq!(
            sample_cached(&model, &all, &device),
            reference,
            "cached, batch {batch}"
        );
    }
    all.batch = 3;
    assert_eq!(
        sample_naive(&model, &all, &device),
        reference,
        "naive, batch 3"
    );
}

#[test]
fn completion_is_the_same_through_both_paths_and_keeps_the_given_positions() {
    let device = Device::flex();
    let model = model(4, 3, 5, 3, None, 4);
    let (h, w, n) = (6, 6, 3);
    let given: Vec<u8> = (0..n * h * w).map(|i| (i * 5 % 4) as u8).collect();
    let mut req = request(h, w, n, None, 11);
    req.given = Some(given.clone());
    req.given_positions = 3 * w; // the top half
    let naive = sample_naive(&model, &req, &device);
    let cached = sample_cached(&model, &req, &device);
    assert_eq!(naive, cached);
    for i in 0..n {
        let image = &cached[i * h * w..(i + 1) * h * w];
        assert_eq!(
            &image[..3 * w],
            &given[i * h * w..i * h * w + 3 * w],
            "given pixels kept"
        );
    }
}

#[test]
fn completion_with_a_mask_keeps_the_kept_values_and_never_looks_ahead() {
    let device = Device::flex();
    let model = model(4, 3, 5, 3, None, 5);
    let (h, w, n) = (6, 6, 3);
    let size = h * w;
    let given: Vec<u8> = (0..n * size).map(|i| (i * 7 % 4) as u8).collect();
    // Erase a block in the middle (rows 1..4, columns 1..5); keep everything else, including
    // the pixels after the block in raster order.
    let mask: Vec<bool> = (0..size)
        .map(|p| !((1..4).contains(&(p / w)) && (1..5).contains(&(p % w))))
        .collect();
    let mut req = request(h, w, n, None, 21);
    req.given = Some(given.clone());
    req.given_mask = Some(mask.clone());
    // Watch every step: each position once, the same levels as the result.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    req.on_step = Some(argen::generate::StepObserver(std::sync::Arc::new(
        move |step: argen::generate::Step<'_>| {
            sink.lock()
                .unwrap()
                .push((step.first_image, step.position, step.levels.to_vec()))
        },
    )));
    let naive = sample_naive(&model, &req, &device);
    let cached = sample_cached(&model, &req, &device);
    assert_eq!(naive, cached);
    let seen = seen.lock().unwrap().clone();
    // Both paths reported every step: 2 × 36 steps of one batch of 3 images.
    assert_eq!(seen.len(), 2 * size);
    for (first, position, levels) in &seen[size..] {
        assert_eq!(*first, 0);
        for (i, level) in levels.iter().enumerate() {
            assert_eq!(*level, cached[i * size + position]);
        }
    }
    for i in 0..n {
        for p in 0..size {
            if mask[p] {
                assert_eq!(cached[i * size + p], given[i * size + p], "kept value {p}");
            }
        }
    }
    assert!(
        (0..n).any(|i| (0..size).any(|p| !mask[p] && cached[i * size + p] != given[i * size + p])),
        "the erased values were drawn"
    );
    // Changing kept values after the last erased pixel changes no draw: the model reads
    // only the past.
    let mut later = given.clone();
    for i in 0..n {
        for p in (4 * w)..size {
            later[i * size + p] = 3 - later[i * size + p];
        }
    }
    let mut req_later = request(h, w, n, None, 21);
    req_later.given = Some(later);
    req_later.given_mask = Some(mask.clone());
    let cached_later = sample_cached(&model, &req_later, &device);
    for i in 0..n {
        for p in 0..size {
            if !mask[p] {
                assert_eq!(cached_later[i * size + p], cached[i * size + p], "draw {p}");
            }
        }
    }
}
