//! Throughput of the Gated PixelCNN: training images/s, evaluation images/s and (naive)
//! sampling images/s, each the median of several timed runs.
//!
//! ```text
//! cargo bench --bench throughput -- [--data fashion-mnist] [--runs 5] [--channels 32] \
//!     [--layers 7] [--batch 32] [--train-steps 10] [--eval-images 512] [--sample-images 8] \
//!     [--plain-ops] [--default-malloc] [--precision f32|bf16] [--eval-batch 32]
//! ```
//!
//! The model is freshly initialised (the time per step does not depend on the weights).
//! Training steps include the forward pass, the backward pass and Adam's update; evaluation
//! is the forward pass and the exact log-likelihood (in batches of `--eval-batch`, at most
//! `CPU_EVAL_BATCH` = 32 on the CPU, as `argen eval`); sampling is ancestral sampling that
//! reruns the whole network for every pixel.

use std::time::Instant;

use argen::data::{self, DataSource};
use argen::generate::{SampleRequest, sample_cached, sample_naive};
use argen::train::{evaluate, image_batch};
use burn::optim::GradientsParams;
use burn::prelude::*;

#[path = "common.rs"]
mod common;
use common::{arg, median};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    // As the argen binary does; `--default-malloc` measures glibc's defaults instead.
    if !args.iter().any(|a| a == "--default-malloc") {
        argen::memory::keep_freed_memory();
    }
    let source: DataSource = arg(&args, "--data", "fashion-mnist".to_string())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let runs: usize = arg(&args, "--runs", 5);
    let batch: usize = arg(&args, "--batch", 32);
    let train_steps: usize = arg(&args, "--train-steps", 10);
    let eval_images: usize = arg(&args, "--eval-images", 512);
    let eval_batch: usize = arg(&args, "--eval-batch", argen::train::CPU_EVAL_BATCH);
    let sample_images: usize = arg(&args, "--sample-images", 8);
    // `--plain-ops`: standard burn operations instead of argen's fused kernels.
    argen::fused::set_enabled(!args.iter().any(|a| a == "--plain-ops"));
    // `--precision bf16`: the convolutions' products in bf16 on AMX (f32 sums).
    let precision: argen::fused::matmul::Precision = arg(&args, "--precision", "f32".to_string())
        .parse()
        .map_err(anyhow::Error::msg)?;
    argen::fused::matmul::set_precision(precision).map_err(anyhow::Error::msg)?;
    let data = data::load(&source)?;
    let config = common::gated_config(&args, data.levels);
    println!(
        "Gated PixelCNN {} channels, {} layers, head {}, {} levels, {}x{} images ({}), batch {batch}, {runs} runs, {precision} products",
        config.channels,
        config.layers,
        config.head,
        config.levels,
        data.test.height,
        data.test.width,
        data.name
    );

    // Training: images per second over `train_steps` optimiser steps (after one warm-up step).
    let device = Device::flex().autodiff();
    device.seed(0);
    let mut model = ImageModelConfig::GatedPixelcnn(config).init_seeded(0, &device);
    let mut optim = argen::train::adam::adam(1e-8);
    let dims = data.train.image_size() as f64;
    let order = data::shuffled_indices(data.train.len(), 0);
    let mut batches = order.chunks(batch).cycle();
    let mut step = |model: ImageModel| {
        let (x, _) = image_batch(&data.train, batches.next().unwrap(), &device);
        let loss = model.log_prob(x, None).neg().mean().div_scalar(dims);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optim.step(1e-3, model, grads)
    };
    model = step(model);
    let mut train_rates = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..train_steps {
            model = step(model);
        }
        train_rates.push((train_steps * batch) as f64 / start.elapsed().as_secs_f64());
    }

    // Evaluation: images per second of the exact NLL, in batches of `--eval-batch`.
    let plain = Device::flex();
    let model = model.valid();
    let subset = data
        .test
        .subset(&(0..eval_images.min(data.test.len())).collect::<Vec<_>>());
    let mut eval_rates = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        evaluate(&model, &subset, eval_batch, &plain);
        eval_rates.push(subset.len() as f64 / start.elapsed().as_secs_f64());
    }

    // Sampling: ancestral sampling of `sample_images` images in one batch, naive (the whole
    // network per pixel) and cached (one column of every layer per pixel).
    let mut sample_rates = Vec::new();
    let mut cached_rates = Vec::new();
    for run in 0..runs {
        let request = SampleRequest {
            height: data.test.height,
            width: data.test.width,
            colours: 1,
            labels: vec![None; sample_images],
            vectors: None,
            temperature: 1.0,
            seed: run as u64,
            batch: sample_images,
            given: None,
            given_positions: 0,
            given_mask: None,
            on_step: None,
        };
        let start = Instant::now();
        let naive = sample_naive(&model, &request, &plain);
        sample_rates.push(sample_images as f64 / start.elapsed().as_secs_f64());
        let start = Instant::now();
        let cached = sample_cached(&model, &request, &plain);
        cached_rates.push(sample_images as f64 / start.elapsed().as_secs_f64());
        // The same draws from logits equal up to float rounding: a draw can land on the other
        // side of a level boundary of the cumulative distribution (rare, one level apart).
        let differing = naive.iter().zip(&cached).filter(|(a, b)| a != b).count();
        println!(
            "sampling run {run}: {differing} of {} values differ between naive and cached",
            naive.len()
        );
    }

    let show = |name: &str, rates: Vec<f64>| {
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{name:<24} median {:>9.2} images/s   (runs: {})",
            median(rates),
            all.join(", ")
        );
    };
    show("training", train_rates);
    show("evaluation", eval_rates);
    let speedup = median(cached_rates.clone()) / median(sample_rates.clone());
    show("sampling (naive)", sample_rates);
    show("sampling (cached)", cached_rates);
    println!("cached / naive sampling speed: {speedup:.1}x");
    Ok(())
}

use argen::models::{ImageModel, ImageModelConfig};
