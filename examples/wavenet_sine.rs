//! A WaveNet on a noisy sine held in memory, then its 1- and 16-step-ahead forecasts on the
//! held-out part (each forecast fed back as the next input).
//!
//! `cargo run --release --example wavenet_sine`

use argen::data::sequences::SequenceData;
use argen::generate::sequence::k_step_predictions;
use argen::models::{SequenceModelConfig, SequenceModelKind};
use argen::train::{TrainOptions, Trainer};
use burn::prelude::Device;

fn main() -> anyhow::Result<()> {
    // x_t = sin(0.05 t) plus a little deterministic "noise".
    let values: Vec<f64> = (0..800)
        .map(|t| (0.05 * t as f64).sin() + 0.1 * ((t * 7919 % 13) as f64 / 13.0 - 0.5))
        .collect();
    let data = SequenceData::from_values("my-sine", &values)?;
    let model = SequenceModelConfig::new(
        SequenceModelKind::Wavenet,
        data.input_channels(),
        data.output,
    )
    .with_hidden(16)
    .with_layers(4)
    .with_kernel(2);
    println!("{}", model.describe());
    let trainer = Trainer::new(TrainOptions::default().epochs(100).learning_rate(3e-3));
    let trained = trainer.fit_sequences(model.clone(), &data)?;
    let last = trained.epochs.last().expect("one epoch at least");
    println!("validation: {}", last.valid);

    // The whole series in standardised units; forecasts made from every origin.
    let series = &data.test[0].targets;
    let (mean, std) = data.scale.expect("a real series is standardised");
    let horizons = [1, 16];
    let predictions =
        k_step_predictions(&trained.model, &model, series, &horizons, &Device::flex());
    let held_out = values.len() * 4 / 5;
    for (h, k) in horizons.iter().enumerate() {
        let errors: Vec<f64> = (held_out..values.len())
            .map(|t| predictions[h][t] * std + mean - values[t])
            .filter(|e| e.is_finite())
            .collect();
        let mse = errors.iter().map(|e| e * e).sum::<f64>() / errors.len() as f64;
        println!("{k:>2}-step-ahead MSE on the held-out part: {mse:.4}");
    }
    Ok(())
}
