//! `--condition vectors:FILE` through the command line: a run trains, evaluates, samples
//! and completes with vectors; a bad vector file is a clear error (exit code 1) that touches
//! nothing already saved.

mod common;

use std::path::Path;

use common::{argen_in, argen_ok, assert_clean_failure, tensors};

/// The embedded digits number 1,797 images.
const DIGITS: usize = 1797;

const SMALL: [&str; 11] = [
    "--channels",
    "4",
    "--layers",
    "1",
    "--head",
    "8",
    "--epochs",
    "1",
    "--train-limit",
    "64",
    "--quiet",
];

/// A CSV of `rows` vectors of 3 values, with a header.
fn write_vectors(path: &Path, rows: usize) {
    let mut text = String::from("a,b,c\n");
    for i in 0..rows {
        text.push_str(&format!("{},{},{}\n", i % 10, (i as f32 * 0.1).sin(), 1.0));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_vector_run_trains_evaluates_samples_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.csv");
    write_vectors(&file, DIGITS);
    let spec = format!("vectors:{}", file.display());
    let mut args = vec![
        "train",
        "--out",
        "run",
        "--condition",
        &spec,
        "--samples",
        "4",
    ];
    args.extend(SMALL);
    argen_ok(&args, dir.path());
    let config = std::fs::read_to_string(dir.path().join("run/config.json")).unwrap();
    assert!(config.contains("\"vector_dim\": 3"), "{config}");
    let eval = argen_ok(&["eval", "run", "--json"], dir.path());
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert!(report["nats_per_example"].as_f64().unwrap() > 0.0);
    // Sampling for given vectors, and for the test images' vectors.
    let given = dir.path().join("given.csv");
    write_vectors(&given, 4);
    let given_spec = format!("vectors:{}", given.display());
    argen_ok(
        &["sample", "run", "--n", "4", "--condition", &given_spec],
        dir.path(),
    );
    argen_ok(&["sample", "run", "--n", "4"], dir.path());
    argen_ok(
        &["complete", "run", "--n", "2", "--samples", "2"],
        dir.path(),
    );

    // Bad input at sample time: a wrong dimension, too few rows; nothing saved changes.
    let best = argen::train::RunFolder(dir.path().join("run")).weights(true);
    let weights = tensors(&best);
    let wrong = dir.path().join("wrong.csv");
    std::fs::write(&wrong, "1,2\n3,4\n5,6\n7,8\n").unwrap();
    let out = argen_in(
        &[
            "sample",
            "run",
            "--n",
            "4",
            "--condition",
            &format!("vectors:{}", wrong.display()),
        ],
        dir.path(),
    );
    assert_clean_failure(
        &out,
        "vectors of 2 values, but the run is conditioned on vectors of 3",
    );
    let out = argen_in(
        &["sample", "run", "--n", "9", "--condition", &given_spec],
        dir.path(),
    );
    assert_clean_failure(&out, "4 rows for 9 samples");
    let after = tensors(&argen::train::RunFolder(dir.path().join("run")).weights(true));
    assert_eq!(weights, after);
}

#[test]
fn bad_vector_files_are_clear_errors_that_save_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let train = |file: &Path, out: &str| {
        let spec = format!("vectors:{}", file.display());
        let mut args = vec!["train", "--out", out, "--condition", &spec];
        args.extend(SMALL);
        argen_in(&args, dir.path())
    };
    // A row count that differs from the data.
    let short = dir.path().join("short.csv");
    write_vectors(&short, 100);
    let out = train(&short, "a");
    assert_clean_failure(&out, "100 rows, but digits has 1797 images");
    assert!(!dir.path().join("a").exists());
    // NaN, and text, named by line and column.
    let nan = dir.path().join("nan.csv");
    write_vectors(&nan, DIGITS);
    let text = std::fs::read_to_string(&nan)
        .unwrap()
        .replacen("\n5,", "\nNaN,", 1);
    std::fs::write(&nan, text).unwrap();
    let out = train(&nan, "b");
    assert_clean_failure(
        &out,
        "nan.csv: line 7, column 1: `NaN` is not a finite number",
    );
    let words = dir.path().join("words.csv");
    write_vectors(&words, DIGITS);
    let text = std::fs::read_to_string(&words)
        .unwrap()
        .replacen(",1\n", ",one\n", 3);
    std::fs::write(&words, text).unwrap();
    let out = train(&words, "c");
    assert_clean_failure(&out, "column 3: `one` is not a finite number");
    // A missing file, a truncated .npy, and classes and vectors at once.
    let out = train(&dir.path().join("missing.csv"), "d");
    assert_clean_failure(&out, "missing.csv");
    let npy = dir.path().join("bad.npy");
    std::fs::write(&npy, b"\x93NUMPY\x01\x00").unwrap();
    let out = train(&npy, "e");
    assert_clean_failure(&out, "bad.npy: not a valid .npy file");
    let good = dir.path().join("good.csv");
    write_vectors(&good, DIGITS);
    let spec = format!("vectors:{}", good.display());
    let mut args = vec!["train", "--out", "f", "--condition", &spec, "--conditional"];
    args.extend(SMALL);
    assert_clean_failure(&argen_in(&args, dir.path()), "choose one");
    for folder in ["b", "c", "d", "e", "f"] {
        assert!(!dir.path().join(folder).exists(), "{folder} was created");
    }
}

#[test]
fn a_sequence_run_conditions_on_a_vector_per_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("h.csv");
    write_vectors(&file, DIGITS);
    let spec = format!("vectors:{}", file.display());
    let args = [
        "train",
        "--model",
        "tcn",
        "--data",
        "digits",
        "--condition",
        &spec,
        "--hidden",
        "4",
        "--depth",
        "1",
        "--epochs",
        "1",
        "--train-limit",
        "32",
        "--out",
        "seq",
        "--quiet",
    ];
    argen_ok(&args, dir.path());
    let eval = argen_ok(&["eval", "seq"], dir.path());
    assert!(String::from_utf8_lossy(&eval.stdout).contains("nats/step"));
    argen_ok(&["sample", "seq", "--n", "3", "--out", "s.png"], dir.path());
    // One row short: refused, nothing created.
    let short = dir.path().join("short.csv");
    write_vectors(&short, DIGITS - 1);
    let spec = format!("vectors:{}", short.display());
    let mut bad = args.to_vec();
    bad[6] = &spec;
    bad[16] = "seq2";
    let out = argen_in(&bad, dir.path());
    assert_clean_failure(&out, "1796 rows, but digits has 1797 sequences");
    assert!(!dir.path().join("seq2").exists());
}

#[test]
fn neural_covariate_runs_train_and_refuse_bad_columns() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("s.csv");
    let mut text = String::from("x,c,d\n");
    for t in 0..200 {
        let c = (t as f64 * 0.37).sin();
        text.push_str(&format!(
            "{},{c},{}\n",
            2.0 * c + 0.1 * (t % 3) as f64,
            t % 7
        ));
    }
    std::fs::write(&csv, &text).unwrap();
    let data = format!("csv:{}:x", csv.display());
    let train = |columns: &str, data: &str, out: &str| {
        let args = [
            "train",
            "--model",
            "tcn",
            "--data",
            data,
            "--covariates",
            columns,
            "--hidden",
            "4",
            "--depth",
            "1",
            "--epochs",
            "1",
            "--out",
            out,
            "--quiet",
        ];
        argen_in(&args, dir.path())
    };
    let out = train("c,d", &data, "good");
    assert!(out.status.success(), "{}", common::stderr(&out));
    let config = std::fs::read_to_string(dir.path().join("good/config.json")).unwrap();
    assert!(config.contains("\"covariates\""), "{config}");
    argen_ok(&["eval", "good"], dir.path());
    argen_ok(&["forecast", "good", "--horizon", "4"], dir.path());
    // Past the end: the file has no future covariate rows, so no step can be forecast.
    let before = std::fs::read(dir.path().join("good/config.json")).unwrap();
    let out = argen_in(
        &["forecast", "good", "--origin", "200", "--horizon", "3"],
        dir.path(),
    );
    assert_clean_failure(&out, "the file has 0 rows past the last target");
    assert_eq!(
        before,
        std::fs::read(dir.path().join("good/config.json")).unwrap()
    );
    // A column that does not exist: the message lists those that do.
    assert_clean_failure(
        &train("c,zz", &data, "a"),
        "no column named 'zz'; the header has: x, c, d",
    );
    // NaN in a covariate, named by row and column.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, text.replace(",0.9", ",NaN")).unwrap();
    let bad_data = format!("csv:{}:x", bad.display());
    let out = train("c", &bad_data, "b");
    assert_clean_failure(&out, "column 'c'");
    // Covariates of a source that is not a CSV file.
    assert_clean_failure(
        &train("c", "sine", "c"),
        "--covariates reads columns of a CSV file",
    );
    for folder in ["a", "b", "c"] {
        assert!(!dir.path().join(folder).exists(), "{folder} was created");
    }
}
