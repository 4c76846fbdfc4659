//! The `argen` binary end to end: train → eval → sample on the embedded digits, and the
//! errors a user sees for bad input (a clear message and a non-zero exit, never a panic).

use std::path::Path;

mod common;
use common::{argen, assert_clean_failure, stderr};

#[test]
fn train_eval_sample_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let run_s = run.to_str().unwrap();
    let out = argen(&[
        "train",
        "--out",
        run_s,
        "--epochs",
        "1",
        "--train-limit",
        "64",
        "--channels",
        "8",
        "--layers",
        "2",
        "--head",
        "16",
        "--samples",
        "4",
        "--quiet",
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    for file in ["config.json", "CHECKPOINT", "samples.png"] {
        assert!(run.join(file).exists(), "{file} missing");
    }
    // The current checkpoint holds the epoch's files.
    let checkpoint = argen::train::RunFolder(run.clone()).checkpoint();
    assert_ne!(checkpoint, run);
    for file in [
        "model.safetensors",
        "best.safetensors",
        "optimizer.bpk",
        "state.json",
        "metrics.csv",
    ] {
        assert!(checkpoint.join(file).exists(), "{file} missing");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("bits/dim") && stdout.contains(run_s),
        "{stdout}"
    );

    let out = argen(&["eval", run_s, "--json"]);
    assert!(out.status.success(), "eval failed: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "image");
    assert_eq!(json["examples"], 447);
    assert_eq!(json["metrics"]["images"], 447);
    let bpd = json["bits_per_dim"].as_f64().unwrap();
    let nats = json["nats_per_example"].as_f64().unwrap();
    assert_eq!(json["metrics"]["nats_per_image"].as_f64().unwrap(), nats);
    assert!(
        (bpd - nats / (64.0 * std::f64::consts::LN_2)).abs() < 1e-9,
        "bits/dim counted over 64 pixels"
    );
    assert!(
        bpd > 0.5 && bpd < (17f64).log2(),
        "one epoch beats the uniform model: {bpd}"
    );

    let png = dir.path().join("s.png");
    let out = argen(&[
        "sample",
        run_s,
        "--n",
        "6",
        "--seed",
        "5",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "sample failed: {}", stderr(&out));
    let img = image::open(&png).unwrap();
    assert!(img.width() >= 3 * 8 && img.height() >= 2 * 8);
    // The same seed gives the same picture, also drawn in batches of 2 dealt over two devices.
    let png2 = dir.path().join("s2.png");
    let out = argen(&[
        "sample",
        run_s,
        "--n",
        "6",
        "--seed",
        "5",
        "--batch",
        "2",
        "--devices",
        "cpu,cpu",
        "--out",
        png2.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "sample on two devices failed: {}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&png).unwrap(), std::fs::read(&png2).unwrap());

    // Completion: original, occluded and 2 completions per image, one image per row.
    let completions = dir.path().join("c.png");
    let out = argen(&[
        "complete",
        run_s,
        "--n",
        "2",
        "--samples",
        "2",
        "--out",
        completions.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "complete failed: {}", stderr(&out));
    let img = image::open(&completions).unwrap();
    let cell = 8 * 8 + 1;
    assert_eq!((img.width(), img.height()), (4 * cell + 1, 2 * cell + 1));
    assert_clean_failure(&argen(&["complete", run_s, "--rows", "9"]), "height");

    // The receptive field of the trained model: no blind spot, no leak.
    let out = argen(&[
        "receptive-field",
        run_s,
        "--json",
        "--out",
        dir.path().join("rf.png").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "receptive-field failed: {}",
        stderr(&out)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["blind_spot"].as_array().unwrap().len(), 0);
    assert_eq!(json["leaks"].as_array().unwrap().len(), 0);
    assert!(!json["depends_on"].as_array().unwrap().is_empty());

    // A class-conditional run: by default one row per class.
    let cond = dir.path().join("cond");
    let cond_s = cond.to_str().unwrap();
    let out = argen(&[
        "train",
        "--out",
        cond_s,
        "--epochs",
        "1",
        "--train-limit",
        "32",
        "--channels",
        "4",
        "--layers",
        "1",
        "--head",
        "8",
        "--samples",
        "0",
        "--conditional",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "conditional train failed: {}",
        stderr(&out)
    );
    let out = argen(&["sample", cond_s, "--n", "20"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let grid = image::open(cond.join("samples.png")).unwrap();
    let cell = 8 * 8 + 1; // 8x8 digits drawn at scale 8, one-pixel borders
    assert_eq!(
        (grid.width(), grid.height()),
        (2 * cell + 1, 10 * cell + 1),
        "2 columns, one row per class"
    );
    assert_clean_failure(&argen(&["sample", cond_s, "--class", "10"]), "out of range");
    assert!(
        argen(&["sample", cond_s, "--class", "7", "--n", "3"])
            .status
            .success()
    );

    // An unconditional run refuses --class.
    assert_clean_failure(
        &argen(&["sample", run_s, "--class", "3"]),
        "class-conditional",
    );
    // A second train into the same folder refuses to overwrite it.
    assert_clean_failure(
        &argen(&["train", "--out", run_s, "--epochs", "1"]),
        "--resume",
    );
}

#[test]
fn a_pixelcnn_trains_evaluates_and_shows_its_blind_spot() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("pixelcnn");
    let run_s = run.to_str().unwrap();
    let out = argen(&[
        "train",
        "--model",
        "pixelcnn",
        "--out",
        run_s,
        "--epochs",
        "1",
        "--train-limit",
        "64",
        "--channels",
        "8",
        "--layers",
        "2",
        "--head",
        "16",
        "--samples",
        "2",
        "--quiet",
    ]);
    assert!(out.status.success(), "train failed: {}", stderr(&out));
    let out = argen(&["eval", run_s, "--json"]);
    assert!(out.status.success(), "eval failed: {}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bpd = json["bits_per_dim"].as_f64().unwrap();
    assert!(bpd.is_finite() && bpd > 0.0, "{bpd}");
    assert!(run.join("samples.png").exists());
    // A fresh PixelCNN of 3 blocks on a larger image: the blind spot is reported.
    let png = dir.path().join("rf.png");
    let out = argen(&[
        "receptive-field",
        "--model",
        "pixelcnn",
        "--layers",
        "3",
        "--first-kernel",
        "3",
        "--size",
        "13",
        "--json",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!json["blind_spot"].as_array().unwrap().is_empty());
    assert!(png.exists());
}

#[test]
fn a_colour_run_trains_evaluates_samples_and_completes() {
    // A folder of 8x8 RGB images: a red, green or blue bar on a dark background.
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    for i in 0..30u32 {
        let img = image::RgbImage::from_fn(8, 8, |x, y| {
            let on = (x + i) % 8 < 3 || y == i % 8;
            let mut p = [20u8, 20, 20];
            if on {
                p[(i % 3) as usize] = 230;
            }
            image::Rgb(p)
        });
        img.save(images.join(format!("{}_{i:02}.png", i % 3)))
            .unwrap();
    }
    let data = format!("png:{}", images.display());
    let run = dir.path().join("colour");
    let run_s = run.to_str().unwrap();
    // The Gated PixelCNN in colour: channels must split into the three colours.
    assert_clean_failure(
        &argen(&[
            "train",
            "--data",
            &data,
            "--out",
            run_s,
            "--channels",
            "16",
            "--quiet",
        ]),
        "multiples of the colour channels",
    );
    let gated = dir.path().join("gated-colour");
    let out = argen(&[
        "train",
        "--data",
        &data,
        "--out",
        gated.to_str().unwrap(),
        "--epochs",
        "1",
        "--channels",
        "12",
        "--layers",
        "2",
        "--head",
        "12",
        "--samples",
        "2",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "gated colour train failed: {}",
        stderr(&out)
    );
    let out = argen(&[
        "train",
        "--data",
        &data,
        "--model",
        "pixelcnn",
        "--out",
        run_s,
        "--epochs",
        "2",
        "--channels",
        "12",
        "--layers",
        "1",
        "--head",
        "12",
        "--samples",
        "4",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "colour train failed: {}",
        stderr(&out)
    );
    let out = argen(&["eval", run_s, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (bpd, nats) = (
        json["bits_per_dim"].as_f64().unwrap(),
        json["nats_per_example"].as_f64().unwrap(),
    );
    assert!(
        (bpd - nats / (3.0 * 64.0 * std::f64::consts::LN_2)).abs() < 1e-9,
        "bits/dim over H·W·C"
    );
    let out = argen(&["complete", run_s, "--n", "2", "--samples", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let picture = image::open(run.join("completions.png")).unwrap().to_rgb8();
    // The original (first cell) is drawn in colour: some pixel has unequal channels.
    assert!(picture.pixels().any(|p| p[0] != p[1] || p[1] != p[2]));
    let out = argen(&["sample", run_s, "--n", "2", "--naive"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let data = format!("idx:{}", missing.display());
    assert_clean_failure(&argen(&["train", "--data", &data, "--quiet"]), "nowhere");
    assert_clean_failure(
        &argen(&["train", "--data", "mnist-please", "--quiet"]),
        "mnist-please",
    );
    assert_clean_failure(
        &argen(&["eval", missing.to_str().unwrap()]),
        "does not exist",
    );
    assert_clean_failure(&argen(&["train", "--kernel", "4", "--quiet"]), "odd");

    // A run whose weights are corrupt.
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let config = r#"{"model":{"kind":"gated-pixelcnn","levels":17,"channels":8,"layers":2,"first_kernel":3,"kernel":3,"head":16,"num_classes":null,"dropout":0.0,"colours":1},"data":"digits","height":8,"width":8,"epochs":1,"batch_size":16,"learning_rate":0.001,"adam_epsilon":1e-8,"clip_norm":null,"seed":0,"train_limit":null,"lr_schedule":"constant"}"#;
    std::fs::write(run.join("config.json"), config).unwrap();
    for file in ["model.safetensors", "best.safetensors"] {
        std::fs::write(run.join(file), b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":").unwrap();
    }
    assert_clean_failure(
        &argen(&["eval", run.to_str().unwrap()]),
        "not a valid safetensors file",
    );
    let _ = Path::new("");
}
