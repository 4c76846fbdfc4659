//! ARX through the `argen` binary: fit → eval → forecast on the stocks fixture, the printed
//! coefficients equal the library's statsmodels-checked ones, and bad input (a missing or
//! bad covariate column, a horizon past the future covariates, options that do not apply)
//! is a clear error with exit code 1 that leaves saved runs untouched.

use std::path::{Path, PathBuf};

mod common;
use common::{argen, assert_clean_failure, stderr};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arx/stocks_wide.csv")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `text` with the cell of 1-based line `line` and 0-based field `field` replaced.
fn edit(text: &str, line: usize, field: usize, value: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let row = lines[line - 1].clone();
    let mut cells: Vec<&str> = row.split(',').collect();
    cells[field] = value;
    lines[line - 1] = cells.join(",");
    lines.join("\n") + "\n"
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A small file with target `y`, covariates `a` and `b`, and `future` rows without `y`.
fn small_csv(future: usize) -> String {
    let mut text = String::from("date,y,a,b\n");
    let mut y = 0.0f64;
    for t in 0..40 + future {
        let a = (t as f64 * 0.9).sin();
        let b = ((t * 37 % 11) as f64) / 11.0;
        y = 0.4 * y + 1.5 * a - b + 0.1 * (((t * 7919) % 17) as f64 - 8.0) / 8.0;
        if t < 40 {
            text.push_str(&format!("{t},{y},{a},{b}\n"));
        } else {
            text.push_str(&format!("{t},,{a},{b}\n"));
        }
    }
    text
}

#[test]
fn fit_eval_forecast_an_arx_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("arx");
    let r = run.to_str().unwrap();
    let data = format!("csv:{}:IBM", fixture().display());
    let out = argen(&[
        "fit",
        "ar",
        "--data",
        &data,
        "--covariates",
        "MSFT,AAPL",
        "--order",
        "2",
        "--holdout",
        "0",
        "--out",
        r,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    println!("{shown}");
    // statsmodels' params (bench/arx_reference.py), as printed to 6-8 decimals.
    for piece in [
        "ARX(2) by OLS",
        "117 training values, 0 held out, 6 future rows",
        "c   =     7.522066 (se 5.088537)",
        "a_1 =   0.72019763 (se 0.089809)",
        "b_MSFT =   0.64863764 (se 0.179783)",
        "b_AAPL =   0.04021177 (se 0.013788)",
        "sigma^2 = 43.741801",
        "-380.4304 over 115 steps",
        "AIC 772.8608, BIC 789.3304",
    ] {
        assert!(shown.contains(piece), "missing `{piece}` in:\n{shown}");
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("classic.json")).unwrap()).unwrap();
    assert_eq!(saved["model"]["kind"], "arx");
    assert_eq!(
        saved["model"]["covariates"],
        serde_json::json!(["MSFT", "AAPL"])
    );

    let out = argen(&["eval", r, "--split", "train", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "arx");
    assert_eq!(v["metrics"]["steps"], 115);
    let ll = v["metrics"]["log_likelihood"].as_f64().unwrap();
    assert!((ll - -380.4304226479122).abs() < 1e-6, "{ll}");

    // The 6 future rows: forecasts from the target's end equal statsmodels'.
    let out = argen(&["forecast", r, "--origin", "117", "--horizon", "6"]);
    assert!(out.status.success(), "{}", stderr(&out));
    println!("{}", stdout(&out));
    let csv = std::fs::read_to_string(run.join("forecast.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 7);
    assert!(
        rows[1].starts_with("117,Oct 1 2009,,117.733103582"),
        "{}",
        rows[1]
    );
    assert!(
        rows[6].starts_with("122,Mar 1 2010,,120.999624923"),
        "{}",
        rows[6]
    );
    // One step further has no covariates: the error names the file and its future rows.
    let before = std::fs::read(run.join("forecast.csv")).unwrap();
    let out = argen(&["forecast", r, "--origin", "117", "--horizon", "7"]);
    assert_clean_failure(&out, "6 future rows");
    assert_clean_failure(&out, "stocks_wide.csv");
    assert_clean_failure(&out, "at most --horizon 6");
    assert_eq!(std::fs::read(run.join("forecast.csv")).unwrap(), before);
    let out = argen(&["sample", r]);
    assert_clean_failure(&out, "does not simulate ARX");
}

#[test]
fn a_held_out_part_and_order_selection_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "s.csv", &small_csv(5));
    let run = dir.path().join("sel");
    let r = run.to_str().unwrap();
    let out = argen(&[
        "fit",
        "ar",
        "--data",
        &format!("csv:{file}:y"),
        "--covariates",
        "a, b",
        "--max-order",
        "3",
        "--criterion",
        "bic",
        "--out",
        r,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(shown.contains("order chosen by BIC over 0..=3"), "{shown}");
    assert!(
        shown.contains("32 training values, 8 held out, 5 future rows"),
        "{shown}"
    );
    let out = argen(&["eval", r, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["metrics"]["steps"], 8);
    // From the end of the training part: 8 observed steps and the 5 future ones.
    let out = argen(&["forecast", r, "--horizon", "13", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(run.join("forecast.csv")).unwrap();
    assert_eq!(csv.lines().count(), 14);
    let out = argen(&["forecast", r, "--horizon", "14"]);
    assert_clean_failure(&out, "5 future rows");
    // The file may gain future rows after the fit; the target must keep its length.
    std::fs::write(&file, small_csv(9)).unwrap();
    let out = argen(&["forecast", r, "--horizon", "14", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn bad_covariate_input_is_a_clear_error_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = small_csv(2);
    // Row 4 (line 5): b is NaN; row 7 (line 8): a is text; row 10 (line 11): the target is
    // empty, but later rows have it.
    let nan = edit(&good, 5, 3, "NaN");
    let text = edit(&good, 8, 2, "high");
    let gap = edit(&good, 11, 1, "");
    let cases: [(&str, &str, &str, &[&str]); 6] = [
        (
            "missing.csv",
            &good,
            "a,c",
            &["no column named 'c'", "date, y, a, b", "missing.csv"],
        ),
        (
            "nan.csv",
            &nan,
            "a,b",
            &[
                "row 4 (line 5), column 'b'",
                "'NaN' is not a finite number",
                "nan.csv",
            ],
        ),
        (
            "text.csv",
            &text,
            "a,b",
            &["row 7 (line 8), column 'a'", "'high'", "text.csv"],
        ),
        (
            "gap.csv",
            &gap,
            "a,b",
            &[
                "row 10 (line 11), column 'y'",
                "the target is empty, but later rows",
            ],
        ),
        ("target.csv", &good, "a,y", &["'y' is the target column"]),
        (
            "header.csv",
            "date,y,a,b\n",
            "a,b",
            &["no rows below the header"],
        ),
    ];
    for (name, body, covariates, phrases) in cases {
        let file = write(d, name, body);
        let run = d.join(format!("run-{name}"));
        let out = argen(&[
            "fit",
            "ar",
            "--data",
            &format!("csv:{file}:y"),
            "--covariates",
            covariates,
            "--order",
            "1",
            "--out",
            run.to_str().unwrap(),
        ]);
        for phrase in phrases {
            assert_clean_failure(&out, phrase);
        }
        assert!(
            !run.exists(),
            "{name}: a failed fit wrote {}",
            run.display()
        );
    }
}

#[test]
fn covariates_where_they_do_not_apply_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = write(d, "s.csv", &small_csv(2));
    let run = d.join("r");
    let r = run.to_str().unwrap();
    let fit = |extra: &[&str]| {
        let mut args = vec!["fit"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", r]);
        argen(&args)
    };
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "ar",
                "--data",
                "sunspots",
                "--covariates",
                "a",
                "--order",
                "1",
            ],
            "not a CSV source",
        ),
        (
            &[
                "ar",
                "--data",
                "stocks:IBM",
                "--covariates",
                "MSFT",
                "--order",
                "1",
            ],
            "needs --data csv:FILE:TARGET",
        ),
        (
            &[
                "markov",
                "--data",
                &format!("csv:{file}:y"),
                "--covariates",
                "a",
                "--order",
                "1",
            ],
            "a Markov chain takes none",
        ),
        (
            &[
                "ar",
                "--data",
                &format!("csv:{file}:y"),
                "--covariates",
                "a",
                "--order",
                "1",
                "--method",
                "burg",
            ],
            "least squares only",
        ),
        (
            &[
                "ar",
                "--data",
                &format!("csv:{file}:y"),
                "--covariates",
                "a",
                "--order",
                "1",
                "--skip-missing",
            ],
            "--skip-missing does not apply",
        ),
    ];
    for (args, phrase) in cases {
        assert_clean_failure(&fit(args), phrase);
        assert!(!run.exists());
    }
    // A run that exists already is left as it was.
    let out = fit(&[
        "ar",
        "--data",
        &format!("csv:{file}:y"),
        "--covariates",
        "a",
        "--order",
        "1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let saved = std::fs::read(run.join("classic.json")).unwrap();
    let out = fit(&[
        "ar",
        "--data",
        &format!("csv:{file}:y"),
        "--covariates",
        "b",
        "--order",
        "2",
    ]);
    assert_clean_failure(&out, "already holds a run");
    assert_eq!(std::fs::read(run.join("classic.json")).unwrap(), saved);
}
