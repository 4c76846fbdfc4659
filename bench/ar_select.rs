//! Rust side of the AR order-selection benchmark (bench/classic.sh): reads column `x` of a
//! CSV, then times `select_order(x, 40, Aic)` followed by `fit_ols(x, chosen)`. Prints one
//! JSON line. Usage: `cargo bench --bench ar_select -- FILE.csv`.

use argen::classic::ar::{self, Criterion};
use argen::data::series::{LoadOptions, SeriesSource, load_real};

fn main() {
    let file = std::env::args()
        .skip(1)
        .find(|a| a != "--bench")
        .unwrap_or_else(|| "/tmp/argen-bench/ar100k.csv".into());
    let source: SeriesSource = format!("csv:{file}:x").parse().expect("a CSV source");
    let x = load_real(&source, LoadOptions::default())
        .expect("the benchmark CSV (run bench/make_classic_data.py first)")
        .values;
    let start = std::time::Instant::now();
    let selection = ar::select_order(&x, 40, Criterion::Aic).expect("selection");
    let model = ar::fit_ols(&x, selection.best).expect("fit");
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{{\"seconds\": {seconds}, \"order\": {}, \"a1\": {}}}",
        selection.best, model.coefs[0]
    );
}
