//! `argen fit ar|markov`: fit a classical sequence model in closed form and save it as
//! `RUN/classic.json` (which `argen eval`, `argen sample` and `argen forecast` read).
//!
//! The model is fitted on the first part of the sequence; the last `--holdout` fraction
//! (20% by default) is held out for `argen eval --split test` and shown by `argen forecast`.
//!
//! `argen fit ar --data csv:FILE:TARGET --covariates COL,COL` fits an ARX model: AR with
//! the named columns of the same file as exogenous regressors (see
//! [`argen::classic::arx`]); the file's last rows may leave TARGET empty, and hold the
//! future covariates that `argen forecast` uses.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use argen::classic::ar::{self, ArMethod, Criterion};
use argen::classic::arx;
use argen::classic::markov::{Binning, MarkovChain};
use argen::classic::{Alphabet, ClassicModel, ClassicRun};
use argen::data::series::{
    self, LoadOptions, SeriesData, SeriesSource, load_csv_with_covariates, load_series, split_point,
};

/// How AR coefficients are estimated, as an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Conditional least squares (ordinary least squares on the lagged values).
    Ols,
    /// Yule-Walker equations with biased ("mle") autocovariances.
    YuleWalker,
    /// Burg's method.
    Burg,
}

impl From<MethodArg> for ArMethod {
    fn from(m: MethodArg) -> ArMethod {
        match m {
            MethodArg::Ols => ArMethod::Ols,
            MethodArg::YuleWalker => ArMethod::YuleWalker,
            MethodArg::Burg => ArMethod::Burg,
        }
    }
}

/// The information criterion that chooses an AR order, as an option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CriterionArg {
    /// Akaike: -2ℓ + 2k, k = p + 1.
    Aic,
    /// Bayesian (Schwarz): -2ℓ + ln(N) k, k = p + 1.
    Bic,
}

impl From<CriterionArg> for Criterion {
    fn from(c: CriterionArg) -> Criterion {
        match c {
            CriterionArg::Aic => Criterion::Aic,
            CriterionArg::Bic => Criterion::Bic,
        }
    }
}

/// Options of `argen fit`.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// The kind of model.
    #[command(subcommand)]
    pub model: FitModel,
}

/// The kinds of classical model.
#[derive(Subcommand, Debug)]
pub enum FitModel {
    /// AR(p) for a real-valued series: x_t = c + Σ a_i x_{t-i} + N(0, σ²); with
    /// `--covariates`, ARX(p): x_t = c + Σ a_i x_{t-i} + Σ b_j z_{j,t} + N(0, σ²).
    Ar(ArArgs),
    /// A Markov chain of order k over characters, or over bins of a real series.
    Markov(MarkovArgs),
}

/// Options shared by every fit.
#[derive(Args, Debug, Clone)]
pub struct CommonFitArgs {
    /// The sequence: `csv:FILE:COLUMN`, `sunspots`, `stocks:SYMBOL`
    /// (MSFT, AMZN, IBM, GOOG, AAPL), `text:FILE` or `sine`.
    #[arg(long)]
    pub data: String,
    /// Drop CSV rows whose value is missing or not a number instead of failing.
    #[arg(long)]
    pub skip_missing: bool,
    /// Seed of synthetic data (`sine`).
    #[arg(long, default_value_t = 0)]
    pub data_seed: u64,
    /// Fraction of the sequence held out at its end for `argen eval` (0 fits on all of it).
    #[arg(long, default_value_t = series::DEFAULT_HOLDOUT)]
    pub holdout: f64,
    /// Run folder to write (default: runs/<kind>-N, the first unused N).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// AR only: columns of the `csv:FILE:TARGET` file used as exogenous regressors z_t
    /// (comma-separated), which makes the model ARX, with x_t = c + Σ a_i x_{t-i} +
    /// Σ b_j z_{j,t} + N(0, σ²). Every cell of these columns must be a number; the last rows
    /// may leave TARGET empty: they give the future covariates that `argen forecast` needs.
    #[arg(long, value_delimiter = ',')]
    pub covariates: Vec<String>,
}

impl CommonFitArgs {
    /// The covariate columns named by `--covariates`, trimmed (empty if not given).
    fn covariate_columns(&self) -> Vec<String> {
        self.covariates
            .iter()
            .map(|c| c.trim().to_string())
            .collect()
    }
}

/// Options of `argen fit ar`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("order_choice").required(true).args(["order", "max_order"])))]
pub struct ArArgs {
    /// The data, split and run folder.
    #[command(flatten)]
    pub common: CommonFitArgs,
    /// The order p.
    #[arg(long, conflicts_with = "max_order")]
    pub order: Option<usize>,
    /// Choose the order in 0..=P by `--criterion`, all orders scored by OLS on the same
    /// observations t = P..n-1.
    #[arg(long)]
    pub max_order: Option<usize>,
    /// The criterion that chooses the order.
    #[arg(long, value_enum, default_value = "aic")]
    pub criterion: CriterionArg,
    /// How the coefficients are estimated.
    #[arg(long, value_enum, default_value = "ols")]
    pub method: MethodArg,
}

/// Options of `argen fit markov`.
#[derive(Args, Debug)]
pub struct MarkovArgs {
    /// The data, split and run folder.
    #[command(flatten)]
    pub common: CommonFitArgs,
    /// The order k: the number of previous symbols each symbol depends on.
    #[arg(long)]
    pub order: usize,
    /// Additive smoothing α: p(s|c) = (n(c,s) + α) / (n(c) + αV). 0 gives unseen
    /// transitions probability 0. Keep αV small beside the counts of a typical context, or
    /// samples wander into unseen contexts (which are uniform).
    #[arg(long, default_value_t = 0.01)]
    pub smoothing: f64,
    /// For a real-valued series: the number of equal-width bins (over the training range).
    #[arg(long, default_value_t = 10)]
    pub bins: usize,
}

/// Runs `argen fit`.
pub fn run(args: FitArgs) -> Result<()> {
    match args.model {
        FitModel::Ar(a) => fit_ar(&a),
        FitModel::Markov(m) => fit_markov(&m),
    }
}

fn load(common: &CommonFitArgs) -> Result<(SeriesSource, SeriesData)> {
    if !(0.0..1.0).contains(&common.holdout) {
        bail!("--holdout must be in [0, 1), got {}", common.holdout);
    }
    let source: SeriesSource = common.data.parse()?;
    let data = load_series(
        &source,
        LoadOptions {
            skip_missing: common.skip_missing,
            seed: common.data_seed,
        },
    )?;
    Ok((source, data))
}

fn run_folder(common: &CommonFitArgs, kind: &str) -> Result<PathBuf> {
    Ok(match &common.out {
        Some(out) => {
            if out.join("config.json").exists() || out.join(argen::classic::RUN_FILE).exists() {
                bail!(
                    "{} already holds a run; choose another --out (or remove the folder)",
                    out.display()
                );
            }
            out.clone()
        }
        None => argen::train::new_run_folder(Path::new("runs"), kind),
    })
}

fn fit_ar(args: &ArArgs) -> Result<()> {
    if !args.common.covariates.is_empty() {
        return fit_arx(args);
    }
    let (source, data) = load(&args.common)?;
    let SeriesData::Real(series) = data else {
        bail!("{source} is a text; AR needs a real-valued series (use `argen fit markov`)");
    };
    let n = series.values.len();
    let train_length = split_point(n, args.common.holdout);
    let train = &series.values[..train_length];
    let selection = match args.max_order {
        Some(p) => Some(
            ar::select_order(train, p, args.criterion.into())
                .with_context(|| format!("on the {train_length} training values of {source}"))?,
        ),
        None => None,
    };
    let order = match (&selection, args.order) {
        (Some(s), _) => s.best,
        (None, Some(p)) => p,
        (None, None) => bail!("give --order P or --max-order P"),
    };
    let model = ar::fit(train, order, args.method.into())
        .with_context(|| format!("on the {train_length} training values of {source}"))?;
    let (ll, steps) = model.log_likelihood(train, 0);
    let mut report = String::new();
    writeln!(
        report,
        "AR({order}) by {} on {source}: {train_length} training values, {} held out",
        ArMethod::from(args.method),
        n - train_length
    )?;
    if let Some(s) = &selection {
        write_selection(&mut report, s, 0)?;
    }
    write_lag_coefficients(
        &mut report,
        model.intercept,
        &model.coefs,
        &model.std_errors,
    )?;
    writeln!(
        report,
        "  sigma^2 = {:.6} (sigma {:.6})",
        model.sigma2,
        model.sigma2.sqrt()
    )?;
    writeln!(
        report,
        "  conditional log-likelihood on the training part: {ll:.4} over {steps} steps ({:.4} nats/step)",
        ll / steps.max(1) as f64
    )?;
    let folder = run_folder(&args.common, "ar")?;
    let run = ClassicRun {
        data: argen::data::absolute_source(&source.to_string()),
        skip_missing: args.common.skip_missing,
        data_seed: args.common.data_seed,
        holdout: args.common.holdout,
        length: n,
        train_length,
        model: ClassicModel::Ar { model, selection },
    };
    run.save(&folder)?;
    print!("{report}");
    println!("run: {}", folder.display());
    Ok(())
}

/// `argen fit ar --covariates ...`: an ARX fit by OLS on the training part of the target,
/// with the covariates of the same rows.
fn fit_arx(args: &ArArgs) -> Result<()> {
    let common = &args.common;
    let columns = common.covariate_columns();
    if !(0.0..1.0).contains(&common.holdout) {
        bail!("--holdout must be in [0, 1), got {}", common.holdout);
    }
    let source: SeriesSource = common.data.parse()?;
    let SeriesSource::Csv { path, column } = &source else {
        bail!(
            "--covariates names columns of a CSV file: it needs --data csv:FILE:TARGET, and \
             {source} is not a CSV source"
        );
    };
    if args.method != MethodArg::Ols {
        bail!(
            "an AR model with --covariates (ARX) is fitted by least squares only; --method {} \
             applies to AR without covariates",
            ArMethod::from(args.method)
        );
    }
    if common.skip_missing {
        bail!(
            "--skip-missing does not apply with --covariates: dropping rows would misalign the \
             series with its covariates (the last rows may leave the target empty for the \
             future covariates; the others must be complete)"
        );
    }
    let data = load_csv_with_covariates(path, column, &columns)?;
    let n = data.target.len();
    let future = data.future_rows();
    let train_length = split_point(n, common.holdout);
    let train = &data.target[..train_length];
    let z = &data.covariates[..train_length];
    let context = || format!("on the {train_length} training values of {source}");
    let selection = match args.max_order {
        Some(p) => {
            Some(arx::select_order_arx(train, z, p, args.criterion.into()).with_context(context)?)
        }
        None => None,
    };
    let order = match (&selection, args.order) {
        (Some(s), _) => s.best,
        (None, Some(p)) => p,
        (None, None) => bail!("give --order P or --max-order P"),
    };
    let model = arx::fit_arx(train, z, order).with_context(context)?;
    let (ll, steps) = model.log_likelihood(train, z, 0)?;
    let mut report = String::new();
    writeln!(
        report,
        "ARX({order}) by OLS on {source} with covariates {}: {train_length} training values, \
         {} held out, {future} future rows of covariates past the target's end",
        columns.join(", "),
        n - train_length
    )?;
    if let Some(s) = &selection {
        write_selection(&mut report, s, columns.len())?;
    }
    write_lag_coefficients(
        &mut report,
        model.intercept,
        &model.coefs,
        &model.std_errors,
    )?;
    let se = |i: usize| standard_error(&model.std_errors, i);
    for (j, (b, name)) in model.exog_coefs.iter().zip(&columns).enumerate() {
        writeln!(report, "  b_{name} = {b:12.8}{}", se(1 + order + j))?;
    }
    writeln!(
        report,
        "  sigma^2 = {:.6} (sigma {:.6}), SSR/N over N = {} equations",
        model.sigma2,
        model.sigma2.sqrt(),
        model.nobs()
    )?;
    writeln!(
        report,
        "  conditional log-likelihood on the training part: {ll:.4} over {steps} steps ({:.4} nats/step)",
        ll / steps.max(1) as f64
    )?;
    writeln!(
        report,
        "  AIC {:.4}, BIC {:.4} (statsmodels AutoReg's: -2 loglik + (2 or ln N)(k + 1), k = {} \
         coefficients, + 1 for sigma^2)",
        model.aic(),
        model.bic(),
        1 + order + columns.len()
    )?;
    let folder = run_folder(common, "arx")?;
    let run = ClassicRun {
        data: argen::data::absolute_source(&source.to_string()),
        skip_missing: false,
        data_seed: common.data_seed,
        holdout: common.holdout,
        length: n,
        train_length,
        model: ClassicModel::Arx {
            model,
            selection,
            covariates: columns,
        },
    };
    run.save(&folder)?;
    print!("{report}");
    println!("run: {}", folder.display());
    Ok(())
}

/// The order-selection table of `argen fit ar --max-order`; `covariates` is k (0 for AR).
/// " (se S)" for coefficient `i` when its standard error is known, nothing otherwise.
fn standard_error(std_errors: &[f64], i: usize) -> String {
    std_errors
        .get(i)
        .map(|v| format!(" (se {v:.6})"))
        .unwrap_or_default()
}

/// The constant and the lag coefficients of an AR or ARX fit, one line each, with their
/// standard errors (`std_errors` in the order c, a_1, ..., a_p, ...).
fn write_lag_coefficients(
    report: &mut String,
    intercept: f64,
    coefs: &[f64],
    std_errors: &[f64],
) -> Result<()> {
    writeln!(
        report,
        "  c   = {:12.6}{}",
        intercept,
        standard_error(std_errors, 0)
    )?;
    for (i, a) in coefs.iter().enumerate() {
        writeln!(
            report,
            "  a_{:<2}= {a:12.8}{}",
            i + 1,
            standard_error(std_errors, i + 1)
        )?;
    }
    Ok(())
}

fn write_selection(report: &mut String, s: &ar::Selection, covariates: usize) -> Result<()> {
    let p_max = s.scores.len() - 1;
    writeln!(
        report,
        "order chosen by {} over 0..={p_max} on the common sample of {} observations \
         (t = {p_max}..n-1, the same for every order){}",
        format!("{:?}", s.criterion).to_uppercase(),
        s.nobs,
        if covariates > 0 {
            format!("; k = p + {} coefficients", 1 + covariates)
        } else {
            String::new()
        }
    )?;
    writeln!(report, "  order        AIC          BIC")?;
    for sc in &s.scores {
        let mark = if sc.order == s.best { " <" } else { "" };
        writeln!(
            report,
            "  {:5} {:12.4} {:12.4}{mark}",
            sc.order, sc.aic, sc.bic
        )?;
    }
    Ok(())
}

fn fit_markov(args: &MarkovArgs) -> Result<()> {
    if !args.common.covariates.is_empty() {
        bail!(
            "--covariates applies to `argen fit ar` (an AR model with exogenous regressors); a \
             Markov chain takes none"
        );
    }
    let (source, data) = load(&args.common)?;
    let (symbols, alphabet, size) = match data {
        SeriesData::Symbols(s) => {
            let size = s.alphabet.len();
            let chars: String = s.alphabet.iter().collect();
            (s.symbols, Alphabet::Chars { chars }, size)
        }
        SeriesData::Real(s) => {
            if args.bins < 2 {
                bail!("--bins must be at least 2, got {}", args.bins);
            }
            let train_length = split_point(s.values.len(), args.common.holdout);
            let binning = Binning::spanning(&s.values[..train_length.max(1)], args.bins);
            let symbols = s.values.iter().map(|&x| binning.symbol(x)).collect();
            (symbols, Alphabet::Bins { binning }, args.bins)
        }
    };
    let n = symbols.len();
    let train_length = split_point(n, args.common.holdout);
    let start = std::time::Instant::now();
    let chain = MarkovChain::fit(&symbols[..train_length], size, args.order, args.smoothing)
        .with_context(|| format!("on the {train_length} training symbols of {source}"))?;
    let seconds = start.elapsed().as_secs_f64();
    let (ll, steps) = chain.log_likelihood(&symbols[..train_length], 0)?;
    println!(
        "Markov chain of order {} over {size} symbols on {source}: {train_length} training \
         symbols, {} held out",
        args.order,
        n - train_length
    );
    println!(
        "  {} contexts seen, {} distinct transitions, fitted in {seconds:.3}s",
        chain.seen_contexts(),
        chain.seen_transitions()
    );
    println!(
        "  training log-likelihood {:.4} nats/symbol, perplexity {:.4}",
        ll / steps.max(1) as f64,
        (-ll / steps.max(1) as f64).exp()
    );
    let folder = run_folder(&args.common, "markov")?;
    let run = ClassicRun {
        data: argen::data::absolute_source(&source.to_string()),
        skip_missing: args.common.skip_missing,
        data_seed: args.common.data_seed,
        holdout: args.common.holdout,
        length: n,
        train_length,
        model: ClassicModel::Markov { chain, alphabet },
    };
    run.save(&folder)?;
    println!("run: {}", folder.display());
    Ok(())
}
