//! Nothing lost, nothing silent: a checkpoint commits as one unit (a kill at every
//! file-system step of a run, and at random times, then `--resume`, ends bit-identical to the
//! run that never stopped), a full disk keeps the previous checkpoint, a run folder has one
//! writer, and options or edited folders that cannot be meant get a clear error.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::{argen, argen_in, assert_clean_failure, stderr, tensors};
use rand::{RngExt, SeedableRng};

/// `argen` in `cwd` with the fault-injection variable set to `fault`.
fn argen_fault(args: &[&str], cwd: &Path, fault: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(args)
        .current_dir(cwd)
        .env("ARGEN_TEST_FAULT", fault)
        .output()
        .expect("the argen binary runs")
}

const IMAGE_RUN: [&str; 13] = [
    "--channels",
    "4",
    "--layers",
    "1",
    "--head",
    "8",
    "--epochs",
    "2",
    "--train-limit",
    "64",
    "--samples",
    "0",
    "--quiet",
];
const SEQUENCE_RUN: [&str; 15] = [
    "--model",
    "wavenet",
    "--hidden",
    "4",
    "--depth",
    "2",
    "--dropout",
    "0.2",
    "--epochs",
    "2",
    "--train-limit",
    "16",
    "--batch-size",
    "8",
    "--quiet",
];

/// The epoch, training and validation columns of `metrics.csv` (the time columns differ).
fn metrics(run: &Path) -> Vec<String> {
    let run = argen::train::RunFolder(run.to_path_buf());
    std::fs::read_to_string(run.metrics())
        .unwrap()
        .lines()
        .map(|l| l.split(',').take(4).collect::<Vec<_>>().join(","))
        .collect()
}

fn last_weights(run: &Path) -> Vec<(String, Vec<u8>)> {
    tensors(&argen::train::RunFolder(run.to_path_buf()).last_weights())
}

/// Trains `args` into `out` killed at file-system step `step`; `None` when the run finished
/// before that step, otherwise resumes it and checks it against `reference`.
fn kill_and_resume(args: &[&str], dir: &Path, out: &str, fault: &str, reference: &Path) -> bool {
    let mut all = vec!["train", "--out", out];
    all.extend(args);
    let killed = argen_fault(&all, dir, fault);
    if killed.status.success() {
        return false;
    }
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "{fault}: expected a kill, got {:?}: {}",
        killed.status,
        stderr(&killed)
    );
    let resumed = argen_in(
        &["train", "--resume", out, "--quiet", "--samples", "0"],
        dir,
    );
    if !dir.join(out).join("config.json").exists() {
        // Killed before the run existed: nothing to resume, a fresh start is the run.
        assert!(!resumed.status.success());
        let fresh = argen_in(&all, dir);
        assert!(fresh.status.success(), "{fault}: {}", stderr(&fresh));
    } else {
        assert!(resumed.status.success(), "{fault}: {}", stderr(&resumed));
    }
    let run = dir.join(out);
    assert_eq!(
        last_weights(&run),
        last_weights(reference),
        "{fault}: weights differ"
    );
    assert_eq!(metrics(&run), metrics(reference), "{fault}: metrics differ");
    // Nothing of the stopped commit is left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") || n.ends_with(".staging"))
        .collect();
    assert!(leftovers.is_empty(), "{fault}: left {leftovers:?}");
    true
}

fn kill_at_every_step(args: &[&str], with_sequence: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut reference = vec!["train", "--out", "reference"];
    reference.extend(args);
    let out = argen_in(&reference, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    let reference = dir.path().join("reference");
    let mut killed = 0;
    for step in 1.. {
        let out = format!("cut-{with_sequence}-{step}");
        if !kill_and_resume(args, dir.path(), &out, &format!("kill:{step}"), &reference) {
            break;
        }
        killed += 1;
    }
    // Both epochs' commits were cut at every one of their steps.
    assert!(killed >= 20, "only {killed} file-system steps");
}

#[test]
fn a_kill_at_every_step_of_an_image_run_resumes_bit_identically() {
    kill_at_every_step(&IMAGE_RUN, "image");
}

#[test]
fn a_kill_at_every_step_of_a_sequence_run_resumes_bit_identically() {
    kill_at_every_step(&SEQUENCE_RUN, "sequence");
}

#[test]
fn kills_at_random_times_resume_bit_identically() {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<&str> = IMAGE_RUN.to_vec();
    args[7] = "3";
    let mut reference = vec!["train", "--out", "reference"];
    reference.extend(&args);
    let started = std::time::Instant::now();
    assert!(argen_in(&reference, dir.path()).status.success());
    let whole = started.elapsed().as_millis() as u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for i in 0..20 {
        let out = format!("random-{i}");
        let mut all = vec!["train", "--out", out.as_str()];
        all.extend(&args);
        let mut child = Command::new(env!("CARGO_BIN_EXE_argen"))
            .args(&all)
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(0..whole.max(2))));
        let _ = child.kill();
        let status = child.wait().unwrap();
        let run = dir.path().join(&out);
        if !status.success() {
            let resumed = argen_in(&["train", "--resume", &out, "--quiet"], dir.path());
            if !run.join("config.json").exists() {
                assert!(argen_in(&all, dir.path()).status.success());
            } else {
                assert!(resumed.status.success(), "{i}: {}", stderr(&resumed));
            }
        }
        assert_eq!(
            last_weights(&run),
            last_weights(&dir.path().join("reference")),
            "kill {i}"
        );
        assert_eq!(
            metrics(&run),
            metrics(&dir.path().join("reference")),
            "kill {i}"
        );
    }
}

#[test]
fn a_full_disk_during_a_checkpoint_keeps_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut reference = vec!["train", "--out", "reference"];
    reference.extend(IMAGE_RUN);
    assert!(argen_in(&reference, dir.path()).status.success());
    for step in [6, 9, 12, 15] {
        let out = format!("full-{step}");
        let mut all = vec!["train", "--out", out.as_str()];
        all.extend(IMAGE_RUN);
        let failed = argen_fault(&all, dir.path(), &format!("fail:{step}"));
        if failed.status.success() {
            continue;
        }
        assert_clean_failure(&failed, "no space left on device");
        // What was committed before still reads (or nothing was committed yet).
        let run = dir.path().join(&out);
        let state = argen::train::RunFolder(run.clone()).read_state().unwrap();
        if state.epochs_done > 0 {
            let eval = argen_in(&["eval", &out], dir.path());
            assert!(eval.status.success(), "{}", stderr(&eval));
        }
        let resumed = argen_in(&["train", "--resume", &out, "--quiet"], dir.path());
        assert!(resumed.status.success(), "{step}: {}", stderr(&resumed));
        assert_eq!(
            last_weights(&run),
            last_weights(&dir.path().join("reference"))
        );
    }
    // A sample written over an existing file: a failed write leaves the old file whole.
    let png = dir.path().join("s.png");
    let first = argen_in(
        &["sample", "reference", "--n", "2", "--out", "s.png"],
        dir.path(),
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let before = std::fs::read(&png).unwrap();
    let failed = argen_fault(
        &[
            "sample",
            "reference",
            "--n",
            "2",
            "--seed",
            "5",
            "--out",
            "s.png",
        ],
        dir.path(),
        "fail:1",
    );
    assert_clean_failure(&failed, "no space left on device");
    assert_eq!(std::fs::read(&png).unwrap(), before);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "train",
        "--out",
        "busy",
        "--channels",
        "8",
        "--layers",
        "2",
        "--head",
        "16",
        "--epochs",
        "30",
        "--samples",
        "0",
        "--quiet",
    ];
    let mut first = Command::new(env!("CARGO_BIN_EXE_argen"))
        .args(args)
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = dir.path().join("busy/.lock");
    let config = dir.path().join("busy/config.json");
    for _ in 0..500 {
        if config.exists() && std::fs::read_to_string(&lock).is_ok_and(|s| !s.is_empty()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = argen_in(&["train", "--resume", "busy", "--quiet"], dir.path());
    let _ = first.kill();
    let _ = first.wait();
    assert_clean_failure(&second, "being written by another argen process");
    assert!(
        stderr(&second).contains(&first.id().to_string()),
        "{}",
        stderr(&second)
    );
    // Killed, the first writer left a whole folder, and its lock went with it: the run
    // resumes (to one epoch: the one it had finished, or the one it was in).
    let resumed = argen_in(
        &[
            "train",
            "--resume",
            "busy",
            "--quiet",
            "--epochs",
            "1",
            "--samples",
            "0",
        ],
        dir.path(),
    );
    assert!(resumed.status.success(), "{}", stderr(&resumed));
}

#[test]
fn options_that_cannot_be_meant_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let quick = [
        "--epochs",
        "1",
        "--train-limit",
        "16",
        "--samples",
        "0",
        "--quiet",
    ];
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--channels", "4", "--layers", "1", "--head", "8"];
        args.extend(quick);
        args.extend(extra);
        argen_in(&args, cwd)
    };
    for (extra, phrase) in [
        (&["--clip-norm", "-1"][..], "clipping norm"),
        (&["--clip-norm", "0"], "clipping norm"),
        (&["--clip-norm", "nan"], "clipping norm"),
        (&["--adam-epsilon", "0"], "epsilon"),
        (&["--lr", "-1"], "learning rate"),
        (&["--window", "3"], "--window"),
    ] {
        assert_clean_failure(&train(extra), phrase);
    }
    assert_clean_failure(
        &argen_in(&["train", "--train-limit", "0", "--quiet"], cwd),
        "training limit",
    );
    assert_clean_failure(
        &argen_in(
            &["train", "--model", "mlp", "--data", "sine", "--tbptt", "8"],
            cwd,
        ),
        "--tbptt",
    );
    assert_clean_failure(
        &argen_in(&["train", "--model", "wavenet", "--channels", "8"], cwd),
        "--channels",
    );
    assert_clean_failure(
        &argen_in(&["train", "--model", "gpt"], cwd),
        "unknown --model gpt",
    );

    let run = cwd.join("run");
    let out = train(&["--out", "run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let run_s = run.to_str().unwrap();
    assert_clean_failure(&argen(&["train", "--resume", run_s, "--lr", "0.5"]), "--lr");
    for t in ["-1", "nan", "inf"] {
        assert_clean_failure(
            &argen(&["complete", run_s, "--temperature", t]),
            "temperature",
        );
        assert_clean_failure(
            &argen(&["sample", run_s, "--temperature", t]),
            "temperature",
        );
    }
    assert_clean_failure(&argen(&["sample", run_s, "--n", "1000000"]), "at most");
    assert_clean_failure(
        &argen(&["receptive-field", "--size", "100000"]),
        "--size must be in",
    );

    let fit = cwd.join("fit");
    let fit_s = fit.to_str().unwrap();
    let out = argen(&[
        "fit", "ar", "--data", "sunspots", "--order", "2", "--out", fit_s,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean_failure(
        &argen(&[
            "fit", "ar", "--data", "sunspots", "--order", "3", "--out", fit_s,
        ]),
        "already holds a run",
    );
    assert_clean_failure(
        &argen(&[
            "fit", "ar", "--data", "sunspots", "--order", "3", "--out", run_s,
        ]),
        "already holds a run",
    );
    assert_clean_failure(&argen(&["sample", fit_s, "--class", "1"]), "--class");
    assert_clean_failure(
        &argen(&["sample", fit_s, "--length", "100000000000"]),
        "--length",
    );
    assert_clean_failure(&argen(&["forecast", fit_s, "--within", "a"]), "--within");
    assert_clean_failure(
        &argen(&["forecast", fit_s, "--horizon", "100000000"]),
        "--horizon",
    );
    // Two outputs of one command never share a path.
    assert_clean_failure(
        &argen(&[
            "sample",
            fit_s,
            "--out",
            cwd.join("x.png").to_str().unwrap(),
        ]),
        "names the CSV",
    );
    assert!(!cwd.join("x.png").exists());
    assert_clean_failure(
        &argen(&["forecast", fit_s, "--csv", "same", "--chart", "same"]),
        "same file",
    );
    // Sizes that would not fit in memory are refused before anything is allocated.
    assert_clean_failure(
        &argen_in(&["train", "--model", "tcn", "--data", "adding:100000"], cwd),
        "12,000",
    );
}

#[test]
fn a_gzip_bomb_is_refused_while_it_inflates() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // 1.1 GiB of zeros compress to about a megabyte.
    let file = std::fs::File::create(dir.path().join("train-images-idx3-ubyte.gz")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut block = vec![0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28];
    block.resize(1 << 20, 0);
    for _ in 0..1100 {
        gz.write_all(&block).unwrap();
        block.iter_mut().for_each(|b| *b = 0);
    }
    gz.finish().unwrap();
    let labels = [0, 0, 8, 1, 0, 0, 0, 1, 0];
    std::fs::write(dir.path().join("train-labels-idx1-ubyte"), labels).unwrap();
    let data = format!("idx:{}", dir.path().display());
    assert_clean_failure(
        &argen(&["train", "--data", &data, "--quiet"]),
        "decompresses to more than 1024 MiB",
    );
}

#[test]
fn edited_or_damaged_run_folders_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let make = |name: &str| {
        let out = argen_in(
            &[
                "train",
                "--channels",
                "4",
                "--layers",
                "1",
                "--head",
                "8",
                "--epochs",
                "1",
                "--train-limit",
                "16",
                "--samples",
                "0",
                "--quiet",
                "--out",
                name,
            ],
            cwd,
        );
        assert!(out.status.success(), "{}", stderr(&out));
        cwd.join(name)
    };
    let edit = |run: &Path, from: &str, to: &str| {
        let path = run.join("config.json");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{text}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
    };
    let zero = make("zero");
    edit(&zero, "\"height\": 8", "\"height\": 0");
    for command in ["eval", "sample", "complete"] {
        assert_clean_failure(&argen(&[command, zero.to_str().unwrap()]), "height 0");
    }
    let other = make("other");
    let pngs = cwd.join("pngs");
    std::fs::create_dir_all(&pngs).unwrap();
    for i in 0..4 {
        image::GrayImage::from_pixel(14, 14, image::Luma([i * 60]))
            .save(pngs.join(format!("{i}_x.png")))
            .unwrap();
    }
    edit(
        &other,
        "\"data\": \"digits\"",
        &format!("\"data\": \"png:{}\"", pngs.display()),
    );
    for command in ["eval", "complete"] {
        assert_clean_failure(
            &argen(&[command, other.to_str().unwrap()]),
            "no longer fits",
        );
    }
    let no_best = make("no-best");
    let folder = argen::train::RunFolder(no_best.clone());
    std::fs::remove_file(folder.best_weights()).unwrap();
    assert_clean_failure(
        &argen(&["eval", no_best.to_str().unwrap()]),
        "best.safetensors",
    );
    // A file of another run with the same architecture, copied in, is found out.
    let donor = make("donor");
    let patched = make("patched");
    let (d, p) = (
        argen::train::RunFolder(donor.clone()),
        argen::train::RunFolder(patched.clone()),
    );
    let mut foreign = std::fs::read(d.last_weights()).unwrap();
    // (Same architecture and seed, so the same weights: change one byte of the tensors.)
    let n = foreign.len();
    foreign[n - 1] ^= 1;
    std::fs::write(p.best_weights(), &foreign).unwrap();
    assert_clean_failure(
        &argen(&["eval", patched.to_str().unwrap()]),
        "not the file this checkpoint was saved with",
    );
    std::fs::copy(d.optimizer(), p.optimizer()).unwrap();
    let mut optimizer = std::fs::read(p.optimizer()).unwrap();
    optimizer.push(0);
    std::fs::write(p.optimizer(), optimizer).unwrap();
    assert_clean_failure(
        &argen(&[
            "train",
            "--resume",
            patched.to_str().unwrap(),
            "--epochs",
            "2",
        ]),
        "optimizer.bpk is not the file",
    );
    // An edited epoch count is found out.
    let edited = make("edited");
    let folder = argen::train::RunFolder(edited.clone());
    let state = std::fs::read_to_string(folder.state()).unwrap();
    std::fs::write(
        folder.state(),
        state.replace("\"epochs_done\": 1", "\"epochs_done\": 5"),
    )
    .unwrap();
    assert_clean_failure(
        &argen(&[
            "train",
            "--resume",
            edited.to_str().unwrap(),
            "--epochs",
            "6",
        ]),
        "edited or damaged",
    );
    // A run of a file named relative to the working folder reads it from any folder.
    let data = cwd.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("t.txt"), "abcabcabcabd ".repeat(40)).unwrap();
    let out = argen_in(
        &[
            "train",
            "--model",
            "mlp",
            "--data",
            "text:data/t.txt",
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            "rel",
        ],
        cwd,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let elsewhere = argen(&["eval", cwd.join("rel").to_str().unwrap()]);
    assert!(elsewhere.status.success(), "{}", stderr(&elsewhere));
    let no_state = make("no-state");
    let folder = argen::train::RunFolder(no_state.clone());
    std::fs::remove_file(folder.state()).unwrap();
    assert_clean_failure(
        &argen(&[
            "train",
            "--resume",
            no_state.to_str().unwrap(),
            "--epochs",
            "2",
        ]),
        "state.json",
    );
}
