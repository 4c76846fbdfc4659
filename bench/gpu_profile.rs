//! The per-kernel profile of Gated PixelCNN training steps on the GPU (`--features gpu`):
//! which kernels a step launches, how often, and how long each takes on its own.
//!
//! ```text
//! cargo bench --features gpu --bench gpu_profile -- [--size 28] [--levels 256] \
//!     [--channels 32] [--layers 7] [--head 256] [--batch 32] [--steps 4] [--plain-ops] \
//!     [--untimed]
//! ```
//!
//! The images are uniform random levels (a step's time does not depend on the values). Two
//! warm-up steps run first, so that compiling and autotuning the kernels stay out of the
//! table; their time is printed on its own. Then `--steps` steps run with every launch timed
//! separately (each kernel waited for: the per-kernel times add up to more than an untimed
//! step), followed by the same number untimed for the step's wall time.

use std::time::Instant;

use argen::device::DeviceSpec;
use argen::kernel_profile::KernelProfile;
use argen::models::{ImageModel, ImageModelConfig};
use burn::optim::GradientsParams;
use burn::prelude::*;
use burn::tensor::Distribution;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
use common::arg;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let size: usize = arg(&args, "--size", 28);
    let batch: usize = arg(&args, "--batch", 32);
    let steps: usize = arg(&args, "--steps", 4);
    let timed = !args.iter().any(|a| a == "--untimed");
    argen::fused::set_enabled(!args.iter().any(|a| a == "--plain-ops"));
    let config = common::gated_config(&args, arg(&args, "--levels", 256));
    let levels = config.levels;
    println!(
        "Gated PixelCNN {} channels, {} layers, head {}, {levels} levels, {size}x{size} images, batch {batch}",
        config.channels, config.layers, config.head,
    );
    let device = DeviceSpec::Gpu(0).connect()?.autodiff();
    let mut model = ImageModelConfig::GatedPixelcnn(config).init_seeded(0, &device);
    let mut optim = argen::train::adam::adam(1e-8);
    let dims = (size * size) as f64;
    let mut step = |model: ImageModel| {
        let x: Tensor<4, Int> = Tensor::<4>::random(
            [batch, 1, size, size],
            Distribution::Uniform(0.0, levels as f64),
            &device,
        )
        .int()
        .clamp(0, levels as i64 - 1);
        let loss = model.log_prob(x, None).neg().mean().div_scalar(dims);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = optim.step(1e-3, model, grads);
        // Reading the loss waits for the whole step.
        let _ = loss.into_scalar::<f32>();
        model
    };

    let start = Instant::now();
    for _ in 0..2 {
        model = step(model);
    }
    println!(
        "warm-up (2 steps: compiling and tuning the kernels): {:.2} s",
        start.elapsed().as_secs_f64()
    );

    let (m, profile) = KernelProfile::record(timed, || {
        let mut model = model;
        for _ in 0..steps {
            model = step(model);
        }
        model
    });
    model = m;
    println!(
        "\n{steps} steps: {} launches ({:.1} per step){}\n",
        profile.launches(),
        profile.launches() as f64 / steps as f64,
        if timed { ", each timed on its own" } else { "" }
    );
    print!("{}", profile.table());

    let start = Instant::now();
    for _ in 0..steps {
        model = step(model);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "\nuntimed: {:.1} ms per step, {:.1} images/s",
        1e3 * seconds / steps as f64,
        (steps * batch) as f64 / seconds
    );
    Ok(())
}
