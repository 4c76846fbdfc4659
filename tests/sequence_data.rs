//! Sequence data sets and their bad inputs, and the sequence training loop end to end.

use std::path::Path;

use argen::data::sequences::{
    KEYS, adding_problem, copy_memory, digits_as_sequences, load_sequences, piano_roll,
};
use argen::distributions::OutputDistribution;
use argen::models::{SequenceModelConfig, SequenceModelKind};
use argen::train::RunFolder;
mod common;
use common::{argen_in, argen_ok, tensors};

use argen::run::{Run, RunKind};
use argen::train::sequence::{SequenceTrainingConfig, fit};
use argen::train::{LrSchedule, Progress, TrainOptions};
use burn::prelude::Device;

#[test]
fn digits_are_64_step_sequences_of_17_levels() {
    let d = digits_as_sequences().unwrap();
    assert_eq!(
        (d.train.len(), d.valid.len(), d.test.len()),
        (1000, 350, 447)
    );
    assert!(d.train.iter().all(|e| e.targets.len() == 64));
    assert!(
        d.train
            .iter()
            .flatten_targets()
            .all(|v| (0.0..=16.0).contains(&v))
    );
    assert_eq!(d.output, OutputDistribution::Categorical { levels: 17 });
}

trait FlattenTargets<'a> {
    fn flatten_targets(self) -> Box<dyn Iterator<Item = f32> + 'a>;
}

impl<'a, I: Iterator<Item = &'a argen::data::sequences::SeqExample> + 'a> FlattenTargets<'a> for I {
    fn flatten_targets(self) -> Box<dyn Iterator<Item = f32> + 'a> {
        Box::new(self.flat_map(|e| e.targets.iter().copied()))
    }
}

#[test]
fn adding_problem_targets_are_the_sum_of_the_two_marked_values() {
    let t = 50;
    let d = adding_problem(t, 1);
    for e in d.train.iter().take(200) {
        let x = e.inputs.as_ref().unwrap();
        assert_eq!(x.len(), 2 * (t + 1));
        let marked: Vec<usize> = (0..t).filter(|&s| x[2 * s + 1] == 1.0).collect();
        assert_eq!(marked.len(), 2);
        assert!(marked[0] < t / 2 && marked[1] >= t / 2);
        let sum = x[2 * marked[0]] + x[2 * marked[1]];
        assert!((e.targets[t] - sum).abs() < 1e-6);
        let mask = e.mask.as_ref().unwrap();
        assert_eq!(mask.iter().sum::<f32>(), 1.0);
        assert_eq!(mask[t], 1.0);
    }
}

#[test]
fn copy_memory_asks_for_the_first_ten_digits_after_the_marker() {
    let t = 30;
    let d = copy_memory(t, 1);
    for e in d.train.iter().take(100) {
        let a = e.inputs.as_ref().unwrap();
        let n = t + 20;
        assert_eq!(a.len(), n + 1);
        assert!(a[..10].iter().all(|&v| (1.0..=8.0).contains(&v)));
        assert!(a[10..t + 9].iter().all(|&v| v == 0.0));
        assert_eq!(a[t + 9], 9.0);
        // The target at position p is y_{p-1}; the last 10 are the digits, the rest blank.
        assert_eq!(&e.targets[n + 1 - 10..], &a[..10]);
        assert!(e.targets[..n + 1 - 10].iter().all(|&v| v == 0.0));
    }
    // The trivial baseline of the task: blanks known, 10 digits uniform over 8.
    assert_eq!(d.recall_last, 10);
}

#[test]
fn piano_rolls_parse_and_bad_rolls_are_refused() {
    let path = Path::new("roll.json");
    let good = r#"{"train": [[[60, 64], [], [21, 108]]], "valid": [[[60]]], "test": [[[62]]]}"#;
    let d = piano_roll(good, path, "pianoroll:roll.json").unwrap();
    let e = &d.train[0];
    assert_eq!(e.targets.len(), 3 * KEYS);
    assert_eq!(e.targets[60 - 21], 1.0);
    assert_eq!(e.targets[64 - 21], 1.0);
    assert!(e.targets[KEYS..2 * KEYS].iter().all(|&v| v == 0.0));
    assert_eq!(e.targets[2 * KEYS], 1.0);
    assert_eq!(e.targets[3 * KEYS - 1], 1.0);
    for (bad, expected) in [
        (
            r#"{"train": [[[60], 61]], "valid": [[[60]]], "test": [[[60]]]}"#,
            "ragged",
        ),
        (
            r#"{"train": [[[60], [200]]], "valid": [[[60]]], "test": [[[60]]]}"#,
            "not a MIDI note",
        ),
        (r#"{"train": [[[60]]], "valid": [[[60]]]}"#, "\"test\""),
        (
            r#"{"train": [], "valid": [[[60]]], "test": [[[60]]]}"#,
            "no piece",
        ),
        (
            r#"{"train": [[[60.5]]], "valid": [[[60]]], "test": [[[60]]]}"#,
            "not a MIDI note",
        ),
        ("{not json", "not valid JSON"),
    ] {
        let err = piano_roll(bad, path, "pianoroll:roll.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(expected) && err.contains("roll.json"),
            "{bad}: {err}"
        );
    }
    let missing = load_sequences("pianoroll:/no/such/file.json")
        .unwrap_err()
        .to_string();
    assert!(missing.contains("/no/such/file.json"), "{missing}");
}

#[test]
fn bad_sources_and_unknown_symbols_are_refused() {
    for bad in ["adding:1", "copy:x", "nonsense", "adding:"] {
        assert!(load_sequences(bad).is_err(), "{bad} accepted");
    }
    let dist = OutputDistribution::Categorical { levels: 5 };
    let err = dist.check_step(&[7.0]).unwrap_err();
    assert!(err.contains("unknown symbol 7"), "{err}");
    assert!(dist.check_step(&[4.0]).is_ok());
    let bits = OutputDistribution::Bernoulli { dims: 2 };
    assert!(bits.check_step(&[1.0, 0.5]).is_err());
}

fn config(kind: SequenceModelKind, data: &str, window: usize) -> SequenceTrainingConfig {
    let d = load_sequences(data).unwrap();
    SequenceTrainingConfig::new(
        SequenceModelConfig::new(kind, d.input_channels(), d.output)
            .with_hidden(8)
            .with_window(window),
        data,
        TrainOptions::default()
            .epochs(1)
            .train_limit(Some(8))
            .lr_schedule(LrSchedule::Constant),
    )
}

#[test]
fn a_window_longer_than_the_sequences_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunFolder(dir.path().join("run"));
    let data = load_sequences("sine").unwrap();
    let err = fit(
        &config(SequenceModelKind::Mlp, "sine", 100),
        &data,
        Some(&run),
        false,
        Progress::Silent,
        &[Device::flex()],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("too short for a window of 100"), "{err}");
}

#[test]
fn training_writes_a_run_folder_that_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunFolder(dir.path().join("run"));
    let data = load_sequences("sine").unwrap();
    let c = config(SequenceModelKind::Gru, "sine", 4).with_tbptt(Some(16));
    let mut c = c;
    c.training.clip_norm = Some(1.0);
    let first = fit(
        &c,
        &data,
        Some(&run),
        false,
        Progress::Silent,
        &[Device::flex()],
    )
    .unwrap()
    .epochs;
    assert_eq!(first.len(), 1);
    assert_eq!(Run::open(&run.0).unwrap().kind(), RunKind::Sequence);
    assert!(run.config().exists());
    for f in [
        "model.safetensors",
        "best.safetensors",
        "optimizer.bpk",
        "state.json",
        "metrics.csv",
    ] {
        assert!(run.checkpoint().join(f).exists(), "{f} missing");
    }
    let mut more = c.clone();
    more.training.epochs = 2;
    let second = fit(
        &more,
        &data,
        Some(&run),
        true,
        Progress::Silent,
        &[Device::flex()],
    )
    .unwrap()
    .epochs;
    assert_eq!(second.iter().map(|r| r.epoch).collect::<Vec<_>>(), vec![2]);
    let metrics = std::fs::read_to_string(run.metrics()).unwrap();
    assert_eq!(metrics.lines().count(), 3, "{metrics}");
}

#[test]
fn cli_trains_evaluates_and_samples_a_sequence_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = argen_in(
        &[
            "train",
            "--model",
            "wavenet",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--hidden",
            "8",
            "--train-limit",
            "64",
            "--out",
            "run",
            "--quiet",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("receptive field 5 steps"), "{stderr}");
    assert!(stdout.contains("nats/sequence"), "{stdout}");
    let eval = argen_in(&["eval", "run", "--json"], dir.path());
    assert!(eval.status.success());
    let v: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let nats = v["metrics"]["nats_per_sequence"].as_f64().unwrap();
    // Better than nothing learned would be below 64 ln 17 = 181.3; just check the scale.
    assert!(nats > 0.0 && nats < 400.0, "{nats}");
    let sample = argen_in(&["sample", "run", "--n", "4", "--out", "s.png"], dir.path());
    assert!(
        sample.status.success(),
        "{}",
        String::from_utf8_lossy(&sample.stderr)
    );
    assert!(dir.path().join("s.png").exists());
    // The WaveNet samples through its queues by default; `--naive` draws the same digits.
    let naive = argen_in(
        &[
            "sample",
            "run",
            "--n",
            "4",
            "--naive",
            "--out",
            "s-naive.png",
        ],
        dir.path(),
    );
    assert!(naive.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("s.png")).unwrap(),
        std::fs::read(dir.path().join("s-naive.png")).unwrap(),
        "cached and naive samples differ"
    );
    // A class-conditional recurrent model with a mixture of logistics over the levels.
    argen_ok(
        &[
            "train",
            "--model",
            "gru",
            "--data",
            "digits",
            "--conditional",
            "--mixture",
            "2",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--train-limit",
            "32",
            "--out",
            "run2",
            "--quiet",
        ],
        dir.path(),
    );
    argen_ok(
        &[
            "sample", "run2", "--n", "3", "--class", "3", "--out", "s2.png",
        ],
        dir.path(),
    );
    // A real series fitted by least squares (unit variance), with dropout: the run keeps both
    // settings, and evaluation and forecasting read it back.
    argen_ok(
        &[
            "train",
            "--model",
            "mlp",
            "--data",
            "sine",
            "--fixed-variance",
            "--dropout",
            "0.1",
            "--epochs",
            "2",
            "--out",
            "run3",
            "--quiet",
        ],
        dir.path(),
    );
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run3/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["model"]["dropout"], 0.1);
    assert_eq!(saved["model"]["output"]["fixed_variance"], true);
    let eval = argen_in(&["eval", "run3", "--json"], dir.path());
    assert!(eval.status.success());
    let v: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert!(v["metrics"]["mse"].as_f64().unwrap() > 0.0);
    let forecast = argen_in(&["forecast", "run3", "--horizon", "4"], dir.path());
    assert!(
        forecast.status.success(),
        "{}",
        String::from_utf8_lossy(&forecast.stderr)
    );
    // Bad input: a clear error and exit status 1, no panic.
    for bad in [
        vec![
            "train", "--model", "mlp", "--data", "sine", "--window", "100", "--out", "r2",
        ],
        vec![
            "train",
            "--model",
            "mlp",
            "--data",
            "digits",
            "--fixed-variance",
        ],
        vec![
            "train",
            "--model",
            "tcn",
            "--data",
            "sine",
            "--dropout",
            "1",
        ],
        vec![
            "train",
            "--model",
            "gru",
            "--data",
            "pianoroll:missing.json",
        ],
        vec!["train", "--model", "tcn", "--data", "copy:1"],
    ] {
        let out = argen_in(&bad, dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {err}");
        assert!(
            err.contains("error: ") && !err.contains("panicked"),
            "{bad:?}: {err}"
        );
    }
}

/// The NLL "after the first step" is the NLL of the same sequences with step 0 not scored.
#[test]
fn nats_after_the_first_step_leave_out_exactly_the_first_steps() {
    use argen::train::sequence::evaluate_sequences;
    use burn::prelude::Device;
    let data = digits_as_sequences().unwrap();
    let config =
        SequenceModelConfig::new(SequenceModelKind::Tcn, data.input_channels(), data.output)
            .with_hidden(8);
    let device = Device::flex();
    let model = config.init_seeded(3, &device);
    // Ragged batches: 13 sequences in batches of 5.
    let set: Vec<_> = data.test[..13].to_vec();
    let all = evaluate_sequences(&config, &model, &data, &set, 5, &device);
    let without_first: Vec<_> = set
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let mut mask = vec![1.0; e.targets.len()];
            mask[0] = 0.0;
            e.mask = Some(mask);
            e
        })
        .collect();
    let rest = evaluate_sequences(&config, &model, &data, &without_first, 5, &device);
    assert_eq!(rest.steps, all.steps - 13);
    assert!(
        (rest.nats_per_step - all.nats_per_step_after_first).abs() < 1e-5,
        "{} vs {}",
        rest.nats_per_step,
        all.nats_per_step_after_first
    );
    assert!((rest.nats_per_step_after_first - rest.nats_per_step).abs() < 1e-9);
    assert!((all.nats_per_step - all.nats_per_step_after_first).abs() > 1e-4);
}

#[test]
fn a_sequence_run_with_dropout_resumes_bit_identically() {
    // Stopped after epoch 2 and resumed, a run with dropout ends with the weights of the run
    // that never stopped: the loop reseeds the dropout draws at every epoch.
    let data = load_sequences("digits").unwrap();
    let config = |epochs: usize, dropout: f64| {
        SequenceTrainingConfig::new(
            SequenceModelConfig::new(
                SequenceModelKind::Wavenet,
                data.input_channels(),
                data.output,
            )
            .with_hidden(8)
            .with_layers(2)
            .with_dropout(Some(dropout)),
            "digits",
            TrainOptions::default()
                .epochs(epochs)
                .batch_size(8)
                .train_limit(Some(24))
                .lr_schedule(LrSchedule::Constant),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, epochs: usize, dropout: f64, resume: bool| {
        let folder = RunFolder(dir.path().join(name));
        fit(
            &config(epochs, dropout),
            &data,
            Some(&folder),
            resume,
            Progress::Silent,
            &[Device::flex()],
        )
        .unwrap();
        folder
    };
    let straight = run("straight", 3, 0.3, false);
    run("resumed", 2, 0.3, false);
    let resumed = run("resumed", 3, 0.3, true);
    assert_eq!(
        tensors(&straight.last_weights()),
        tensors(&resumed.last_weights())
    );
    // The dropout masks matter: the same run without dropout ends elsewhere.
    let plain = run("plain", 3, 0.0, false);
    assert_ne!(
        tensors(&straight.last_weights()),
        tensors(&plain.last_weights())
    );
}

#[test]
fn level_sequences_in_memory_split_and_refuse_bad_values() {
    use argen::data::sequences::SequenceData;
    let rows: Vec<Vec<u32>> = (0..10).map(|i| vec![i % 3, (i + 1) % 3, 2]).collect();
    let data = SequenceData::from_level_sequences("rows", 3, &rows, 2).unwrap();
    assert_eq!(
        (data.train.len(), data.valid.len(), data.test.len()),
        (8, 2, 0)
    );
    assert_eq!(data.valid[0].targets, vec![2.0, 0.0, 2.0]);
    assert_eq!(data.valid[1].index, 9);
    let err = |r: &[Vec<u32>], levels, valid| {
        SequenceData::from_level_sequences("rows", levels, r, valid)
            .unwrap_err()
            .to_string()
    };
    assert!(err(&rows, 2, 2).contains("the value 2"));
    assert!(err(&rows, 3, 10).contains("at least one each"));
    assert!(err(&rows[..1], 3, 1).contains("1 sequences"));
    assert!(err(&[vec![0], vec![]], 3, 1).contains("sequence 1 of rows is empty"));
    assert!(err(&rows, 1, 2).contains("1 levels"));
}
