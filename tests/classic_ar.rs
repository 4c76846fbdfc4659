//! AR(p): the three fits against statsmodels 0.15 on the sunspots series, OLS against a
//! direct least-squares solution, order selection on a common sample, forecasts and their
//! standard errors, and recovery of a simulated AR(2).

use argen::classic::ar::{self, ArMethod, Criterion};
use argen::data::series::{LoadOptions, SeriesSource, load_real};

fn sunspots() -> Vec<f64> {
    load_real(&SeriesSource::Sunspots, LoadOptions::default())
        .unwrap()
        .values
}

fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < tol, "{what}: got {got:?}, want {want:?}");
    }
}

#[test]
fn yule_walker_matches_statsmodels_on_sunspots() {
    // statsmodels: yule_walker(x, order=4, method="mle").
    let m = ar::fit_yule_walker(&sunspots(), 4).unwrap();
    assert_close(
        &m.coefs,
        &[1.28310031, -0.45240924, -0.20770299, 0.04794365],
        1e-6,
        "YW coefficients",
    );
    assert!(
        (m.sigma2.sqrt() - 16.808022730464188).abs() < 1e-6,
        "{}",
        m.sigma2.sqrt()
    );
}

#[test]
fn burg_matches_statsmodels_on_sunspots() {
    // statsmodels: burg(x, order=4).
    let m = ar::fit_burg(&sunspots(), 4).unwrap();
    assert_close(
        &m.coefs,
        &[1.30934186, -0.48086633, -0.20185982, 0.05501941],
        1e-6,
        "Burg coefficients",
    );
    assert!((m.sigma2 - 271.246730696395).abs() < 1e-6, "{}", m.sigma2);
}

/// Least squares by Householder QR of the design matrix itself (no normal equations).
fn lstsq_qr(rows: &[Vec<f64>], y: &[f64]) -> Vec<f64> {
    let (n, k) = (rows.len(), rows[0].len());
    let mut a: Vec<Vec<f64>> = rows.to_vec();
    let mut b = y.to_vec();
    for j in 0..k {
        let norm = (j..n).map(|i| a[i][j] * a[i][j]).sum::<f64>().sqrt();
        let alpha = if a[j][j] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (j..n).map(|i| a[i][j]).collect();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|x| x * x).sum();
        #[allow(clippy::needless_range_loop)]
        for c in j..k {
            let d: f64 = (j..n).map(|i| v[i - j] * a[i][c]).sum::<f64>() * 2.0 / vv;
            for i in j..n {
                a[i][c] -= d * v[i - j];
            }
        }
        let d: f64 = (j..n).map(|i| v[i - j] * b[i]).sum::<f64>() * 2.0 / vv;
        for i in j..n {
            b[i] -= d * v[i - j];
        }
    }
    let mut x = vec![0.0; k];
    for j in (0..k).rev() {
        x[j] = (b[j] - (j + 1..k).map(|c| a[j][c] * x[c]).sum::<f64>()) / a[j][j];
    }
    x
}

#[test]
fn ols_equals_a_direct_least_squares_solution_and_statsmodels() {
    let x = sunspots();
    let p = 4;
    let m = ar::fit_ols(&x, p).unwrap();
    let rows: Vec<Vec<f64>> = (p..x.len())
        .map(|t| {
            std::iter::once(1.0)
                .chain((1..=p).map(|i| x[t - i]))
                .collect()
        })
        .collect();
    let beta = lstsq_qr(&rows, &x[p..]);
    let mut got = vec![m.intercept];
    got.extend(&m.coefs);
    assert_close(&got, &beta, 1e-8, "OLS vs QR");
    // statsmodels: AutoReg(x, lags=4, trend="c").fit(): params, bse, sigma2, llf.
    assert_close(
        &got,
        &[
            16.09717940236487,
            1.3077945610190198,
            -0.48056978677998313,
            -0.20314809539785528,
            0.054923522905802775,
        ],
        1e-6,
        "OLS vs statsmodels",
    );
    assert_close(
        &m.std_errors,
        &[
            2.019270061485622,
            0.057199596623503546,
            0.0935309067309686,
            0.0935124077175373,
            0.05714667358599783,
        ],
        1e-6,
        "standard errors",
    );
    assert!((m.sigma2 - 271.1013669947505).abs() < 1e-6);
    let (ll, steps) = m.log_likelihood(&x, 0);
    assert_eq!(steps, 305);
    assert!((ll - -1287.1564044585032).abs() < 1e-6, "{ll}");
    // statsmodels' AutoRegResults.aic and .bic count the 5 coefficients and σ² (the same
    // convention that tests/arx_statsmodels.rs checks against its figures for ARX).
    let stats = m.statistics(&x);
    assert_eq!(stats.nobs, 305);
    assert!((stats.llf - -1287.1564044585032).abs() < 1e-6);
    assert!(
        (stats.aic - 2586.3128089170064).abs() < 1e-6,
        "{}",
        stats.aic
    );
    assert!(
        (stats.bic - 2608.634679576651).abs() < 1e-6,
        "{}",
        stats.bic
    );
}

#[test]
fn order_selection_uses_the_common_sample_like_statsmodels() {
    // statsmodels: ar_select_order(x, maxlag=10, ic=..., trend="c"): 299 observations.
    let aic = [
        3065.7632380360064,
        2730.545553926663,
        2534.2845133708215,
        2531.09969797513,
        2532.331067348562,
        2534.3149231516472,
        2528.3531492976135,
        2514.5819839873857,
        2501.529503360823,
        2483.806077044546,
        2485.8055041814177,
    ];
    let bic_2 = 2545.3858440909935;
    let x = sunspots();
    let s = ar::select_order(&x, 10, Criterion::Aic).unwrap();
    assert_eq!(s.nobs, 299);
    let got: Vec<f64> = s.scores.iter().map(|sc| sc.aic).collect();
    assert_close(&got, &aic, 1e-6, "AIC per order");
    assert_eq!(s.best, 9);
    assert!((s.scores[2].bic - bic_2).abs() < 1e-6);
    assert_eq!(ar::select_order(&x, 10, Criterion::Bic).unwrap().best, 9);
}

#[test]
fn forecasts_match_statsmodels_and_widen_with_the_horizon() {
    let x = sunspots();
    let m = ar::fit_ols(&x, 4).unwrap();
    let f = m.forecast_dynamic(&x, 5);
    // statsmodels: res.get_prediction(start=n, end=n+4, dynamic=True): mean, mean_se.
    let mean: Vec<f64> = f.iter().map(|f| f.mean).collect();
    let se: Vec<f64> = f.iter().map(|f| f.std).collect();
    assert_close(
        &mean,
        &[
            14.834380161015675,
            33.41507554405196,
            52.491075489062915,
            65.8321488398668,
            70.9930281039236,
        ],
        1e-6,
        "dynamic forecast",
    );
    assert_close(
        &se,
        &[
            16.46515614850799,
            27.106701201212562,
            33.83430729086576,
            36.170128844235066,
            36.34125569117223,
        ],
        1e-6,
        "forecast standard errors",
    );
    // One-step-ahead forecasts use the observed values: at the origin they equal the first
    // dynamic forecast; later they keep the one-step error σ.
    let origin = 250;
    let dynamic = m.forecast_dynamic(&x[..origin], 10);
    let one = m.forecast_one_step(&x, origin, 10);
    assert_eq!(one.len(), 10);
    assert!((one[0].mean - dynamic[0].mean).abs() < 1e-12);
    for (t, o) in one.iter().enumerate() {
        let direct = m.intercept
            + (1..=4)
                .map(|i| m.coefs[i - 1] * x[origin + t - i])
                .sum::<f64>();
        assert!((o.mean - direct).abs() < 1e-9);
        assert_eq!(o.std, m.sigma2.sqrt());
    }
    for w in dynamic.windows(2) {
        assert!(w[1].std >= w[0].std);
    }
    let (lo, hi) = f[0].interval(0.95);
    assert!((hi - lo - 2.0 * 1.959963984540054 * f[0].std).abs() < 1e-6);
}

#[test]
fn a_simulated_ar2_is_recovered_within_its_standard_errors_and_aic_picks_2() {
    let truth = ar::ArModel {
        method: ArMethod::Ols,
        intercept: 0.5,
        coefs: vec![0.6, -0.3],
        sigma2: 1.0,
        std_errors: vec![],
        n: 0,
    };
    let x = truth.simulate(&[], 3000, 11);
    let m = ar::fit_ols(&x, 2).unwrap();
    for (i, (got, want)) in std::iter::once(m.intercept)
        .chain(m.coefs.iter().copied())
        .zip([0.5, 0.6, -0.3])
        .enumerate()
    {
        let se = m.std_errors[i];
        assert!(
            (got - want).abs() < 3.0 * se,
            "parameter {i}: {got} vs {want}, se {se}"
        );
        assert!(se < 0.05, "standard error {se} too large");
    }
    assert!((m.sigma2 - 1.0).abs() < 0.1);
    let s = ar::select_order(&x, 10, Criterion::Aic).unwrap();
    assert_eq!(s.best, 2, "{:?}", s.scores);
    assert_eq!(ar::select_order(&x, 10, Criterion::Bic).unwrap().best, 2);
    // The other fits agree with OLS on a long stationary series.
    for method in [ArMethod::YuleWalker, ArMethod::Burg] {
        let other = ar::fit(&x, 2, method).unwrap();
        assert_close(&other.coefs, &m.coefs, 0.02, "YW/Burg vs OLS");
    }
}

#[test]
fn simulation_is_seeded_and_continues_the_history() {
    let x = sunspots();
    let m = ar::fit_ols(&x, 2).unwrap();
    let a = m.simulate(&x, 50, 3);
    assert_eq!(a, m.simulate(&x, 50, 3));
    assert_ne!(a, m.simulate(&x, 50, 4));
    // A model with σ² = 0 simulates its dynamic forecast exactly.
    let mut quiet = m.clone();
    quiet.sigma2 = 0.0;
    let path = quiet.simulate(&x, 5, 0);
    let f = m.forecast_dynamic(&x, 5);
    for (p, f) in path.iter().zip(&f) {
        assert!((p - f.mean).abs() < 1e-9);
    }
}

#[test]
fn too_short_and_bad_series_are_errors() {
    let err = ar::fit_ols(&[1.0, 2.0, 3.0], 4).unwrap_err();
    assert!(err.to_string().contains("too few"), "{err}");
    let err = ar::fit_burg(&[1.0, f64::NAN, 3.0, 4.0, 5.0, 6.0], 1).unwrap_err();
    assert!(err.to_string().contains("not finite"), "{err}");
    assert!(ar::fit_yule_walker(&[2.0; 20], 2).is_err());
    assert!(ar::fit_ols(&[2.0; 20], 2).is_err());
    assert!(ar::select_order(&[1.0; 5], 3, Criterion::Aic).is_err());
}
