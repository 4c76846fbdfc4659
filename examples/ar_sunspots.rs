//! AR(p) on the embedded yearly sunspot numbers: the order chosen by AIC among 0..=12 (all
//! orders fitted by least squares on the same observations, as statsmodels'
//! `ar_select_order`), the fit with its standard errors, and a 10-year forecast with 95%
//! intervals.
//!
//! `cargo run --release --example ar_sunspots`

use argen::classic::ar::{self, ArMethod, Criterion};
use argen::data::series::{LoadOptions, SeriesSource, load_real};

fn main() -> anyhow::Result<()> {
    let source: SeriesSource = "sunspots".parse()?;
    let series = load_real(&source, LoadOptions::default())?;
    let train = &series.values[..series.values.len() - 10];

    let selection = ar::select_order(train, 12, Criterion::Aic)?;
    for s in &selection.scores {
        println!("AR({:>2}): AIC {:8.2}  BIC {:8.2}", s.order, s.aic, s.bic);
    }
    let model = ar::fit(train, selection.best, ArMethod::Ols)?;
    println!("chosen: AR({}), σ² = {:.2}", model.order(), model.sigma2);
    println!(
        "intercept {:.3} ± {:.3}",
        model.intercept, model.std_errors[0]
    );
    for (i, (a, se)) in model.coefs.iter().zip(&model.std_errors[1..]).enumerate() {
        println!("a_{:<2} {a:7.3} ± {se:.3}", i + 1);
    }

    let dates = series.dates.clone().unwrap_or_default();
    for (h, f) in model.forecast_dynamic(train, 10).iter().enumerate() {
        let t = train.len() + h;
        let (lo, hi) = f.interval(0.95);
        println!(
            "{}: forecast {:6.1}  95% [{lo:6.1}, {hi:6.1}]  observed {:6.1}",
            dates.get(t).map_or("?", String::as_str),
            f.mean,
            series.values[t]
        );
    }
    Ok(())
}
