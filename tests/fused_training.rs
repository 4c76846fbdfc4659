//! Training with argen's fused kernels and with the standard burn operations they replace
//! (the `--plain-ops` switch), from the same seed, ends at the same test NLL within 0.1%.
//!
//! Its own test binary: the switch is process-wide, and no other test may run beside it.

use argen::data::{DataSource, load};
use argen::models::{GatedPixelCnnConfig, ImageModelConfig};
use argen::train::{self, LrSchedule, Progress, RunFolder, TrainOptions, TrainingConfig, evaluate};
use burn::prelude::*;

#[test]
fn fused_and_plain_training_reach_the_same_test_nll() {
    let data = load(&DataSource::Digits).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The digits default model (32 channels, 5 layers, dropout 0.2) on 300 images, 3 epochs.
    let config = TrainingConfig::new(
        ImageModelConfig::GatedPixelcnn(GatedPixelCnnConfig {
            levels: 17,
            channels: 32,
            layers: 5,
            first_kernel: 7,
            kernel: 3,
            head: 256,
            num_classes: None,
            vector_dim: None,
            spatial: None,
            dropout: 0.2,
            colours: 1,
        }),
        "digits",
        8,
        8,
        TrainOptions::default()
            .epochs(3)
            .train_limit(Some(300))
            .lr_schedule(LrSchedule::Cosine),
    );
    let mut test_nll = Vec::new();
    for fused in [true, false] {
        argen::fused::set_enabled(fused);
        let run = RunFolder(dir.path().join(if fused { "fused" } else { "plain" }));
        let trained = train::image::fit(
            &config,
            &data,
            Some(&run),
            false,
            Progress::Silent,
            &[Device::flex()],
        )
        .unwrap();
        let model = trained.last;
        test_nll.push(evaluate(&model, &data.test, 256, &Device::flex()).nats_per_image);
    }
    argen::fused::set_enabled(true);
    let (fused, plain) = (test_nll[0], test_nll[1]);
    let relative = (fused - plain).abs() / plain;
    println!("test NLL: fused {fused:.4} nats/image, plain {plain:.4}, {relative:.2e} apart");
    assert!(
        relative < 1e-3,
        "test NLL fused {fused}, plain {plain}: {relative:.2e} apart"
    );
    // The run learned something: far below the uniform 64·ln 17 = 181 nats.
    assert!(fused < 150.0, "test NLL {fused}");
}
