//! Sequence data: the sources, the held-out split, and the errors a user sees for bad CSV
//! input (through the library and through the `argen` binary: exit 1, never a panic). Also
//! the classical commands end to end: fit → eval → forecast → sample.

use std::path::Path;

use argen::data::series::{
    LoadOptions, SeriesData, SeriesSource, load_real, load_series, parse_csv_column, sine,
    split_point,
};

mod common;
use common::{argen, assert_clean_failure, stderr};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn sources_parse_and_print_back() {
    for s in [
        "sunspots",
        "sine",
        "stocks:MSFT",
        "text:/a/b.txt",
        "csv:/x:y/z.csv:price",
    ] {
        let source: SeriesSource = s.parse().unwrap();
        assert_eq!(source.to_string(), s);
    }
    assert_eq!(
        "csv:/x:y/z.csv:price".parse::<SeriesSource>().unwrap(),
        SeriesSource::Csv {
            path: "/x:y/z.csv".into(),
            column: "price".into()
        }
    );
    assert!(
        "stocks:XYZ"
            .parse::<SeriesSource>()
            .unwrap_err()
            .to_string()
            .contains("XYZ")
    );
    assert!("csv:file.csv".parse::<SeriesSource>().is_err());
    assert!("mnist".parse::<SeriesSource>().is_err());
}

#[test]
fn embedded_series_have_their_dates() {
    let s = load_real(&SeriesSource::Sunspots, LoadOptions::default()).unwrap();
    assert_eq!(s.values.len(), 309);
    let dates = s.dates.unwrap();
    assert_eq!((dates[0].as_str(), dates[308].as_str()), ("1700", "2008"));
    assert_eq!(s.values[..3], [5.0, 11.0, 16.0]);
    let m = load_real(&"stocks:msft".parse().unwrap(), LoadOptions::default()).unwrap();
    assert_eq!(m.values.len(), 123);
    assert_eq!(m.values[0], 39.81);
    assert_eq!(m.dates.unwrap()[0], "Jan 1 2000");
    let g = load_real(&"stocks:GOOG".parse().unwrap(), LoadOptions::default()).unwrap();
    assert_eq!(g.values.len(), 68);
}

#[test]
fn sine_is_seeded_with_the_stated_noise() {
    let x = sine(1000, 0);
    assert_eq!(x, sine(1000, 0));
    assert_ne!(x, sine(1000, 1));
    let resid: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(t, v)| v - (0.01 * t as f64).sin())
        .collect();
    let mean = resid.iter().sum::<f64>() / 1000.0;
    let sd = (resid.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / 999.0).sqrt();
    assert!(mean.abs() < 0.03, "{mean}");
    assert!((sd - 0.2).abs() < 0.02, "{sd}");
    let s = load_real(
        &SeriesSource::Sine,
        LoadOptions {
            skip_missing: false,
            seed: 0,
        },
    )
    .unwrap();
    assert_eq!(s.values, x);
}

#[test]
fn text_is_read_as_characters_with_a_sorted_alphabet() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "t.txt", "abcab é");
    let SeriesData::Symbols(s) =
        load_series(&SeriesSource::Text(file.into()), LoadOptions::default()).unwrap()
    else {
        panic!("expected symbols")
    };
    assert_eq!(s.alphabet, vec![' ', 'a', 'b', 'c', 'é']);
    assert_eq!(s.symbols, vec![1, 2, 3, 1, 2, 0, 4]);
    let empty = write(dir.path(), "e.txt", "");
    assert!(load_series(&SeriesSource::Text(empty.into()), LoadOptions::default()).is_err());
}

#[test]
fn csv_columns_dates_and_missing_values() {
    let text = "date,price,volume\n2020-01,1.5,10\n2020-02,,11\n\n2020-03,2.5,12\n";
    let err = parse_csv_column(text, "price", "f.csv", LoadOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("row 2") && msg.contains("missing") && msg.contains("f.csv"),
        "{msg}"
    );
    let (v, d) = parse_csv_column(
        text,
        "price",
        "f.csv",
        LoadOptions {
            skip_missing: true,
            seed: 0,
        },
    )
    .unwrap();
    assert_eq!(v, vec![1.5, 2.5]);
    assert_eq!(d.unwrap(), vec!["2020-01", "2020-03"]);
    let (v, _) = parse_csv_column(text, "volume", "f.csv", LoadOptions::default()).unwrap();
    assert_eq!(v, vec![10.0, 11.0, 12.0]);
    let nan = "v\n1\nNaN\n";
    assert!(
        parse_csv_column(nan, "v", "n.csv", LoadOptions::default())
            .unwrap_err()
            .to_string()
            .contains("row 2")
    );
    let word = "v\n1\nabc\n";
    let msg = parse_csv_column(word, "v", "w.csv", LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("row 2") && msg.contains("'abc'") && msg.contains("not a"),
        "{msg}"
    );
    let msg = parse_csv_column(word, "x", "w.csv", LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("no column named 'x'") && msg.contains("v"),
        "{msg}"
    );
    assert!(parse_csv_column("", "v", "e.csv", LoadOptions::default()).is_err());
    assert!(parse_csv_column("v\n", "v", "e.csv", LoadOptions::default()).is_err());
}

#[test]
fn held_out_split_is_the_last_fifth() {
    assert_eq!(split_point(309, 0.2), 247);
    assert_eq!(split_point(1000, 0.2), 800);
}

#[test]
fn bad_csv_input_gives_a_clear_error_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("empty.csv", "", "is empty"),
        ("nan.csv", "v\n1\n2\nNaN\n4\n", "row 3"),
        ("text.csv", "v\n1\n2\nhello\n4\n", "'hello'"),
        ("short.csv", "v\n1\n2\n3\n4\n5\n6\n", "too few"),
    ];
    for (name, text, phrase) in cases {
        let file = write(d, name, text);
        let run = d.join(format!("run-{name}"));
        let out = argen(&[
            "fit",
            "ar",
            "--data",
            &format!("csv:{file}:v"),
            "--order",
            "4",
            "--holdout",
            "0",
            "--out",
            run.to_str().unwrap(),
        ]);
        assert_clean_failure(&out, phrase);
    }
    let out = argen(&["fit", "ar", "--data", "csv:/no/such.csv:v", "--order", "1"]);
    assert_clean_failure(&out, "cannot read");
    let out = argen(&["fit", "ar", "--data", "stocks:XYZ", "--order", "1"]);
    assert_clean_failure(&out, "unknown stock symbol");
    // --skip-missing drops the bad row instead.
    let file = write(d, "skip.csv", "v\n1\n2\nNaN\n4\n5\n3\n2\n4\n5\n1\n2\n");
    let run = d.join("skip");
    let out = argen(&[
        "fit",
        "ar",
        "--data",
        &format!("csv:{file}:v"),
        "--order",
        "1",
        "--skip-missing",
        "--holdout",
        "0",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn fit_eval_forecast_sample_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("ar");
    let r = run.to_str().unwrap();
    let out = argen(&[
        "fit",
        "ar",
        "--data",
        "sunspots",
        "--max-order",
        "8",
        "--criterion",
        "bic",
        "--method",
        "burg",
        "--out",
        r,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(run.join("classic.json").exists());
    let out = argen(&["eval", r, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "classic");
    assert_eq!(v["dims"], 62);
    assert_eq!(v["metrics"]["steps"], 62);
    assert!(v["nats_per_dim"].as_f64().unwrap() > 3.0);
    let out = argen(&["forecast", r, "--horizon", "12", "--quiet"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(run.join("forecast.csv")).unwrap();
    assert_eq!(csv.lines().count(), 13);
    assert!(csv.lines().nth(1).unwrap().starts_with("247,1947,"));
    assert!(std::fs::metadata(run.join("forecast.png")).unwrap().len() > 10_000);
    let out = argen(&["sample", r, "--length", "40", "--seed", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(run.join("sample.csv"))
            .unwrap()
            .lines()
            .count(),
        41
    );
    assert_clean_failure(&argen(&["forecast", r, "--horizon", "0"]), "--horizon");
    assert_clean_failure(&argen(&["forecast", r, "--origin", "1000"]), "--origin");

    let text = dir.path().join("t.txt");
    std::fs::write(
        &text,
        "the cat sat on the mat. the dog sat on the log. ".repeat(20),
    )
    .unwrap();
    let chain = dir.path().join("chain");
    let c = chain.to_str().unwrap();
    let out = argen(&[
        "fit",
        "markov",
        "--data",
        &format!("text:{}", text.display()),
        "--order",
        "3",
        "--out",
        c,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = argen(&["sample", c, "--length", "100", "--seed", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sampled = String::from_utf8(out.stdout).unwrap();
    assert_eq!(sampled.trim_end_matches('\n').chars().count(), 103);
    assert!(sampled.chars().all(|ch| "the catsondg.ml\n".contains(ch)));
    let out = argen(&["eval", c]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("perplexity"));
    let out = argen(&["forecast", c, "--horizon", "5", "--within", "."]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("most likely continuation"), "{shown}");
    let csv = std::fs::read_to_string(chain.join("forecast.csv")).unwrap();
    // One row per (step, symbol): 5 steps x the 14 distinct characters of the text.
    assert_eq!(csv.lines().count(), 1 + 5 * 14);
    let step1: f64 = csv
        .lines()
        .skip(1)
        .take(14)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((step1 - 1.0).abs() < 1e-12);
    assert_clean_failure(&argen(&["forecast", c, "--within", "xyz"]), "one character");
    let big = dir.path().join("big");
    let out = argen(&[
        "fit",
        "markov",
        "--data",
        &format!("text:{}", text.display()),
        "--order",
        "8",
        "--out",
        big.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_clean_failure(&argen(&["forecast", big.to_str().unwrap()]), "too many");
    assert_clean_failure(
        &argen(&[
            "fit", "markov", "--data", "sunspots", "--order", "20", "--bins", "1000",
        ]),
        "too large",
    );
}
