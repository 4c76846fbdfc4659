//! Run folders of every family: folders written by the version before the one-core change
//! (tests/fixtures/v0, made by that version's binary) still open and give that version's
//! numbers; every command refuses a foreign or broken folder with a clear error; `eval
//! --json` has one schema; `train` and `receptive-field` build the same network from the
//! same options.

mod common;

use std::path::{Path, PathBuf};

use argen::run::{Run, RunKind, Split, Weights};
use burn::prelude::Device;
use common::{argen, argen_in, argen_ok, assert_clean_failure, stderr};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v0")
        .join(name)
}

/// A copy of a fixture in `dir` (for commands that write into the run folder).
fn copy_fixture(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(name);
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs()
}

#[test]
fn folders_written_before_the_change_open_with_their_numbers() {
    // The test NLL each fixture's own version printed (`argen eval RUN --json`).
    let expected = [
        ("image-run", RunKind::Image, 184.03519854449587, 447),
        ("sequence-run", RunKind::Sequence, 3.0614974941449944, 28608),
        ("ar-run", RunKind::Classic, 4.791178892354756, 62),
        ("markov-run", RunKind::Classic, 1.021126392888921, 6),
    ];
    let device = Device::flex();
    // (The markov fixture names its text relative to the crate's root, where cargo runs
    // the tests.)
    for (name, kind, value, count) in expected {
        let run = Run::open(&fixture(name)).unwrap();
        assert_eq!(run.kind(), kind, "{name}");
        let report = run
            .evaluate(Split::Test, Weights::Best, 256, &device)
            .unwrap();
        let got = match kind {
            RunKind::Image => report.nats_per_example,
            _ => report.nats_per_dim,
        };
        assert!(close(got, value), "{name}: {got} against {value}");
        let counted = if kind == RunKind::Image {
            report.examples
        } else {
            report.dims
        };
        assert_eq!(counted, count, "{name}");
    }
}

#[test]
fn every_command_works_on_the_old_folders() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let image = copy_fixture("image-run", dir.path());
    let image_s = image.to_str().unwrap();
    argen_ok(&["sample", image_s, "--n", "2"], root);
    assert!(image.join("samples.png").exists());
    argen_ok(&["complete", image_s, "--n", "1", "--samples", "1"], root);
    argen_ok(&["receptive-field", image_s, "--images", "1"], root);
    let out = argen_ok(
        &[
            "train",
            "--resume",
            image_s,
            "--epochs",
            "2",
            "--samples",
            "0",
            "--quiet",
        ],
        root,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("test NLL"));
    // Resumed, the old folder's files moved into a checkpoint of the new layout.
    let folder = argen::train::RunFolder(image.clone());
    assert_eq!(folder.read_state().unwrap().epochs_done, 2);
    assert_ne!(folder.checkpoint(), image);
    assert!(!image.join("model.safetensors").exists());
    let metrics = std::fs::read_to_string(folder.metrics()).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");

    let sequence = copy_fixture("sequence-run", dir.path());
    let sequence_s = sequence.to_str().unwrap();
    argen_ok(&["sample", sequence_s, "--n", "2"], root);
    argen_ok(
        &["train", "--resume", sequence_s, "--epochs", "2", "--quiet"],
        root,
    );

    let ar = copy_fixture("ar-run", dir.path());
    let ar_s = ar.to_str().unwrap();
    argen_ok(&["forecast", ar_s, "--horizon", "3", "--quiet"], root);
    argen_ok(&["sample", ar_s, "--length", "5"], root);
    let markov = copy_fixture("markov-run", dir.path());
    let out = argen_ok(
        &["sample", markov.to_str().unwrap(), "--length", "10"],
        root,
    );
    assert!(!out.stdout.is_empty());
}

#[test]
fn foreign_and_broken_folders_give_clear_errors_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let garbage = dir.path().join("garbage");
    std::fs::create_dir_all(&garbage).unwrap();
    std::fs::write(garbage.join("config.json"), "{ not json").unwrap();
    let alien = dir.path().join("alien");
    std::fs::create_dir_all(&alien).unwrap();
    std::fs::write(alien.join("config.json"), r#"{"kind": "spaceship"}"#).unwrap();
    let both = copy_fixture("image-run", dir.path());
    std::fs::copy(fixture("ar-run/classic.json"), both.join("classic.json")).unwrap();
    let cases: [(&Path, &str); 5] = [
        (&missing, "does not exist"),
        (&empty, "not an argen run folder"),
        (&garbage, "not JSON"),
        (&alien, "unknown \"kind\""),
        (&both, "both a trained run"),
    ];
    for (folder, phrase) in cases {
        let f = folder.to_str().unwrap();
        for args in [
            vec!["eval", f],
            vec!["sample", f],
            vec!["complete", f],
            vec!["forecast", f],
            vec!["receptive-field", f],
            vec!["train", "--resume", f, "--quiet"],
        ] {
            assert_clean_failure(&argen(&args), phrase);
        }
    }
    // A run of another family than the command serves.
    let ar = fixture("ar-run");
    let ar_s = ar.to_str().unwrap();
    assert_clean_failure(&argen(&["complete", ar_s]), "works on image runs");
    assert_clean_failure(&argen(&["receptive-field", ar_s]), "works on image runs");
    assert_clean_failure(&argen(&["train", "--resume", ar_s]), "classical fit");
    let image = fixture("image-run");
    assert_clean_failure(
        &argen(&["forecast", image.to_str().unwrap()]),
        "is an image run",
    );
}

#[test]
fn eval_json_has_one_schema_for_every_family() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut shapes = Vec::new();
    for (name, family) in [
        ("image-run", "image"),
        ("sequence-run", "sequence"),
        ("ar-run", "classic"),
        ("markov-run", "classic"),
    ] {
        let out = argen_in(&["eval", fixture(name).to_str().unwrap(), "--json"], root);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["kind"], family, "{name}");
        assert_eq!(v["metrics"]["family"], family, "{name}");
        let per_dim = v["nats_per_dim"].as_f64().unwrap();
        let bits = v["bits_per_dim"].as_f64().unwrap();
        assert!(close(bits, per_dim / std::f64::consts::LN_2), "{name}");
        let total = v["nats_per_example"].as_f64().unwrap() * v["examples"].as_f64().unwrap();
        assert!(
            close(total, per_dim * v["dims"].as_f64().unwrap()),
            "{name}: the per-example and per-dimension figures disagree"
        );
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        shapes.push(keys);
    }
    assert!(shapes.windows(2).all(|w| w[0] == w[1]), "{shapes:?}");
}

#[test]
fn train_and_receptive_field_build_the_same_network_from_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    for model in ["pixelcnn", "gated-pixelcnn"] {
        let options = [
            "--model",
            model,
            "--channels",
            "12",
            "--layers",
            "2",
            "--head",
            "24",
            "--kernel",
            "5",
        ];
        let mut train = vec!["train"];
        train.extend(options);
        let out_name = format!("run-{model}");
        train.extend([
            "--epochs",
            "1",
            "--train-limit",
            "16",
            "--samples",
            "0",
            "--quiet",
            "--out",
            &out_name,
        ]);
        let trained = argen_ok(&train, dir.path());
        let mut field = vec!["receptive-field"];
        field.extend(options);
        field.extend(["--json", "--images", "1"]);
        let probed = argen_ok(&field, dir.path());
        let v: serde_json::Value = serde_json::from_slice(&probed.stdout).unwrap();
        let config: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(&out_name).join("config.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["config"], config["model"], "{model}");
        let parameters = v["parameters"].as_u64().unwrap();
        assert!(
            stderr(&trained).contains(&format!("with {parameters} parameters")),
            "{model}: {}",
            stderr(&trained)
        );
    }
}
