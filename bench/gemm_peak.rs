//! The machine's f32 matrix-product rate with the `gemm` crate that argen's kernels call: a
//! square product C += A · B of n × n matrices (2n³ floating-point operations), on one core
//! and on all, median of several runs. The physical limit beside the training figures of
//! BENCHMARKS.md.
//!
//! Then the small products of a recurrent step ([`argen::fused::step::multiply_add`], one
//! core): the JSB LSTM's [2, 200] × [200, 800] (h_{t−1} W) and [2, 800] × [800, 200]
//! (da_t Wᵀ), 120 of which make a training step, and the same through gemm on one core.
//!
//!     cargo bench --bench gemm_peak [-- --sizes 512,1024,2048 --runs 5]

use std::time::Instant;

use argen::fused::step::{gemm_add, multiply_add};

/// The seconds one call of `work` takes in each of `runs` runs of `reps` calls, sorted (the
/// median in the middle).
fn seconds_per_call(runs: usize, reps: usize, mut work: impl FnMut()) -> Vec<f64> {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                work();
            }
            start.elapsed().as_secs_f64() / reps as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let sizes: Vec<usize> = value("--sizes")
        .unwrap_or_else(|| "512,1024,2048".into())
        .split(',')
        .map(|s| s.parse().expect("a size"))
        .collect();
    let runs: usize = value("--runs").map_or(5, |r| r.parse().expect("a count"));
    let cores = rayon::current_num_threads();
    println!(
        "gemm f32, {} cores, AVX-512F: {}, AVX2: {}",
        cores,
        std::is_x86_feature_detected!("avx512f"),
        std::is_x86_feature_detected!("avx2")
    );
    for n in sizes {
        let a: Vec<f32> = (0..n * n).map(|i| ((i * 7) % 13) as f32 / 13.0).collect();
        let b: Vec<f32> = (0..n * n).map(|i| ((i * 5) % 11) as f32 / 11.0).collect();
        let mut c = vec![0f32; n * n];
        for (name, parallelism) in [
            ("1 core", gemm::Parallelism::None),
            ("all cores", gemm::Parallelism::Rayon(0)),
        ] {
            gemm_add(&a, &b, n, &mut c, parallelism); // warm-up
            let times = seconds_per_call(runs, 1, || gemm_add(&a, &b, n, &mut c, parallelism));
            // The longest time last in `times`: the rates ascend.
            let rates: Vec<f64> = times
                .iter()
                .rev()
                .map(|t| 2.0 * (n as f64).powi(3) / t / 1e9)
                .collect();
            println!(
                "n = {n}, {name}: median {:.1} GFLOP/s (runs: {})",
                rates[rates.len() / 2],
                rates
                    .iter()
                    .map(|r| format!("{r:.1}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for (rows, inputs, outputs) in [(2usize, 200usize, 800usize), (2, 800, 200)] {
        let x: Vec<f32> = (0..rows * inputs).map(|i| (i % 7) as f32 * 0.1).collect();
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|i| (i % 11) as f32 * 0.01)
            .collect();
        let mut y = vec![0f32; rows * outputs];
        let flops = 2.0 * (rows * inputs * outputs) as f64;
        // argen's few-row loop, then the same product through gemm on this core (fused
        // multiply-adds, register tiles): what the recurrent layers' forward step uses for a
        // wide W.
        for (name, through_gemm) in [
            (
                format!("recurrent step [{rows}, {inputs}] x [{inputs}, {outputs}]"),
                false,
            ),
            ("  the same through gemm on one core".to_string(), true),
        ] {
            let times = seconds_per_call(runs, 20_000, || {
                if through_gemm {
                    gemm_add(&x, &w, outputs, &mut y, gemm::Parallelism::None);
                } else {
                    multiply_add(&x, &w, outputs, &mut y);
                }
            });
            let t = times[times.len() / 2];
            println!(
                "{name}: median {:.2} us, {:.1} GFLOP/s",
                t * 1e6,
                flops / t / 1e9
            );
        }
        std::hint::black_box(&y);
    }
}
