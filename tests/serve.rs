//! `argen serve` through real HTTP on 127.0.0.1: every API call's answers, a streamed
//! sample equal to `argen sample`'s, completions that keep what they are told to keep,
//! receptive fields with and without a blind spot, the token, and bad requests that get a
//! 4xx while the server keeps serving.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::argen_ok;
use serde_json::{Value, json};

/// A folder with trained runs, made once for the whole file: a Gated PixelCNN and a PixelCNN
/// on the digits (2 small epochs each), and an AR fit of the sunspots.
fn runs() -> &'static Path {
    static RUNS: OnceLock<PathBuf> = OnceLock::new();
    RUNS.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-runs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let small = [
            "--epochs",
            "2",
            "--channels",
            "16",
            "--layers",
            "3",
            "--head",
            "32",
        ];
        let gated = dir.join("digits");
        let mut args = vec!["train", "--out", gated.to_str().unwrap()];
        args.extend(small);
        argen_ok(&args, &dir);
        let pixelcnn = dir.join("pixelcnn");
        let mut args = vec![
            "train",
            "--model",
            "pixelcnn",
            "--first-kernel",
            "3",
            "--out",
            pixelcnn.to_str().unwrap(),
        ];
        args.extend(small);
        argen_ok(&args, &dir);
        let text = dir.join("text.txt");
        std::fs::write(
            &text,
            "the cat sat on the mat. the dog sat on the log.\n".repeat(40),
        )
        .unwrap();
        let data = format!("text:{}", text.display());
        let lstm = dir.join("seq/text-lstm");
        argen_ok(
            &[
                "train",
                "--model",
                "lstm",
                "--hidden",
                "16",
                "--data",
                &data,
                "--epochs",
                "1",
                "--out",
                lstm.to_str().unwrap(),
            ],
            &dir,
        );
        let wavenet = dir.join("seq/sine-wavenet");
        argen_ok(
            &[
                "train",
                "--model",
                "wavenet",
                "--hidden",
                "8",
                "--data",
                "sine",
                "--epochs",
                "1",
                "--out",
                wavenet.to_str().unwrap(),
            ],
            &dir,
        );
        let ar = dir.join("fits/sunspots");
        argen_ok(
            &[
                "fit",
                "ar",
                "--data",
                "sunspots",
                "--order",
                "9",
                "--out",
                ar.to_str().unwrap(),
            ],
            &dir,
        );
        dir
    })
}

/// A running `argen serve`, stopped when dropped.
struct Server {
    child: Child,
    base: String,
    /// The server's standard output, kept open while it runs.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Server {
    /// Serves `runs` on a free loopback port, with `token` in ARGEN_SERVE_TOKEN.
    fn start(runs: &Path, token: Option<&str>) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_argen"));
        command
            .args([
                "serve",
                "--runs",
                runs.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env_remove("ARGEN_SERVE_TOKEN");
        if let Some(token) = token {
            command.env("ARGEN_SERVE_TOKEN", token);
        }
        let mut child = command.spawn().expect("argen serve starts");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server {
            child,
            base: format!("http://{address}"),
            _stdout: stdout,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns 4xx and 5xx answers instead of failing on them.
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// GET: the status and the JSON answer.
fn get(server: &Server, path: &str) -> (u16, Value) {
    let mut answer = client().get(server.url(path)).call().unwrap();
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// POST of raw bytes: the status and the JSON answer.
fn post(server: &Server, path: &str, body: &[u8]) -> (u16, Value) {
    let mut answer = client()
        .post(server.url(path))
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    let status = answer.status().as_u16();
    let text = answer.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The events of a server-sent event stream, `(name, data)`, until `stop` says so or the
/// stream ends.
fn events(
    server: &Server,
    path: &str,
    mut stop: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, Value)> {
    let answer = client().get(server.url(path)).call().unwrap();
    assert_eq!(answer.status().as_u16(), 200, "{path}");
    let reader = BufReader::new(answer.into_body().into_reader());
    let mut out = Vec::new();
    let mut name = String::new();
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("event: ") {
            name = n.to_string();
        } else if let Some(data) = line.strip_prefix("data: ") {
            let value: Value = serde_json::from_str(data).unwrap();
            let done = stop(&name, &value);
            out.push((name.clone(), value));
            if done {
                break;
            }
        }
    }
    out
}

#[test]
fn every_call_answers_about_the_runs_of_the_folder() {
    let server = Server::start(runs(), None);
    let (status, page) = {
        let mut answer = client().get(server.url("/")).call().unwrap();
        (
            answer.status().as_u16(),
            answer.body_mut().read_to_string().unwrap(),
        )
    };
    assert_eq!(status, 200);
    assert!(page.contains("<script src=\"app.js\">"));
    for asset in ["/app.js", "/style.css"] {
        let answer = client().get(server.url(asset)).call().unwrap();
        assert_eq!(answer.status().as_u16(), 200, "{asset}");
    }

    let (status, list) = get(&server, "/api/runs");
    assert_eq!(status, 200);
    let names: Vec<&str> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "digits",
            "fits/sunspots",
            "pixelcnn",
            "seq/sine-wavenet",
            "seq/text-lstm"
        ]
    );
    let digits = &list["runs"][0];
    assert_eq!(digits["kind"], "image");
    assert_eq!(digits["model"], "gated-pixelcnn");
    assert_eq!(digits["epochs_done"], 2);
    assert_eq!(digits["shape"]["height"], 8);
    assert_eq!(list["runs"][1]["views"], json!(["forecast"]));

    let (status, run) = get(&server, "/api/run?run=digits");
    assert_eq!(status, 200);
    assert!(run["parameters"].as_u64().unwrap() > 1000);
    assert_eq!(run["metrics"]["rows"].as_array().unwrap().len(), 2);
    assert_eq!(run["metrics"]["header"][0], "epoch");

    // The test NLL is argen eval's.
    let (status, report) = get(&server, "/api/eval?run=digits");
    assert_eq!(status, 200);
    let eval = argen_ok(
        &["eval", runs().join("digits").to_str().unwrap(), "--json"],
        runs(),
    );
    let cli: Value = serde_json::from_slice(&eval.stdout).unwrap();
    let (served, printed) = (
        report["bits_per_dim"].as_f64().unwrap(),
        cli["bits_per_dim"].as_f64().unwrap(),
    );
    assert!(
        (served - printed).abs() < 1e-9,
        "{served} against {printed}"
    );
    assert_eq!(report["examples"], 447);

    let (status, images) = get(&server, "/api/test-images?run=digits&n=3");
    assert_eq!(status, 200);
    assert_eq!(images["images"].as_array().unwrap().len(), 3);
    assert_eq!(images["images"][0].as_array().unwrap().len(), 64);

    // The AR fit's forecast: exact Gaussian intervals that widen with the horizon.
    let (status, forecast) = get(&server, "/api/forecast?run=fits/sunspots&horizon=12");
    assert_eq!(status, 200, "{forecast}");
    let width =
        |i: usize| forecast["hi"][i].as_f64().unwrap() - forecast["lo"][i].as_f64().unwrap();
    assert_eq!(forecast["mean"].as_array().unwrap().len(), 12);
    assert!(width(11) > width(0), "{forecast}");
    // An image run has none.
    let (status, error) = get(&server, "/api/forecast?run=digits");
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("AR fits"));
}

#[test]
fn a_streamed_sample_equals_argen_sample_for_the_same_seed() {
    let server = Server::start(runs(), None);
    let stream = events(
        &server,
        "/api/sample/stream?run=digits&n=4&seed=7",
        |name, _| name == "done" || name == "error",
    );
    let start = &stream[0].1;
    assert_eq!(stream[0].0, "start");
    assert_eq!(start["images"], 4);
    let (last, done) = stream.last().unwrap();
    assert_eq!(last, "done", "{done}");
    let levels: Vec<u8> = done["levels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(levels.len(), 4 * 64);

    // The steps, value by value, build the same images: 64 steps of 4 levels each.
    let steps: Vec<&Value> = stream
        .iter()
        .filter(|(n, _)| n == "step")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(steps.len(), 64);
    let mut rebuilt = vec![255u8; 4 * 64];
    for (k, step) in steps.iter().enumerate() {
        let (row, col) = (step["row"].as_u64().unwrap(), step["col"].as_u64().unwrap());
        assert_eq!((row * 8 + col) as usize, k, "raster order");
        for (i, level) in step["levels"].as_array().unwrap().iter().enumerate() {
            let image = step["first"].as_u64().unwrap() as usize + i;
            rebuilt[image * 64 + (row * 8 + col) as usize] = level.as_u64().unwrap() as u8;
        }
    }
    assert_eq!(rebuilt, levels);

    // argen sample's grid of the same run and seed, pixel for pixel.
    let png = runs().join("sample-seed7.png");
    argen_ok(
        &[
            "sample",
            runs().join("digits").to_str().unwrap(),
            "--n",
            "4",
            "--seed",
            "7",
            "--out",
            png.to_str().unwrap(),
        ],
        runs(),
    );
    let expected = image::open(&png).unwrap().to_rgb8();
    let samples = argen::run::ImageSamples {
        levels,
        shape: argen::viz::ImageShape {
            colours: 1,
            height: 8,
            width: 8,
            levels: 17,
        },
        columns: start["columns"].as_u64().unwrap() as usize,
    };
    assert_eq!(samples.grid(), expected);
    std::fs::remove_file(png).unwrap();

    // Another seed draws other images.
    let other = events(
        &server,
        "/api/sample/stream?run=digits&n=4&seed=8",
        |n, _| n == "done",
    );
    assert_ne!(other.last().unwrap().1["levels"], done["levels"]);
}

#[test]
fn completions_keep_the_kept_values_and_draw_the_others() {
    let server = Server::start(runs(), None);
    let (_, images) = get(&server, "/api/test-images?run=digits&n=1");
    let image = images["images"][0].clone();
    // Keep a checkerboard of columns 0..4 and everything of rows 6 and 7; draw the rest.
    let kept: Vec<bool> = (0..64)
        .map(|i| (i / 8 >= 6) || ((i % 8) < 4 && (i / 8 + i % 8) % 2 == 0))
        .collect();
    let body = json!({"run": "digits", "image": image, "kept": kept, "samples": 6, "seed": 3});
    let (status, answer) = post(&server, "/api/complete", body.to_string().as_bytes());
    assert_eq!(status, 200, "{answer}");
    let completions = answer["completions"].as_array().unwrap();
    assert_eq!(completions.len(), 6);
    for completion in completions {
        for (i, &keep) in kept.iter().enumerate() {
            if keep {
                assert_eq!(completion[i], image[i], "kept value {i} changed");
            }
        }
    }
    // The drawn values differ between completions (28 values of 17 levels each).
    let drawn = |c: &Value| -> Vec<u64> {
        (0..64)
            .filter(|&i| !kept[i])
            .map(|i| c[i].as_u64().unwrap())
            .collect()
    };
    assert_ne!(drawn(&completions[0]), drawn(&completions[1]));

    // Keeping the top rows is argen complete's completion of the same test image.
    let body = json!({"run": "digits", "test_index": 0, "rows": 4, "samples": 2, "seed": 5});
    let (status, answer) = post(&server, "/api/complete", body.to_string().as_bytes());
    assert_eq!(status, 200, "{answer}");
    let top: Vec<&Value> = answer["completions"][1].as_array().unwrap()[..32]
        .iter()
        .collect();
    let original: Vec<&Value> = image.as_array().unwrap()[..32].iter().collect();
    assert_eq!(top, original);
}

#[test]
fn receptive_fields_show_the_pixelcnn_blind_spot_and_no_leak() {
    let server = Server::start(runs(), None);
    let field = |run: &str| {
        let body = json!({"run": run, "row": 5, "col": 2});
        let (status, answer) = post(&server, "/api/receptive-field", body.to_string().as_bytes());
        assert_eq!(status, 200, "{answer}");
        answer
    };
    let gated = field("digits");
    assert_eq!(
        gated["blind_spot"],
        json!([]),
        "the Gated PixelCNN has no blind spot"
    );
    assert_eq!(gated["leaks"], json!([]));
    let influence = gated["field"]["influence"].as_array().unwrap();
    // Nothing at or after the target pixel (5, 4) in raster order is read.
    for (i, v) in influence.iter().enumerate() {
        if i >= 5 * 8 + 2 {
            assert_eq!(v.as_f64().unwrap(), 0.0, "pixel {i} after the target");
        }
    }
    assert!(
        influence[4 * 8 + 4].as_f64().unwrap() > 0.0,
        "the pixel above"
    );
    let masked = field("pixelcnn");
    assert!(
        !masked["blind_spot"].as_array().unwrap().is_empty(),
        "the PixelCNN's blind spot: {}",
        masked["blind_spot"]
    );
    assert_eq!(masked["leaks"], json!([]));
}

#[test]
fn bad_requests_get_a_4xx_with_a_json_error_and_the_server_keeps_serving() {
    // A folder with one run inside and a link to a run outside it.
    let outside = tempfile::tempdir().unwrap();
    let served = tempfile::tempdir().unwrap();
    let copy = |to: &Path| {
        std::fs::create_dir_all(to).unwrap();
        std::fs::copy(
            runs().join("fits/sunspots/classic.json"),
            to.join("classic.json"),
        )
        .unwrap();
    };
    copy(&served.path().join("inside"));
    copy(&outside.path().join("secret"));
    std::os::unix::fs::symlink(outside.path().join("secret"), served.path().join("link")).unwrap();
    std::os::unix::fs::symlink(outside.path(), served.path().join("door")).unwrap();

    let server = Server::start(served.path(), None);
    let (_, list) = get(&server, "/api/runs");
    assert_eq!(list["runs"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["runs"][0]["name"], "inside");

    let escape = outside.path().join("secret");
    let absolute = escape.to_str().unwrap();
    for (path, status) in [
        ("/api/run?run=inside", 200),
        ("/api/run?run=nothing", 404),
        ("/api/run?run=../x", 404),
        ("/api/run?run=inside/..", 404),
        ("/api/run?run=%2e%2e%2finside", 404),
        ("/api/run?run=..%2F..%2Fetc", 404),
        ("/api/run?run=link", 404),
        ("/api/run?run=door/secret", 404),
        (&format!("/api/run?run={absolute}"), 404),
        ("/api/run", 400),
        ("/api/run?run=inside&n=x", 200),
        ("/api/sample/stream?run=inside", 400),
        ("/api/sample/stream?run=inside&n=1000000", 400),
        ("/api/sample/stream?run=inside&n=-1", 400),
        ("/api/test-images?run=inside&n=99999", 400),
        ("/api/forecast?run=inside&horizon=100000000", 400),
        ("/api/forecast?run=inside&paths=0", 400),
        ("/api/forecast?run=inside&level=2", 400),
        ("/api/sequence/sample?run=inside", 400),
        ("/api/no-such-call", 404),
        ("/no-such-page", 404),
    ] {
        let (got, answer) = get(&server, path);
        assert_eq!(got, status, "{path}: {answer}");
        if status >= 400 {
            assert!(answer["error"].is_string(), "{path}: {answer}");
        }
    }
    for (body, status) in [
        (&b"{not json"[..], 400),
        (b"[]", 400),
        (br#"{"run": "inside", "row": 0, "col": 0}"#, 400),
        (br#"{"run": "../inside", "row": 0, "col": 0}"#, 404),
        (br#"{"run": "inside", "row": 0, "col": 0, "extra": 1}"#, 400),
    ] {
        let (got, answer) = post(&server, "/api/receptive-field", body);
        assert_eq!(got, status, "{}: {answer}", String::from_utf8_lossy(body));
        assert!(answer["error"].is_string());
    }
    // The smallest body over the bound (256 KiB). The server stops reading there, so a
    // larger body would leave bytes unread and the connection could be reset before the
    // client reads the answer.
    let over = vec![b' '; 256 * 1024 + 1];
    let (got, answer) = post(&server, "/api/complete", &over);
    assert_eq!(got, 413, "{answer}");
    assert!(answer["error"].is_string(), "{answer}");

    // Wrong shapes against a real image run.
    let server = Server::start(runs(), None);
    for (body, phrase) in [
        (
            json!({"run": "digits", "image": vec![0; 10], "rows": 2}),
            "64",
        ),
        (
            json!({"run": "digits", "image": vec![99; 64], "rows": 2}),
            "level 99",
        ),
        (
            json!({"run": "digits", "image": vec![0; 64], "kept": vec![true; 3]}),
            "mask",
        ),
        (
            json!({"run": "digits", "test_index": 0, "rows": 9}),
            "height",
        ),
        (
            json!({"run": "digits", "test_index": 100000, "rows": 2}),
            "test split",
        ),
        (
            json!({"run": "digits", "test_index": 0, "rows": 2, "samples": 1000}),
            "samples",
        ),
        (json!({"run": "digits", "test_index": 0}), "kept"),
        (
            json!({"run": "digits", "test_index": 0, "rows": 2, "temperature": -1.0}),
            "temperature",
        ),
    ] {
        let (got, answer) = post(&server, "/api/complete", body.to_string().as_bytes());
        assert_eq!(got, 400, "{body}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(phrase), "{body}: {message}");
    }
    let (got, answer) = post(
        &server,
        "/api/receptive-field",
        json!({"run": "digits", "row": 8, "col": 0})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(got, 400, "{answer}");
    // Still serving.
    let (got, _) = get(&server, "/api/runs");
    assert_eq!(got, 200);
}

#[test]
fn a_token_guards_every_call_and_is_required_off_loopback() {
    let server = Server::start(runs(), Some("s3cret"));
    let call = |auth: Option<&str>, path: &str| {
        let mut request = client().get(server.url(path));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request.call().unwrap().status().as_u16()
    };
    assert_eq!(call(None, "/api/runs"), 401);
    assert_eq!(call(Some("Bearer wrong"), "/api/runs"), 401);
    assert_eq!(call(Some("Bearer s3cret"), "/api/runs"), 200);
    assert_eq!(call(None, "/api/runs?token=s3cret"), 200);
    assert_eq!(call(None, "/api/runs?token=s3cre"), 401);
    assert_eq!(call(None, "/api/run?run=../../etc&token=nope"), 401);
    // The page itself holds no data.
    assert_eq!(call(None, "/"), 200);

    let refused = Command::new(env!("CARGO_BIN_EXE_argen"))
        .args([
            "serve",
            "--runs",
            runs().to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
        ])
        .env_remove("ARGEN_SERVE_TOKEN")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ARGEN_SERVE_TOKEN"));
    let missing = Command::new(env!("CARGO_BIN_EXE_argen"))
        .args([
            "serve",
            "--runs",
            "/no/such/folder",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
}

#[test]
fn a_run_started_while_serving_appears_and_its_curve_grows() {
    let served = tempfile::tempdir().unwrap();
    let server = Server::start(served.path(), None);
    let (_, list) = get(&server, "/api/runs");
    assert_eq!(list["runs"], json!([]));

    let run = served.path().join("live");
    let mut training = Command::new(env!("CARGO_BIN_EXE_argen"))
        .args([
            "train",
            "--out",
            run.to_str().unwrap(),
            "--epochs",
            "5",
            "--channels",
            "8",
            "--layers",
            "2",
            "--head",
            "16",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, list) = get(&server, "/api/runs");
        if list["runs"].as_array().is_some_and(|r| r.len() == 1) {
            assert_eq!(list["runs"][0]["name"], "live");
            break;
        }
        assert!(Instant::now() < deadline, "the run never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The metrics stream sends the curve as it grows, epoch by epoch.
    let mut seen = Vec::new();
    events(&server, "/api/metrics/stream?run=live", |_, data| {
        let rows = data["rows"].as_array().unwrap().len();
        if seen.last() != Some(&rows) {
            seen.push(rows);
        }
        rows == 5 || Instant::now() > deadline
    });
    assert!(training.wait().unwrap().success());
    assert_eq!(seen.last(), Some(&5), "{seen:?}");
    assert!(seen.len() >= 2, "the curve arrived at once: {seen:?}");
    let mut body = String::new();
    std::fs::File::open(run.join("config.json"))
        .unwrap()
        .read_to_string(&mut body)
        .unwrap();
    assert!(body.contains("gated"));
}

#[test]
fn sequence_runs_draw_text_and_values_and_forecast_with_intervals() {
    let server = Server::start(runs(), None);
    let (status, text) = get(
        &server,
        "/api/sequence/sample?run=seq/text-lstm&n=3&length=30",
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(text["form"], "text");
    let texts = text["texts"].as_array().unwrap();
    assert_eq!(texts.len(), 3);
    for t in texts {
        let t = t.as_str().unwrap();
        assert_eq!(t.chars().count(), 30);
        assert!(
            t.chars()
                .all(|c| "the cat sat on the mat. the dog sat on the log.\n".contains(c)),
            "{t:?} holds characters outside the alphabet"
        );
    }
    let (status, values) = get(
        &server,
        "/api/sequence/sample?run=seq/sine-wavenet&n=2&length=16",
    );
    assert_eq!(status, 200, "{values}");
    assert_eq!(values["form"], "values");
    assert_eq!(values["rows"][1].as_array().unwrap().len(), 16);

    // A neural forecast: the quantiles of sampled paths bracket their mean, the same seed
    // gives the same forecast, and the held-out series is there to compare.
    let path = "/api/forecast?run=seq/sine-wavenet&horizon=20&paths=50&seed=4";
    let (status, forecast) = get(&server, path);
    assert_eq!(status, 200, "{forecast}");
    let series = |k: &str| -> Vec<f64> {
        forecast[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let (mean, lo, hi) = (series("mean"), series("lo"), series("hi"));
    assert_eq!(mean.len(), 20);
    for t in 0..20 {
        assert!(
            lo[t] <= mean[t] && mean[t] <= hi[t] && lo[t] < hi[t],
            "step {t}"
        );
    }
    assert_eq!(forecast["origin"], 600);
    assert_eq!(series("observed").len(), 1000);
    let (_, again) = get(&server, path);
    assert_eq!(again, forecast);
    // The text run has no real values to forecast.
    let (status, error) = get(&server, "/api/forecast?run=seq/text-lstm");
    assert_eq!(status, 400);
    assert!(
        error["error"].as_str().unwrap().contains("real-valued"),
        "{error}"
    );
}
