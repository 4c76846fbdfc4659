//! A Gated PixelCNN trained on images held in memory (here: 8x8 pictures of one bright bar,
//! 4 grey levels, made by the program), then scored and sampled. No files are involved; add
//! `.run_folder("runs/bars")` to the trainer for checkpoints and `argen eval`.
//!
//! `cargo run --release --example gated_pixelcnn_arrays`

use argen::data::{ImageData, ImageSet};
use argen::generate::{SampleRequest, sample_cached};
use argen::models::GatedPixelCnnConfig;
use argen::train::{TrainOptions, Trainer, evaluate};
use burn::prelude::Device;

/// `n` images of 8x8 with one horizontal or vertical bar of level 3 on a background of 0.
fn bars(n: usize, seed: usize) -> ImageSet {
    let mut levels = vec![0u8; n * 64];
    for (i, image) in levels.chunks_mut(64).enumerate() {
        let (k, vertical) = ((i * 7 + seed) % 8, (i + seed).is_multiple_of(2));
        for j in 0..8 {
            image[if vertical { j * 8 + k } else { k * 8 + j }] = 3;
        }
    }
    ImageSet::from_levels(levels, [n, 1, 8, 8], None).expect("the shape fits the levels")
}

fn main() -> anyhow::Result<()> {
    let data = ImageData::from_sets("bars", 4, bars(256, 0), bars(64, 1), bars(64, 2))?;
    let model = GatedPixelCnnConfig::new(4)
        .with_channels(16)
        .with_layers(3)
        .with_head(32);
    let trainer = Trainer::new(TrainOptions::default().epochs(15).learning_rate(3e-3));
    let trained = trainer.fit_images(model.into(), &data)?;

    let device = Device::flex();
    let nll = evaluate(&trained.model, &data.test, 64, &device);
    println!(
        "test NLL {:.3} nats/image, {:.4} bits/dim (uniform: {:.4})",
        nll.nats_per_image, nll.bits_per_dim, 2.0
    );
    let images = sample_cached(
        &trained.model,
        &SampleRequest::new(8, 8, vec![None; 3], 1),
        &device,
    );
    for row in 0..8 {
        let line: Vec<String> = (0..3)
            .map(|i| {
                (0..8)
                    .map(|c| " .:#".as_bytes()[images[i * 64 + row * 8 + c] as usize] as char)
                    .collect()
            })
            .collect();
        println!("{}", line.join("   "));
    }
    Ok(())
}
