//! Conditioning on any vector h, for every image model: p(x | h) stays autoregressive in x
//! for every h, h changes the distributions, it stays normalised, classes are the one-hot
//! case of vectors, and cached generation equals naive generation for every form (global,
//! location-dependent, the auto-encoder's codes). The auto-encoder's code makes the digits
//! cheaper to describe than the unconditional model can.

use argen::data::{ImageSet, SetVectors};
use argen::generate::{SampleRequest, sample_cached, sample_naive};
use argen::models::conditioning::SpatialConfig;
use argen::models::{
    AutoEncoderConfig, Condition, GatedPixelCnnConfig, ImageModel, ImageModelConfig, PixelCnnConfig,
};
use burn::prelude::*;

/// The conditional models under test, conditioned on vectors of `dim` values, for images of
/// `colours` × `h` × `w` with `levels` levels: (name, config).
fn vector_models(
    dim: usize,
    levels: usize,
    colours: usize,
    h: usize,
    w: usize,
) -> Vec<(&'static str, ImageModelConfig)> {
    let gated = |spatial: Option<SpatialConfig>| {
        ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
            levels,
            channels: 6 * colours,
            layers: 3,
            first_kernel: 3,
            kernel: 3,
            head: 8 * colours,
            num_classes: None,
            vector_dim: Some(dim),
            spatial,
            dropout: 0.0,
            colours,
        })
    };
    vec![
        ("gated, global", gated(None)),
        (
            "gated, location-dependent",
            gated(Some(SpatialConfig {
                channels: 3,
                height: h,
                width: w,
            })),
        ),
        (
            "auto-encoder's decoder, given a code",
            ImageModelConfig::AutoEncoder(AutoEncoderConfig {
                decoder: match gated(Some(SpatialConfig {
                    channels: 2,
                    height: h,
                    width: w,
                })) {
                    ImageModelConfig::GatedPixelcnn(c) => c,
                    _ => unreachable!(),
                },
                latent: dim,
                encoder_channels: 4,
                height: h,
                width: w,
            }),
        ),
        (
            "pixelcnn, global",
            ImageModelConfig::Pixelcnn(PixelCnnConfig {
                levels,
                colours,
                channels: 4 * colours,
                blocks: 2,
                first_kernel: 3,
                kernel: 3,
                head: 8 * colours,
                num_classes: None,
                vector_dim: Some(dim),
            }),
        ),
    ]
}

fn vectors(values: Vec<f32>, n: usize, dim: usize, device: &Device) -> Condition {
    Condition::Vectors(Tensor::from_data(TensorData::new(values, [n, dim]), device))
}

/// Position q in generation order (pixel q / C in raster order, colour q % C) as an index
/// of an image [colour][row][column].
fn index(q: usize, c: usize, h: usize, w: usize) -> usize {
    let (pixel, colour) = (q / c, q % c);
    (colour * h + pixel / w) * w + pixel % w
}

#[test]
fn outputs_never_depend_on_the_current_or_later_values_for_any_vector() {
    let (levels, c, h, w, dim) = (4, 1, 4, 4, 3);
    let device = Device::flex().autodiff();
    for (name, config) in vector_models(dim, levels, c, h, w) {
        let model = config.init_seeded(7, &device);
        let n = c * h * w;
        for trial in 0..2 {
            let image: Vec<i64> = (0..n).map(|i| ((i * 5 + trial) % levels) as i64).collect();
            let hv: Vec<f32> = (0..dim)
                .map(|j| (j as f32 - 1.0) * (1.5 + trial as f32))
                .collect();
            // Copy q of the image selects the logits at position q.
            let batch: Vec<i64> = (0..n).flat_map(|_| image.clone()).collect();
            let x = Tensor::<4, Int>::from_data(TensorData::new(batch, [n, c, h, w]), &device);
            let input = model.embed(x).detach().require_grad();
            let cond = vectors(hv.repeat(n), n, dim, &device);
            let logits = model.forward_embedded(input.clone(), Some(cond));
            let mut select = vec![0f32; n * levels * n];
            for q in 0..n {
                for l in 0..levels {
                    select[(q * levels + l) * n + index(q, c, h, w)] = 1.0;
                }
            }
            let select =
                Tensor::<5>::from_data(TensorData::new(select, [n, levels, c, h, w]), &device);
            let grads = (logits * select).sum().backward();
            let grad: Vec<f32> = input
                .grad(&grads)
                .unwrap()
                .abs()
                .into_data()
                .iter()
                .collect();
            let per_image = grad.len() / n;
            let e = per_image / (h * w);
            for q in 0..n {
                for p in q..n {
                    let at = index(p, c, h, w);
                    let (row, col) = (at / w, at % w);
                    let g: f32 = (0..e)
                        .map(|k| grad[q * per_image + (k * h + row) * w + col])
                        .sum();
                    assert_eq!(g, 0.0, "{name}: position {q} depends on position {p}");
                }
            }
        }
    }
}

#[test]
fn the_vector_changes_every_distribution_including_the_first() {
    let (levels, c, h, w, dim) = (4, 1, 4, 4, 3);
    let device = Device::flex();
    for (name, config) in vector_models(dim, levels, c, h, w) {
        let model = config.init_seeded(11, &device);
        let x = Tensor::<4, Int>::zeros([2, c, h, w], &device);
        let cond = vectors(vec![0.0, 0.0, 0.0, 1.0, -2.0, 0.5], 2, dim, &device);
        let logits: Vec<f32> = model.forward(x, Some(cond)).into_data().iter().collect();
        let per_image = logits.len() / 2;
        let per_level = c * h * w;
        for q in 0..per_level {
            let changed = (0..levels)
                .any(|l| logits[l * per_level + q] != logits[per_image + l * per_level + q]);
            assert!(changed, "{name}: h does not reach position {q}");
        }
    }
}

#[test]
fn every_conditional_distribution_sums_to_one_over_all_images() {
    // 2x2 binary images: 16 of them, enumerated in full, for two vectors each.
    let (levels, c, h, w, dim) = (2, 1, 2, 2, 2);
    let device = Device::flex();
    let images: Vec<i64> = (0..16)
        .flat_map(|k| (0..4).map(move |b| ((k >> b) & 1) as i64))
        .collect();
    let x = Tensor::<4, Int>::from_data(TensorData::new(images, [16, c, h, w]), &device);
    for (name, config) in vector_models(dim, levels, c, h, w) {
        let model = config.init_seeded(3, &device);
        for hv in [[0.3f32, -1.0], [2.0, 0.7]] {
            let cond = vectors(hv.repeat(16), 16, dim, &device);
            let log_p: Vec<f64> = model
                .log_prob(x.clone(), Some(cond))
                .into_data()
                .convert::<f64>()
                .iter()
                .collect();
            let total: f64 = log_p.iter().map(|l| l.exp()).sum();
            assert!(
                (total - 1.0).abs() < 1e-5,
                "{name}, h = {hv:?}: Σ p = {total}"
            );
        }
    }
}

#[test]
fn one_hot_vectors_give_the_nll_of_class_conditioning_with_the_same_weights() {
    let (levels, k) = (17usize, 4usize);
    let device = Device::flex();
    let gated = |classes: Option<usize>, vector_dim: Option<usize>| {
        ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
            levels,
            channels: 8,
            layers: 2,
            first_kernel: 3,
            kernel: 3,
            head: 16,
            num_classes: classes,
            vector_dim,
            spatial: None,
            dropout: 0.0,
            colours: 1,
        })
    };
    let pixelcnn = |classes: Option<usize>, vector_dim: Option<usize>| {
        ImageModelConfig::Pixelcnn(PixelCnnConfig {
            levels,
            colours: 1,
            channels: 8,
            blocks: 2,
            first_kernel: 3,
            kernel: 3,
            head: 16,
            num_classes: classes,
            vector_dim,
        })
    };
    let n = 12;
    let pixels: Vec<u8> = (0..n * 36)
        .map(|i| ((i * 7 + i / 5) % levels) as u8)
        .collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % k) as u8).collect();
    let by_class = ImageSet::from_levels(pixels, [n, 1, 6, 6], Some(labels.clone())).unwrap();
    let mut by_vector = by_class.clone();
    by_vector.vectors = Some(SetVectors {
        dim: k,
        values: labels
            .iter()
            .flat_map(|&l| (0..k).map(move |j| f32::from(u8::from(j == usize::from(l)))))
            .collect(),
    });
    let builds: [&dyn Fn(Option<usize>, Option<usize>) -> ImageModelConfig; 2] =
        [&gated, &pixelcnn];
    for build in builds {
        let class_model = build(Some(k), None).init_seeded(5, &device);
        // The vector model reads the class model's weights: the conditioning maps have the
        // same names and shapes ([K, channels]).
        let bytes = argen::train::weights_to_bytes(&class_model, "test").unwrap();
        let vector_model = argen::train::checkpoint::load_weights_from_bytes(
            build(None, Some(k)).init(&device),
            &bytes,
        )
        .unwrap();
        let a = argen::train::evaluate(&class_model, &by_class, 5, &device);
        let b = argen::train::evaluate(&vector_model, &by_vector, 5, &device);
        assert_eq!(a.nats_per_image, b.nats_per_image, "{}", a.nats_per_image);
        // And the vectors matter: other one-hot rows give another NLL.
        let mut shifted = by_vector.clone();
        shifted.vectors.as_mut().unwrap().values.rotate_right(1);
        let c = argen::train::evaluate(&vector_model, &shifted, 5, &device);
        assert_ne!(a.nats_per_image, c.nats_per_image);
    }
}

#[test]
fn cached_generation_equals_naive_for_vector_and_location_dependent_conditioning() {
    let device = Device::flex();
    for (colours, h, w) in [(1, 5, 4), (3, 3, 4)] {
        let dim = 3;
        for (i, (name, config)) in vector_models(dim, 5, colours, h, w).into_iter().enumerate() {
            let model: ImageModel = config.init_seeded(20 + i as u64, &device);
            for seed in [0u64, 9] {
                let n = 4;
                let mut request = SampleRequest::new(h, w, vec![None; n], seed);
                request.colours = colours;
                // Large vectors: an untrained model's logits are small, and a small change of them
                // rarely changes a draw.
                request.vectors = Some(
                    (0..n * dim)
                        .map(|v| (v as f32 * 0.37).sin() * 40.0)
                        .collect(),
                );
                request.batch = 3; // batches of 3 and 1: vectors must follow their image
                let naive = sample_naive(&model, &request, &device);
                let cached = sample_cached(&model, &request, &device);
                assert_eq!(naive, cached, "{name}, {colours} colours, seed {seed}");
                // Each image depends on its own vector: the same vector for all gives
                // another set of images.
                let mut same = request.clone();
                let first: Vec<f32> = request.vectors.as_ref().unwrap()[..dim].to_vec();
                same.vectors = Some(first.repeat(n));
                let other = sample_cached(&model, &same, &device);
                assert_eq!(other[..h * w * colours], cached[..h * w * colours]);
                assert_ne!(
                    other, cached,
                    "{name}: the vectors do not reach the samples"
                );
            }
        }
    }
}

#[test]
fn the_auto_encoders_code_lowers_the_test_nll_by_more_than_a_tenth() {
    use argen::models::ImageModelOptions;
    use argen::train::{Progress, TrainOptions, Trainer};
    let data = argen::data::load(&argen::data::DataSource::Digits).unwrap();
    let format = argen::models::ImageFormat::of(&data);
    let device = Device::flex();
    // The command line's defaults on the digits (20 epochs), with and without a code of 16.
    let nll = |latent: Option<usize>| {
        let options = ImageModelOptions {
            latent,
            ..ImageModelOptions::default()
        };
        let config = options.build(format, "digits").unwrap();
        let trained = Trainer::new(TrainOptions::for_images("digits"))
            .progress(Progress::Silent)
            .fit_images(config, &data)
            .unwrap();
        argen::train::evaluate(&trained.model, &data.test, 256, &device).nats_per_image
    };
    let plain = nll(None);
    let coded = nll(Some(16));
    println!(
        "digits test NLL: Gated PixelCNN {plain:.2} nats/image, auto-encoder (code 16) {coded:.2} nats/image (conditional)"
    );
    assert!(
        coded < 0.9 * plain,
        "auto-encoder {coded:.2} is not 10% below the unconditional {plain:.2}"
    );
}

#[test]
fn weights_saved_with_the_old_class_embedding_names_still_load() {
    // Before vectors, the conditioning maps were class embeddings: `class_vertical`,
    // `class_horizontal` (Gated PixelCNN), `class` (PixelCNN blocks) with the same shapes.
    let device = Device::flex();
    let config = ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
        levels: 5,
        channels: 4,
        layers: 2,
        first_kernel: 3,
        kernel: 3,
        head: 8,
        num_classes: Some(3),
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    });
    let model = config.init_seeded(1, &device);
    let bytes = argen::train::weights_to_bytes(&model, "gated-pixelcnn").unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let renamed: Vec<(String, safetensors::tensor::TensorView)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name.replace("condition", "class"), view))
        .collect();
    assert!(renamed.iter().any(|(n, _)| n.contains("class_vertical")));
    let old = safetensors::serialize(renamed, None).unwrap();
    let loaded =
        argen::train::checkpoint::load_weights_from_bytes(config.init(&device), &old).unwrap();
    let x = Tensor::<4, Int>::ones([2, 1, 3, 3], &device);
    let classes = || {
        Some(Condition::Classes(Tensor::from_data(
            TensorData::new(vec![2i64, 1], [2]),
            &device,
        )))
    };
    let a: Vec<f32> = model
        .forward(x.clone(), classes())
        .into_data()
        .iter()
        .collect();
    let b: Vec<f32> = loaded.forward(x, classes()).into_data().iter().collect();
    assert_eq!(a, b);
}
