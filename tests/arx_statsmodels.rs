//! ARX against statsmodels 0.15.0 on a public series with exogenous columns: the monthly
//! IBM price with the MSFT and AAPL prices as covariates (tests/fixtures/arx/stocks_wide.csv,
//! made from the embedded data/stocks.csv by bench/arx_reference.py, which also printed
//! the reference values below). Also: a synthetic series whose value depends on its
//! covariate, where ARX recovers the coefficient and beats plain AR by far.

use std::path::Path;

use argen::classic::ar::{self, Criterion};
use argen::classic::arx::{self, ArxModel};
use argen::data::series::{CovariateSeries, load_csv_with_covariates, standard_normal};

fn stocks() -> CovariateSeries {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arx/stocks_wide.csv");
    load_csv_with_covariates(&path, "IBM", &["MSFT".to_string(), "AAPL".to_string()]).unwrap()
}

/// |got - want| ≤ tol · max(1, |want|): absolute for small values, relative for large ones.
fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn the_fixture_has_117_targets_and_6_future_rows() {
    let s = stocks();
    assert_eq!(s.target.len(), 117);
    assert_eq!(s.covariates.len(), 123);
    assert_eq!(s.future_rows(), 6);
    assert_eq!(s.columns, ["MSFT", "AAPL"]);
    assert_eq!(s.target[0], 100.52);
    assert_eq!(s.covariates[0], [39.81, 25.94]);
    assert_eq!(s.covariates[122], [28.8, 223.02]);
    let dates = s.dates.unwrap();
    assert_eq!(dates.len(), 123);
    assert_eq!(
        (dates[0].as_str(), dates[122].as_str()),
        ("Jan 1 2000", "Mar 1 2010")
    );
}

#[test]
fn arx2_matches_statsmodels_autoreg() {
    // AutoReg(ibm, lags=2, trend="c", exog=[MSFT, AAPL]).fit()
    let s = stocks();
    let m = arx::fit_arx(&s.target, &s.covariates, 2).unwrap();
    assert_close(
        &m.params(),
        &[
            7.522065973283279,
            0.7201976329270194,
            -0.004896353617099031,
            0.6486376395127466,
            0.040211773291631184,
        ],
        1e-6,
        "params (const, L1, L2, MSFT, AAPL)",
    );
    assert_close(
        &m.std_errors,
        &[
            5.08853717625582,
            0.08980879976356825,
            0.08598061911368725,
            0.17978254173192837,
            0.013788345370038377,
        ],
        1e-6,
        "bse",
    );
    assert_eq!(m.nobs(), 115);
    assert_close(&[m.sigma2], &[43.74180132832216], 1e-6, "sigma2");
    assert_close(
        &[m.fit_log_likelihood()],
        &[-380.4304226479122],
        1e-6,
        "llf",
    );
    // The sum of the per-step terms over the fitted sample is the same number.
    let (ll, steps) = m.log_likelihood(&s.target, &s.covariates, 0).unwrap();
    assert_eq!(steps, 115);
    assert_close(&[ll], &[-380.4304226479122], 1e-6, "llf as a sum");
    // statsmodels' AutoRegResults.aic/.bic count σ² as a parameter: k + 1 = 6.
    assert_close(&[m.aic()], &[772.8608452958244], 1e-6, "aic");
    assert_close(&[m.bic()], &[789.3304380660039], 1e-6, "bic");
}

#[test]
fn forecasts_given_future_covariates_match_statsmodels() {
    // res.get_prediction(start=117, end=122, exog_oos=Z[117:]): predicted_mean and
    // sqrt(var_pred_mean).
    let s = stocks();
    let n = s.target.len();
    let m = arx::fit_arx(&s.target, &s.covariates, 2).unwrap();
    let f = m
        .forecast_dynamic(&s.target, &s.covariates[n..], 6)
        .unwrap();
    let mean: Vec<f64> = f.iter().map(|f| f.mean).collect();
    let se: Vec<f64> = f.iter().map(|f| f.std).collect();
    assert_close(
        &mean,
        &[
            117.73310358286359,
            118.75706507677421,
            120.62765319591799,
            119.73369865210333,
            119.98793085384118,
            120.99962492301341,
        ],
        1e-6,
        "forecast mean",
    );
    assert_close(
        &se,
        &[
            6.613758487299197,
            8.15046019477159,
            8.83045252674917,
            9.157099838218233,
            9.318918324317,
            9.400189532375734,
        ],
        1e-6,
        "forecast standard error",
    );
    // Past the 6 future rows there are no covariates to forecast with.
    let err = m
        .forecast_dynamic(&s.target, &s.covariates[n..], 7)
        .unwrap_err();
    assert!(err.to_string().contains("7 rows"), "{err}");
    // One step ahead from the target's end is the first dynamic forecast; it stops where
    // the observed values run out.
    let one = m.forecast_one_step(&s.target, &s.covariates, n, 6);
    assert_eq!(one.len(), 1);
    assert!((one[0].mean - mean[0]).abs() < 1e-9);
}

#[test]
fn order_selection_matches_statsmodels_ar_select_order() {
    // ar_select_order(ibm, maxlag=6, ic=..., trend="c", exog=[MSFT, AAPL]): 111
    // observations; criteria count const + lags + exog, not σ².
    let aic = [
        841.5481821956002,
        745.800827761782,
        747.765701681164,
        749.739557169029,
        751.5191920198951,
        750.9974279013908,
        751.183266852821,
    ];
    let bic = [
        849.6767727995373,
        756.6389485670313,
        761.3133526877257,
        765.9967383769031,
        770.4859034290814,
        772.6736695118894,
        775.569038664632,
    ];
    let s = stocks();
    let z = &s.covariates;
    let sel = arx::select_order_arx(&s.target, z, 6, Criterion::Aic).unwrap();
    assert_eq!(sel.nobs, 111);
    assert_eq!(sel.best, 1);
    let got: Vec<f64> = sel.scores.iter().map(|sc| sc.aic).collect();
    assert_close(&got, &aic, 1e-6, "AIC per order");
    let got: Vec<f64> = sel.scores.iter().map(|sc| sc.bic).collect();
    assert_close(&got, &bic, 1e-6, "BIC per order");
    assert_eq!(
        arx::select_order_arx(&s.target, z, 6, Criterion::Bic)
            .unwrap()
            .best,
        1
    );
    // The chosen model, refitted on all its observations (t = 1..n-1), and its forecasts.
    let m = arx::fit_arx(&s.target, z, sel.best).unwrap();
    assert_close(
        &m.params(),
        &[
            9.424459574783604,
            0.7149634531758468,
            0.5599840261543626,
            0.043451957614894975,
        ],
        1e-6,
        "chosen params",
    );
    let f = m
        .forecast_dynamic(&s.target, &z[s.target.len()..], 6)
        .unwrap();
    let mean: Vec<f64> = f.iter().map(|f| f.mean).collect();
    let se: Vec<f64> = f.iter().map(|f| f.std).collect();
    assert_close(
        &mean,
        &[
            117.76243199790981,
            118.69750790272688,
            120.43538608999475,
            119.5842940113992,
            119.86874096377468,
            120.94442408260456,
        ],
        1e-6,
        "chosen forecast mean",
    );
    assert_close(
        &se,
        &[
            6.669794185025923,
            8.199162391104307,
            8.879774093662721,
            9.208274718004919,
            9.37174896382441,
            9.454220851033153,
        ],
        1e-6,
        "chosen forecast standard error",
    );
}

#[test]
fn without_covariates_arx_is_the_ar_fit() {
    // ARX with zero covariates is AR(p) by OLS: same coefficients, errors and selection.
    let s = stocks();
    let x = &s.target;
    let none: Vec<Vec<f64>> = vec![Vec::new(); x.len()];
    let a = ar::fit_ols(x, 3).unwrap();
    let b = arx::fit_arx(x, &none, 3).unwrap();
    let mut want = vec![a.intercept];
    want.extend(&a.coefs);
    assert_close(&b.params(), &want, 1e-8, "params");
    assert_close(&b.std_errors, &a.std_errors, 1e-8, "std errors");
    assert_close(&[b.sigma2], &[a.sigma2], 1e-8, "sigma2");
    let sa = ar::select_order(x, 5, Criterion::Aic).unwrap();
    let sb = arx::select_order_arx(x, &none, 5, Criterion::Aic).unwrap();
    assert_eq!(sa.best, sb.best);
    for (p, q) in sa.scores.iter().zip(&sb.scores) {
        assert!((p.aic - q.aic).abs() < 1e-8);
    }
}

/// x_t = 0.5 x_{t-1} + 2 z_t + ε_t, z_t ~ N(0, 1), ε_t ~ N(0, 0.5²), n values and the
/// covariates of `extra` more steps.
fn synthetic(n: usize, extra: usize, seed: u64) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut rng = argen::rng::seeded(seed);
    let z: Vec<Vec<f64>> = (0..n + extra)
        .map(|_| vec![standard_normal(&mut rng)])
        .collect();
    let mut x = vec![0.0; n];
    for t in 0..n {
        let prev = if t == 0 { 0.0 } else { x[t - 1] };
        x[t] = 0.5 * prev + 2.0 * z[t][0] + 0.5 * standard_normal(&mut rng);
    }
    (x, z)
}

#[test]
fn the_covariate_coefficient_is_recovered_and_arx_beats_ar_on_held_out_steps() {
    // For several seeds: fit on the first 2000 values, score one-step forecasts on the
    // last 1000. The noise variance is 0.25; without z_t the best AR(1) one-step error is
    // about 4 + 0.25 (the variance of 2 z_t it cannot see).
    for seed in 0..5 {
        let (x, z) = synthetic(3000, 0, seed);
        let (train, test_from) = (&x[..2000], 2000);
        let m: ArxModel = arx::fit_arx(train, &z, 1).unwrap();
        let b = m.exog_coefs[0];
        let se = m.std_errors[2];
        assert!(
            (b - 2.0).abs() < 4.0 * se && se < 0.03,
            "seed {seed}: b = {b}, se {se}"
        );
        assert!((m.coefs[0] - 0.5).abs() < 0.05, "seed {seed}: {m:?}");
        let plain = ar::fit_ols(train, 1).unwrap();
        let arx_one = m.forecast_one_step(&x, &z, test_from, 1000);
        let ar_one = plain.forecast_one_step(&x, test_from, 1000);
        assert_eq!((arx_one.len(), ar_one.len()), (1000, 1000));
        let mse = |f: &[ar::Forecast]| {
            f.iter()
                .enumerate()
                .map(|(i, f)| (x[test_from + i] - f.mean).powi(2))
                .sum::<f64>()
                / f.len() as f64
        };
        let (arx_mse, ar_mse) = (mse(&arx_one), mse(&ar_one));
        println!(
            "seed {seed}: b = {b:.4} (se {se:.4}), one-step MSE on 1000 held-out steps: ARX \
             {arx_mse:.4}, AR(1) {ar_mse:.4} (noise variance 0.25)"
        );
        assert!(arx_mse < 1.2 * 0.25, "seed {seed}: ARX MSE {arx_mse}");
        assert!(
            ar_mse > 5.0 * arx_mse,
            "seed {seed}: AR {ar_mse} vs ARX {arx_mse}"
        );
        // Order selection with the covariate finds order 1.
        let sel = arx::select_order_arx(train, &z, 6, Criterion::Bic).unwrap();
        assert_eq!(sel.best, 1, "seed {seed}: {:?}", sel.scores);
    }
}
