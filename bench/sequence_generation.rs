//! Naive against cached generation of a causal convolution stack (WaveNet): the time to
//! generate `--steps` steps of `--n` sequences, each path the median of several runs.
//!
//! ```text
//! cargo bench --bench sequence_generation -- [--steps 4096] [--n 1] [--hidden 64] \
//!     [--layers 10] [--blocks 1] [--kernel 2] [--levels 256] [--runs 3] [--naive-runs 1]
//! ```
//!
//! The cached path is also timed for a quarter and a half of `--steps` (1,024 and 2,048 by
//! default): its steps/s should not depend on the length.
//!
//! The default stack has dilations 1, 2, ..., 512 and kernel 2, a receptive field of 1,025
//! steps, 64 residual channels and a 256-level softmax (8-bit audio-like samples). The
//! model is freshly initialised: the time per step does not depend on the weights. The
//! PyTorch peer, `bench/sequence_generation_torch.py`, rebuilds the same architecture and
//! times its naive generation.

use std::time::Instant;

use argen::distributions::OutputDistribution;
use argen::generate::sequence::{SequenceRequest, sample_sequences, sample_sequences_naive};
use argen::models::{SequenceModelConfig, SequenceModelKind};
use burn::prelude::*;

#[path = "common.rs"]
mod common;
use common::{arg, median};

fn main() {
    argen::memory::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let steps: usize = arg(&args, "--steps", 4096);
    let n: usize = arg(&args, "--n", 1);
    let hidden: usize = arg(&args, "--hidden", 64);
    let layers: usize = arg(&args, "--layers", 10);
    let blocks: usize = arg(&args, "--blocks", 1);
    let kernel: usize = arg(&args, "--kernel", 2);
    let levels: usize = arg(&args, "--levels", 256);
    let runs: usize = arg(&args, "--runs", 3);
    let naive_runs: usize = arg(&args, "--naive-runs", 1);

    let device = Device::flex();
    let output = OutputDistribution::Categorical { levels };
    let config = SequenceModelConfig::new(SequenceModelKind::Wavenet, levels, output)
        .with_hidden(hidden)
        .with_layers(layers)
        .with_blocks(blocks)
        .with_kernel(kernel)
        .with_first_kernel(2);
    let model = config.init_seeded(0, &device);
    println!(
        "WaveNet: {hidden} channels, {layers} layers x {blocks} blocks, kernel {kernel}, \
         receptive field {}, {levels} levels; {n} sequence(s) of {steps} steps",
        config.receptive_field().unwrap_or(0)
    );
    let request = |length| SequenceRequest {
        labels: vec![None; n],
        covariates: None,
        vectors: None,
        length,
        prefix: Vec::new(),
        temperature: 1.0,
        seed: 0,
        batch: n,
    };
    let time = |naive: bool, length: usize| {
        let start = Instant::now();
        let values = if naive {
            sample_sequences_naive(&model, output, &request(length), &device)
        } else {
            sample_sequences(&model, output, &request(length), &device)
        };
        (start.elapsed().as_secs_f64(), values)
    };
    for length in [steps / 4, steps / 2] {
        let times: Vec<f64> = (0..runs).map(|_| time(false, length).0).collect();
        println!(
            "cached, {length} steps: median {:.3} s, {:.0} steps/s per sequence",
            median(times.clone()),
            length as f64 / median(times)
        );
    }
    let mut cached_times = Vec::new();
    let mut cached_values = Vec::new();
    for run in 0..runs {
        let (seconds, values) = time(false, steps);
        println!("cached run {run}: {seconds:.3} s");
        cached_times.push(seconds);
        cached_values = values;
    }
    let mut naive_times = Vec::new();
    for run in 0..naive_runs {
        let (seconds, values) = time(true, steps);
        println!("naive run {run}: {seconds:.3} s");
        naive_times.push(seconds);
        let same = values
            .iter()
            .zip(&cached_values)
            .filter(|(a, b)| a == b)
            .count();
        println!(
            "  naive and cached agree on {same} of {} steps",
            values.len()
        );
    }
    let cached = median(cached_times);
    println!(
        "cached, {steps} steps: median {cached:.3} s, {:.0} steps/s per sequence",
        steps as f64 / cached
    );
    if !naive_times.is_empty() {
        let naive = median(naive_times);
        println!(
            "naive:  median {naive:.3} s, {:.1} steps/s per sequence; cached is {:.1}x faster",
            steps as f64 / naive,
            naive / cached
        );
    }
}
