//! `argen fit ar|markov`: fit a classical sequence model in closed form and save it as
//! `RUN/classic.json`; also `argen sample` and `argen eval` for such runs.
//!
//! The model is fitted on the first part of the sequence; the last `--holdout` fraction
//! (20% by default) is held out for `argen eval --split test` and shown by `argen forecast`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::classic::ar::{self, ArMethod, Criterion};
use crate::classic::markov::{Binning, MarkovChain};
use crate::classic::{Alphabet, ClassicModel, ClassicRun};
use crate::cli::eval::{EvalArgs, Split};
use crate::cli::sample::SampleArgs;
use crate::data::series::{
    self, LoadOptions, SeriesData, SeriesSource, encode_chars, load_series, split_point,
};
use crate::viz::chart::{Chart, Line};

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
    /// AR(p) for a real-valued series: x_t = c + Σ a_i x_{t-i} + N(0, σ²).
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
    pub criterion: Criterion,
    /// How the coefficients are estimated.
    #[arg(long, value_enum, default_value = "ols")]
    pub method: ArMethod,
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
        Some(out) => out.clone(),
        None => crate::train::new_run_folder(Path::new("runs"), kind),
    })
}

fn fit_ar(args: &ArArgs) -> Result<()> {
    let (source, data) = load(&args.common)?;
    let SeriesData::Real(series) = data else {
        bail!("{source} is a text; AR needs a real-valued series (use `argen fit markov`)");
    };
    let n = series.values.len();
    let train_length = split_point(n, args.common.holdout);
    let train = &series.values[..train_length];
    let selection = match args.max_order {
        Some(p) => Some(
            ar::select_order(train, p, args.criterion)
                .with_context(|| format!("on the {train_length} training values of {source}"))?,
        ),
        None => None,
    };
    let order = match (&selection, args.order) {
        (Some(s), _) => s.best,
        (None, Some(p)) => p,
        (None, None) => bail!("give --order P or --max-order P"),
    };
    let model = ar::fit(train, order, args.method)
        .with_context(|| format!("on the {train_length} training values of {source}"))?;
    let (ll, steps) = model.log_likelihood(train, 0);
    let mut report = String::new();
    writeln!(
        report,
        "AR({order}) by {} on {source}: {train_length} training values, {} held out",
        args.method,
        n - train_length
    )?;
    if let Some(s) = &selection {
        writeln!(
            report,
            "order chosen by {} over 0..={} on the common sample of {} observations \
             (t = {}..n-1, the same for every order)",
            format!("{:?}", s.criterion).to_uppercase(),
            s.scores.len() - 1,
            s.nobs,
            s.scores.len() - 1
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
    }
    let se = |i: usize| {
        model
            .std_errors
            .get(i)
            .map(|v| format!(" (se {v:.6})"))
            .unwrap_or_default()
    };
    writeln!(report, "  c   = {:12.6}{}", model.intercept, se(0))?;
    for (i, a) in model.coefs.iter().enumerate() {
        writeln!(report, "  a_{:<2}= {a:12.8}{}", i + 1, se(i + 1))?;
    }
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
        data: source.to_string(),
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

fn fit_markov(args: &MarkovArgs) -> Result<()> {
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
        data: source.to_string(),
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

/// The values of an AR run's series, reloaded from its data source.
pub fn run_values(run: &ClassicRun) -> Result<series::Series> {
    let source: SeriesSource = run.data.parse()?;
    let series = series::load_real(
        &source,
        LoadOptions {
            skip_missing: run.skip_missing,
            seed: run.data_seed,
        },
    )?;
    if series.values.len() != run.length {
        bail!(
            "{} now has {} values, but the run was fitted when it had {}",
            run.data,
            series.values.len(),
            run.length
        );
    }
    Ok(series)
}

/// The symbols of a chain run's sequence, reloaded and encoded with the run's alphabet.
pub fn run_symbols(run: &ClassicRun, alphabet: &Alphabet) -> Result<Vec<u32>> {
    let source: SeriesSource = run.data.parse()?;
    let options = LoadOptions {
        skip_missing: run.skip_missing,
        seed: run.data_seed,
    };
    let symbols = match (load_series(&source, options)?, alphabet) {
        (SeriesData::Symbols(s), Alphabet::Chars { chars }) => {
            let alphabet: Vec<char> = chars.chars().collect();
            let text: String = s.symbols.iter().map(|&i| s.alphabet[i as usize]).collect();
            encode_chars(&text, &alphabet).with_context(|| {
                format!(
                    "{} holds characters that were not there when the run was fitted",
                    run.data
                )
            })?
        }
        (SeriesData::Real(s), Alphabet::Bins { binning }) => {
            s.values.iter().map(|&x| binning.symbol(x)).collect()
        }
        _ => bail!(
            "{} no longer holds the kind of data the run was fitted on",
            run.data
        ),
    };
    if symbols.len() != run.length {
        bail!(
            "{} now has {} symbols, but the run was fitted when it had {}",
            run.data,
            symbols.len(),
            run.length
        );
    }
    Ok(symbols)
}

/// `argen sample RUN` for a classical run: a chain writes text (or, for bins, CSV values);
/// an AR model writes a simulated continuation of the series as CSV and a PNG chart.
pub fn sample_classic(args: &SampleArgs) -> Result<()> {
    let run = ClassicRun::load(&args.run)?;
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        bail!(
            "--temperature must be a finite number >= 0, got {}",
            args.temperature
        );
    }
    match &run.model {
        ClassicModel::Markov { chain, alphabet } => {
            let length = args.length.unwrap_or(1000);
            let start = chain.draw_context(args.seed);
            let drawn = chain.sample(&start, length, args.seed, args.temperature)?;
            let all = start.iter().chain(&drawn);
            let text = match alphabet {
                Alphabet::Chars { chars } => {
                    let chars: Vec<char> = chars.chars().collect();
                    all.map(|&s| chars[s as usize]).collect::<String>()
                }
                Alphabet::Bins { binning } => {
                    let mut csv = String::from("t,value\n");
                    for (t, &s) in all.enumerate() {
                        writeln!(csv, "{t},{}", binning.centre(s))?;
                    }
                    csv
                }
            };
            match &args.out {
                Some(path) => {
                    std::fs::write(path, &text)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    eprintln!(
                        "wrote {} symbols ({} of start context) to {}",
                        start.len() + drawn.len(),
                        start.len(),
                        path.display()
                    );
                }
                None => println!("{text}"),
            }
        }
        ClassicModel::Ar { model, .. } => {
            if args.temperature != 1.0 {
                bail!("--temperature applies to Markov chains, not to AR runs");
            }
            let length = args.length.unwrap_or(200);
            let series = run_values(&run)?;
            let values = &series.values;
            let path = model.simulate(values, length, args.seed);
            let csv_path = args
                .out
                .clone()
                .unwrap_or_else(|| args.run.join("sample.csv"));
            let mut csv = String::from("t,value\n");
            for (i, v) in path.iter().enumerate() {
                writeln!(csv, "{},{v}", values.len() + i)?;
            }
            std::fs::write(&csv_path, csv)
                .with_context(|| format!("cannot write {}", csv_path.display()))?;
            let png = csv_path.with_extension("png");
            let shown = values.len().saturating_sub(length.max(50));
            let n = values.len();
            let chart = Chart {
                title: format!(
                    "{} simulated steps of AR({}) after {}",
                    length,
                    model.order(),
                    run.data
                ),
                x_label: "t".into(),
                y_label: "value".into(),
                lines: vec![
                    Line {
                        label: "observed".into(),
                        colour: (40, 40, 40),
                        points: (shown..n).map(|t| (t as f64, values[t])).collect(),
                        width: 1,
                    },
                    Line {
                        label: format!("simulated (seed {})", args.seed),
                        colour: (200, 80, 20),
                        points: std::iter::once((n as f64 - 1.0, values[n - 1]))
                            .chain(path.iter().enumerate().map(|(i, v)| ((n + i) as f64, *v)))
                            .collect(),
                        width: 1,
                    },
                ],
                bands: vec![],
                x_ticks: series.dates.clone().unwrap_or_default(),
            };
            chart.save_png(&png, 900, 450)?;
            println!(
                "wrote {length} simulated values to {} and a chart to {}",
                csv_path.display(),
                png.display()
            );
        }
    }
    Ok(())
}

/// `argen eval RUN` for a classical run: the exact log-likelihood per step of the held-out
/// part (`--split test`, each value given the ones before it, the first ones from the
/// training part) or of the training part (`--split train`).
pub fn eval_classic(args: &EvalArgs) -> Result<()> {
    let run = ClassicRun::load(&args.run)?;
    let from = match args.split {
        Split::Train => 0,
        Split::Test => run.train_length,
        Split::Valid => bail!("classical runs have a train and a test split only"),
    };
    let (ll, steps, end, extra) = match &run.model {
        ClassicModel::Ar { model, .. } => {
            let values = run_values(&run)?.values;
            let end = if args.split == Split::Train {
                run.train_length
            } else {
                values.len()
            };
            let (ll, steps) = model.log_likelihood(&values[..end], from);
            (ll, steps, end, None)
        }
        ClassicModel::Markov { chain, alphabet } => {
            let symbols = run_symbols(&run, alphabet)?;
            let end = if args.split == Split::Train {
                run.train_length
            } else {
                symbols.len()
            };
            let (ll, steps) = chain.log_likelihood(&symbols[..end], from)?;
            (ll, steps, end, Some(()))
        }
    };
    if steps == 0 {
        bail!(
            "the {:?} split of {} has no step to score ({} values, held out from {})",
            args.split,
            run.data,
            end,
            from
        );
    }
    let per_step = ll / steps as f64;
    let split = format!("{:?}", args.split).to_lowercase();
    if args.json {
        let mut value = serde_json::json!({
            "run": args.run.display().to_string(),
            "data": run.data,
            "split": split,
            "steps": steps,
            "log_likelihood": ll,
            "nats_per_step": -per_step,
        });
        if extra.is_some() {
            value["bits_per_symbol"] = serde_json::json!(-per_step / std::f64::consts::LN_2);
            value["perplexity"] = serde_json::json!((-per_step).exp());
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let mut line = format!(
            "{} {split} ({steps} steps): log-likelihood {ll:.4}, negative log-likelihood {:.4} nats/step",
            run.data, -per_step
        );
        if extra.is_some() {
            write!(
                line,
                ", {:.4} bits/symbol, perplexity {:.4}",
                -per_step / std::f64::consts::LN_2,
                (-per_step).exp()
            )?;
        }
        println!("{line}");
    }
    Ok(())
}
