//! Helpers shared by the test files: running the `argen` binary, comparing tensors (each
//! test file uses some of them).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `argen` with `args` in the current folder.
pub fn argen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(args)
        .output()
        .expect("the argen binary runs")
}

/// Runs `argen` with `args` in the folder `cwd`.
pub fn argen_in(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the argen binary runs")
}

/// Runs `argen` in `cwd` and checks that it succeeded (showing its error output otherwise).
pub fn argen_ok(args: &[&str], cwd: &Path) -> Output {
    let out = argen_in(args, cwd);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The error output of a run, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure that the program reported itself: exit code 1 (a panic exits with 101), with
/// `phrase` in its message.
pub fn assert_clean_failure(out: &Output, phrase: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a reported error, got {:?}: {err}",
        out.status
    );
    assert!(
        err.contains(phrase),
        "stderr does not mention `{phrase}`: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// The tensors of a safetensors file, by name (metadata left out).
pub fn tensors(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.data().to_vec()))
        .collect();
    out.sort();
    out
}

/// Largest |a − b| / max(1, |b|) over the two tensors' values.
pub fn relative_error<const D: usize>(
    a: burn::prelude::Tensor<D>,
    b: burn::prelude::Tensor<D>,
) -> f32 {
    let a: Vec<f32> = a.into_data().convert::<f32>().iter::<f32>().collect();
    let b: Vec<f32> = b.into_data().convert::<f32>().iter::<f32>().collect();
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1.0))
        .fold(0.0, f32::max)
}

/// A tiny Gated PixelCNN (17 levels, `channels` channels, 2 layers, kernels 3, head 16): the
/// model of the checkpoint, device and precision tests.
pub fn tiny_gated_model(channels: usize) -> argen::models::ImageModelConfig {
    argen::models::ImageModelConfig::GatedPixelcnn(argen::models::GatedPixelCnnConfig {
        levels: 17,
        channels,
        layers: 2,
        first_kernel: 3,
        kernel: 3,
        head: 16,
        num_classes: None,
        vector_dim: None,
        spatial: None,
        dropout: 0.0,
        colours: 1,
    })
}

/// Asserts that `model` (of `config`) is causal on 8x8 images at three targets, by measured
/// gradients: no leak, some dependency, no blind spot.
pub fn assert_causal_on_8x8(
    model: &argen::models::ImageModel,
    config: &argen::models::ImageModelConfig,
) {
    for target in [(3, 4, 0), (7, 7, 0), (0, 1, 0)] {
        let field = argen::receptive_field::measure(model, config, 8, 8, target, None, 3, 9);
        assert!(
            field.leaks().is_empty(),
            "{target:?}: leaks {:?}",
            field.leaks()
        );
        assert!(
            !field.dependencies().is_empty(),
            "{target:?}: depends on nothing"
        );
        assert!(field.blind_spot().is_empty(), "{target:?}: blind spot");
    }
}
