//! `--precision bf16`: the CPU convolutions' products with bf16 factors and f32 sums on the AMX
//! tile unit. The precision is process-wide, so these tests have their own binary (the f32
//! tests of the other binaries never see it).
//!
//! On a CPU with AMX-BF16: argen's conv2d in bf16 is close to burn's f32 convolution in values
//! and all three gradients, but not equal to it (the bf16 path did run), and the Gated
//! PixelCNN stays causal. Elsewhere: bf16 is refused with the reason, by the library and by
//! the binary, and nothing runs in another precision silently.

mod common;

use argen::fused::conv2d;
use argen::fused::matmul::{Precision, amx_usable, precision, set_precision};
use argen::rng::seeded;
use burn::prelude::*;
use burn::tensor::ops::ConvOptions;
use common::{argen, assert_clean_failure, stderr};
use rand::RngExt;

fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = seeded(seed);
    (0..n)
        .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
        .collect()
}

/// max |a − b| / max |b|: the error relative to the scale of the whole tensor (bf16's error
/// in a sum of products grows with the sum's terms, not with its value).
fn scaled_error<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    let a: Vec<f32> = a.into_data().iter::<f32>().collect();
    let b: Vec<f32> = b.into_data().iter::<f32>().collect();
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
    worst / scale.max(f32::MIN_POSITIVE)
}

/// The [`scaled_error`]s of argen's bf16 conv2d against burn's f32 one over the output
/// and the three gradients of Σ y·u, for random x, W, b and u.
fn bf16_errors(
    [n, c_in, c_out, height, width]: [usize; 5],
    [kh, kw]: [usize; 2],
    padding: [(usize, usize); 2],
    seed: u64,
) -> [f32; 4] {
    let device = Device::flex().autodiff();
    let options = ConvOptions::new_with_padding([1, 1], padding, [1, 1], 1);
    let out_h = height + padding[0].0 + padding[0].1 - (kh - 1);
    let out_w = width + padding[1].0 + padding[1].1 - (kw - 1);
    let tensor = |values: Vec<f32>, shape: [usize; 4]| {
        Tensor::<4>::from_data(TensorData::new(values, shape), &device).require_grad()
    };
    let xv = random(n * c_in * height * width, seed, 1.0);
    let wv = random(c_out * c_in * kh * kw, seed + 1, 1.0);
    let bv = random(c_out, seed + 2, 1.0);
    let u = Tensor::<4>::from_data(
        TensorData::new(
            random(n * c_out * out_h * out_w, seed + 3, 1.0),
            [n, c_out, out_h, out_w],
        ),
        &device,
    );
    let make = || {
        (
            tensor(xv.clone(), [n, c_in, height, width]),
            tensor(wv.clone(), [c_out, c_in, kh, kw]),
            Tensor::<1>::from_data(TensorData::new(bv.clone(), [c_out]), &device).require_grad(),
        )
    };
    let (xb, wb, bb) = make();
    let (xf, wf, bf) = make();
    let low = conv2d(xb.clone(), wb.clone(), Some(bb.clone()), options.clone());
    let full = burn::tensor::module::conv2d(xf.clone(), wf.clone(), Some(bf.clone()), options);
    let values = scaled_error(low.clone(), full.clone());
    let gl = (low * u.clone()).sum().backward();
    let gf = (full * u).sum().backward();
    [
        values,
        scaled_error(xb.grad(&gl).unwrap(), xf.grad(&gf).unwrap()),
        scaled_error(wb.grad(&gl).unwrap(), wf.grad(&gf).unwrap()),
        scaled_error(bb.grad(&gl).unwrap(), bf.grad(&gf).unwrap()),
    ]
}

#[test]
fn bf16_products_are_close_to_f32_or_refused() {
    if let Err(why) = amx_usable() {
        let refused = set_precision(Precision::Bf16).expect_err("bf16 without AMX");
        assert!(
            refused.contains("AMX") || refused.contains("tile"),
            "{refused}"
        );
        assert_eq!(precision(), Precision::F32);
        eprintln!("no AMX here ({why}): only the refusal was checked");
        return;
    }
    set_precision(Precision::Bf16).unwrap();
    assert_eq!(precision(), Precision::Bf16);
    for (shape, kernel, padding, seed) in [
        // The head's 1x1 (256 levels from 64 features), a vertical-stack kernel with rows
        // above only, a horizontal one with left padding, odd sizes everywhere.
        ([2, 64, 256, 7, 6], [1, 1], [(0, 0), (0, 0)], 1),
        ([3, 16, 32, 9, 7], [2, 3], [(2, 0), (1, 1)], 2),
        ([2, 5, 7, 5, 11], [1, 2], [(0, 0), (2, 0)], 3),
        ([1, 3, 2, 4, 4], [4, 7], [(4, 0), (3, 3)], 4),
    ] {
        let errors = bf16_errors(shape, kernel, padding, seed);
        // bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 0.002 per factor); measured
        // here: at most 0.0025 of the largest value, in values and gradients.
        for (what, err) in [
            "values",
            "input gradient",
            "weight gradient",
            "bias gradient",
        ]
        .iter()
        .zip(errors)
        {
            assert!(err < 1e-2, "{shape:?} {kernel:?}: {what} off by {err}");
        }
        // The bias gradient is Σ u (no product); the others went through bf16 and show it.
        assert!(
            errors[0] > 1e-5 && errors[1] > 1e-5 && errors[2] > 1e-5,
            "{shape:?} {kernel:?}: equal to f32 ({errors:?}): the bf16 path did not run"
        );
    }
    // The model's causality does not depend on the precision of its products.
    let config = common::tiny_gated_model(8);
    let model = config.init_seeded(4, &Device::flex());
    common::assert_causal_on_8x8(&model, &config);
}

/// The binary: `--precision bf16` trains where the CPU has AMX, and is refused with the reason
/// (non-zero exit, no run folder written) where it does not.
#[test]
fn the_binary_trains_in_bf16_or_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let args = [
        "train",
        "--out",
        run_s,
        "--epochs",
        "1",
        "--train-limit",
        "32",
        "--channels",
        "8",
        "--layers",
        "2",
        "--head",
        "16",
        "--samples",
        "0",
        "--quiet",
        "--precision",
        "bf16",
    ];
    let out = argen(&args);
    if amx_usable().is_ok() {
        assert!(
            out.status.success(),
            "bf16 training failed: {}",
            stderr(&out)
        );
        assert!(run.join("CHECKPOINT").exists());
    } else {
        assert_clean_failure(&out, "AMX");
        assert!(!run.exists(), "a refused run wrote {}", run.display());
    }
    assert_clean_failure(
        &argen(&["train", "--out", run_s, "--precision", "f16"]),
        "precision",
    );
}
