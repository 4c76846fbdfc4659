//! A training loop written by hand with burn's optimiser over an argen model: the Gated
//! PixelCNN on the embedded digits, minimising −log p(x) per dimension with Adam. The
//! library's own loop ([`argen::train::train`]) adds checkpoints, resume, clipping and the
//! rest; this is the bare algorithm.
//!
//! `cargo run --release --example custom_training_loop`

use argen::data::{DataSource, load, shuffled_indices};
use argen::models::{GatedPixelCnnConfig, ImageModelConfig};
use argen::train::{evaluate, image_batch};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;

fn main() -> anyhow::Result<()> {
    let data = load(&DataSource::Digits)?;
    let device = Device::flex().autodiff();
    let config: ImageModelConfig = GatedPixelCnnConfig::new(data.levels)
        .with_channels(16)
        .with_layers(3)
        .into();
    let mut model = config.init_seeded(0, &device);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let dims = data.train.image_size() as f64;

    for epoch in 1..=2 {
        let order = shuffled_indices(data.train.len(), epoch);
        let mut total = 0.0;
        for batch in order.chunks(32) {
            let (x, labels) = image_batch(&data.train, batch, &device);
            // log p(x) of each image, from one parallel pass (teacher forcing).
            let log_p = model.log_prob(x, Some(labels.into()));
            let loss = log_p.sum().neg().div_scalar(dims * batch.len() as f64);
            total += loss.clone().into_scalar::<f64>() * batch.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(2e-3, model, grads);
        }
        let valid = evaluate(&model.valid(), &data.valid, 256, &Device::flex());
        println!(
            "epoch {epoch}: train {:.4} nats/dim, valid {:.2} nats/image ({:.4} bits/dim)",
            total / data.train.len() as f64,
            valid.nats_per_image,
            valid.bits_per_dim
        );
    }
    Ok(())
}
