//! `argen forecast RUN --horizon H`: forecasts of a fitted AR run from a forecast origin,
//! both dynamic (iterated: each forecast fed back as if observed, so the interval widens
//! with the horizon) and one-step-ahead (each step given the observed values before it, so
//! the interval stays ±z σ), printed as a table and written as CSV and a PNG chart.
//!
//! For an ARX run (`argen fit ar --covariates ...`) the forecasts use the covariates of the
//! forecast steps, read from the run's CSV file: the observed rows, and past the target's
//! end the file's future rows (the rows that leave the target empty). A horizon that
//! reaches past the last row of covariates is an error naming the file and its future rows.
//!
//! For a Markov chain run it gives, by exact dynamic programming from the context at the
//! origin, the distribution of each of the next H symbols (n-step transitions), the most
//! likely continuation of length H (Viterbi), and with `--within S` the probability that S
//! appears within h steps; the distributions go to the CSV (h, symbol, probability).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

use argen::classic::ar::normal_quantile;
use argen::classic::markov::MarkovChain;
use argen::classic::{Alphabet, ClassicModel, ClassicRun};
use argen::generate::sequence::k_step_predictions_with;
use argen::run::{Run, SequenceRun, Weights};
use argen::viz::chart::{Band, Chart, Line};

use crate::cli::args::DeviceArgs;

/// Options of `argen forecast`.
#[derive(Args, Debug)]
pub struct ForecastArgs {
    /// A classical fit (`argen fit ar|markov`) or a sequence run on a real series (`argen
    /// train --model ... --data sine|sunspots|stocks:SYM|csv:...`).
    pub run: PathBuf,
    /// Number of steps to forecast (a sequence run draws its 1-, 4-, 16- and 64-step-ahead
    /// predictions up to this horizon).
    #[arg(long, default_value_t = 20)]
    pub horizon: usize,
    /// Index of the first forecast value (default: the end of the training part, so the
    /// forecasts can be compared with the held-out values; the length of the series
    /// forecasts beyond the data).
    #[arg(long)]
    pub origin: Option<usize>,
    /// Probability of the prediction intervals.
    #[arg(long, default_value_t = 0.95)]
    pub level: f64,
    /// Number of observed values before the origin shown in the chart.
    #[arg(long, default_value_t = 100)]
    pub history: usize,
    /// CSV output (default: RUN/forecast.csv).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// PNG chart (default: RUN/forecast.png).
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Do not print the table.
    #[arg(long)]
    pub quiet: bool,
    /// For a Markov chain run: also give the probability that this symbol (a character,
    /// `\n` for a newline, or a bin number) appears within h steps, for each h.
    #[arg(long)]
    pub within: Option<String>,
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// The longest forecast one call computes.
const MAX_HORIZON: usize = 100_000;

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_default()
}

/// Runs `argen forecast`.
pub fn run(args: ForecastArgs) -> Result<()> {
    if let (Some(csv), Some(chart)) = (&args.csv, &args.chart)
        && csv == chart
    {
        bail!("--csv and --chart name the same file {}", csv.display());
    }
    if args.horizon == 0 || args.horizon > MAX_HORIZON {
        bail!(
            "--horizon must be in 1..={MAX_HORIZON}, got {}",
            args.horizon
        );
    }
    let run = match Run::open(&args.run)? {
        Run::Classic(fit) => fit.fit,
        Run::Sequence(_) if args.within.is_some() => {
            bail!("--within applies to Markov chain runs, not to a sequence run")
        }
        Run::Sequence(run) => return forecast_sequence(&args, &run),
        Run::Image(_) => bail!(
            "{} is an image run; argen forecast works on classical fits and sequence runs",
            args.run.display()
        ),
    };
    if !matches!(run.model, ClassicModel::Markov { .. }) {
        if args.within.is_some() {
            bail!("--within applies to Markov chain runs, not to an AR run");
        }
        if !(args.level > 0.0 && args.level < 1.0) {
            bail!("--level must be in (0, 1), got {}", args.level);
        }
    }
    let h = args.horizon;
    let origin_in = |p: usize, n: usize| {
        let origin = args.origin.unwrap_or(run.train_length);
        if origin < p || origin > n {
            bail!(
                "--origin must be in {p}..={n} (at least the order, at most the series length), got {origin}"
            );
        }
        Ok(origin)
    };
    let (x, dates, origin, dynamic, one_step, sigma2, name) = match &run.model {
        ClassicModel::Markov { chain, alphabet } => {
            return forecast_chain(&args, &run, chain, alphabet);
        }
        ClassicModel::Ar { model, .. } => {
            let series = run.values()?;
            let x = series.values;
            let origin = origin_in(model.order(), x.len())?;
            let dynamic = model.forecast_dynamic(&x[..origin], h);
            let one_step = model.forecast_one_step(&x, origin, h);
            let name = format!("AR({}) {}", model.order(), model.method);
            let dates = series.dates.unwrap_or_default();
            (x, dates, origin, dynamic, one_step, model.sigma2, name)
        }
        ClassicModel::Arx {
            model, covariates, ..
        } => {
            let series = run.covariate_values(covariates)?;
            let n = series.target.len();
            let origin = origin_in(model.order(), n)?;
            let rows = series.covariates.len();
            if origin + h > rows {
                let file = match run.data.parse()? {
                    argen::data::series::SeriesSource::Csv { path, .. } => path,
                    _ => PathBuf::from(&run.data),
                };
                let most = match rows - origin {
                    0 => "no horizon works from this origin".to_string(),
                    m => format!("give at most --horizon {m}"),
                };
                bail!(
                    "a horizon of {h} from origin {origin} needs the covariates of steps \
                     {origin}..={}, but {} has covariates for steps 0..={} only: {n} rows with \
                     the target and {} future rows past its end; {most} (or add future rows \
                     of {} to the file)",
                    origin + h - 1,
                    file.display(),
                    rows - 1,
                    series.future_rows(),
                    covariates.join(", ")
                );
            }
            let z = &series.covariates;
            let dynamic = model.forecast_dynamic(&series.target[..origin], &z[origin..], h)?;
            let one_step = model.forecast_one_step(&series.target, z, origin, h);
            let name = format!("ARX({}) OLS with {}", model.order(), covariates.join(", "));
            let dates = series.dates.unwrap_or_default();
            (
                series.target,
                dates,
                origin,
                dynamic,
                one_step,
                model.sigma2,
                name,
            )
        }
    };
    let x = &x;
    let n = x.len();
    let z = normal_quantile(0.5 + args.level / 2.0);
    let label = |t: usize| dates.get(t).cloned().unwrap_or_else(|| t.to_string());

    let mut csv = String::from(
        "t,date,actual,dynamic_mean,dynamic_lo,dynamic_hi,one_step_mean,one_step_lo,one_step_hi\n",
    );
    let mut table = format!(
        "{:>12} {:>10} {:>10} {:>21} {:>10} {:>21}\n",
        "t",
        "actual",
        "dynamic",
        format!("{:.0}% interval", 100.0 * args.level),
        "one-step",
        format!("{:.0}% interval", 100.0 * args.level)
    );
    let (mut se_dyn, mut se_one, mut count) = (0.0, 0.0, 0usize);
    for (i, f) in dynamic.iter().enumerate() {
        let t = origin + i;
        let actual = x.get(t).copied();
        let one = one_step.get(i);
        let (lo, hi) = (f.mean - z * f.std, f.mean + z * f.std);
        let one_iv = one.map(|o| (o.mean - z * o.std, o.mean + z * o.std));
        writeln!(
            csv,
            "{t},{},{},{},{},{},{},{},{}",
            dates.get(t).cloned().unwrap_or_default(),
            fmt_opt(actual),
            f.mean,
            lo,
            hi,
            fmt_opt(one.map(|o| o.mean)),
            fmt_opt(one_iv.map(|v| v.0)),
            fmt_opt(one_iv.map(|v| v.1)),
        )?;
        writeln!(
            table,
            "{:>12} {:>10} {:>10.4} [{:>9.3}, {:>9.3}] {:>10} {:>21}",
            label(t),
            fmt_opt(actual),
            f.mean,
            lo,
            hi,
            fmt_opt(one.map(|o| o.mean)),
            one_iv
                .map(|(a, b)| format!("[{a:>9.3}, {b:>9.3}]"))
                .unwrap_or_default()
        )?;
        if let (Some(a), Some(o)) = (actual, one) {
            se_dyn += (a - f.mean).powi(2);
            se_one += (a - o.mean).powi(2);
            count += 1;
        }
    }
    if !args.quiet {
        print!("{table}");
        if count > 0 {
            println!(
                "RMSE over the {count} steps with data: dynamic {:.4}, one-step-ahead {:.4} (sigma {:.4})",
                (se_dyn / count as f64).sqrt(),
                (se_one / count as f64).sqrt(),
                sigma2.sqrt()
            );
        }
    }
    let csv_path = args
        .csv
        .clone()
        .unwrap_or_else(|| args.run.join("forecast.csv"));
    argen::files::write_atomically(&csv_path, csv.as_bytes())?;

    let first = origin.saturating_sub(args.history);
    let last_obs = (origin + h).min(n);
    let level = format!("{:.0}%", 100.0 * args.level);
    let mut lines = vec![Line {
        label: "observed".into(),
        colour: (30, 30, 30),
        points: (first..last_obs).map(|t| (t as f64, x[t])).collect(),
        width: 1,
    }];
    let mut bands = vec![Band {
        label: format!("dynamic, {level} interval"),
        colour: (40, 90, 200),
        points: dynamic
            .iter()
            .enumerate()
            .map(|(i, f)| ((origin + i) as f64, f.mean - z * f.std, f.mean + z * f.std))
            .collect(),
    }];
    if !one_step.is_empty() {
        bands.push(Band {
            label: format!("one-step-ahead, {level} interval"),
            colour: (230, 120, 20),
            points: one_step
                .iter()
                .enumerate()
                .map(|(i, f)| ((origin + i) as f64, f.mean - z * f.std, f.mean + z * f.std))
                .collect(),
        });
        lines.push(Line {
            label: "one-step-ahead forecast".into(),
            colour: (230, 120, 20),
            points: one_step
                .iter()
                .enumerate()
                .map(|(i, f)| ((origin + i) as f64, f.mean))
                .collect(),
            width: 2,
        });
    }
    lines.push(Line {
        label: "dynamic forecast".into(),
        colour: (40, 90, 200),
        points: dynamic
            .iter()
            .enumerate()
            .map(|(i, f)| ((origin + i) as f64, f.mean))
            .collect(),
        width: 2,
    });
    let chart = Chart {
        title: format!("{}: {name}, {h} steps from {}", run.data, label(origin)),
        x_label: if dates.is_empty() {
            "t".into()
        } else {
            "date".into()
        },
        y_label: "value".into(),
        lines,
        bands,
        x_ticks: dates,
    };
    let png = args
        .chart
        .clone()
        .unwrap_or_else(|| args.run.join("forecast.png"));
    chart.save_png(&png, 1000, 500)?;
    println!("wrote {} and {}", csv_path.display(), png.display());
    Ok(())
}

/// A symbol as text: a character (newline and tab escaped) or the centre of a bin.
fn show_symbol(alphabet: &Alphabet, s: u32) -> String {
    match alphabet {
        Alphabet::Chars { chars } => match chars.chars().nth(s as usize) {
            Some('\n') => "\\n".into(),
            Some('\t') => "\\t".into(),
            Some(c) => c.to_string(),
            None => "?".into(),
        },
        Alphabet::Bins { binning } => format!("bin {s} ({:.3})", binning.centre(s)),
    }
}

/// Parses `--within`: one character of the alphabet (`\n`, `\t` escaped) or a bin number.
fn parse_symbol(alphabet: &Alphabet, text: &str) -> Result<u32> {
    match alphabet {
        Alphabet::Chars { chars } => {
            let c = match text {
                "\\n" => '\n',
                "\\t" => '\t',
                _ => {
                    let mut it = text.chars();
                    match (it.next(), it.next()) {
                        (Some(c), None) => c,
                        _ => bail!("--within takes one character, got '{text}'"),
                    }
                }
            };
            chars
                .chars()
                .position(|x| x == c)
                .map(|i| i as u32)
                .with_context(|| format!("'{text}' is not in the alphabet of the run"))
        }
        Alphabet::Bins { binning } => match text.parse::<u32>() {
            Ok(b) if (b as usize) < binning.bins => Ok(b),
            _ => bail!(
                "--within takes a bin number in 0..{}, got '{text}'",
                binning.bins
            ),
        },
    }
}

/// `argen forecast` for a Markov chain run.
fn forecast_chain(
    args: &ForecastArgs,
    run: &ClassicRun,
    chain: &MarkovChain,
    alphabet: &Alphabet,
) -> Result<()> {
    if args.horizon == 0 {
        bail!("--horizon must be at least 1");
    }
    let symbols = run.symbols(alphabet)?;
    let k = chain.order();
    let origin = args.origin.unwrap_or(run.train_length);
    if origin < k || origin > symbols.len() {
        bail!(
            "--origin must be in {k}..={} (at least the order, at most the sequence length), got {origin}",
            symbols.len()
        );
    }
    let within = args
        .within
        .as_deref()
        .map(|w| parse_symbol(alphabet, w))
        .transpose()?;
    let past = &symbols[..origin];
    let context: String = past[origin - k..]
        .iter()
        .map(|&s| show_symbol(alphabet, s))
        .collect::<Vec<_>>()
        .join(if matches!(alphabet, Alphabet::Chars { .. }) {
            ""
        } else {
            ", "
        });
    let h = args.horizon;
    let (best, lp) = chain.most_likely_continuation(past, h)?;
    let mut csv = String::from("h,symbol,probability\n");
    let mut table = String::new();
    for step in 1..=h {
        let dist = chain.n_step(past, step)?;
        let mut order: Vec<usize> = (0..dist.len()).collect();
        order.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]).then(a.cmp(&b)));
        for (s, p) in dist.iter().enumerate() {
            writeln!(
                csv,
                "{step},\"{}\",{p}",
                show_symbol(alphabet, s as u32).replace('"', "\"\"")
            )?;
        }
        let top: Vec<String> = order
            .iter()
            .take(3)
            .map(|&s| {
                format!(
                    "{:>8} {:.4}",
                    format!("'{}'", show_symbol(alphabet, s as u32)),
                    dist[s]
                )
            })
            .collect();
        let event = match within {
            Some(s) => format!("   {:.4}", chain.prob_within(past, s, step)?),
            None => String::new(),
        };
        writeln!(table, "{step:>4}  {}{event}", top.join("   "))?;
    }
    if !args.quiet {
        println!("Markov chain of order {k}, from the context '{context}' at position {origin}");
        let shown: Vec<String> = best.iter().map(|&s| show_symbol(alphabet, s)).collect();
        let sep = if matches!(alphabet, Alphabet::Chars { .. }) {
            ""
        } else {
            ", "
        };
        println!(
            "most likely continuation of {h} symbols (Viterbi): '{}' (probability {:.6e})",
            shown.join(sep),
            lp.exp()
        );
        let header = match within {
            Some(s) => format!("   P('{}' within h)", show_symbol(alphabet, s)),
            None => String::new(),
        };
        println!("   h  the three most likely values of x_(t+h) with their probabilities{header}");
        print!("{table}");
    }
    let csv_path = args
        .csv
        .clone()
        .unwrap_or_else(|| args.run.join("forecast.csv"));
    argen::files::write_atomically(&csv_path, csv.as_bytes())?;
    println!("wrote {}", csv_path.display());
    Ok(())
}

/// `argen forecast RUN` for a sequence run on a real series: the chart of 1-, 4-, 16- and
/// 64-step-ahead dynamic predictions over the whole series (as in the Dive into Deep
/// Learning sequence chapter) and the mean squared error of each on the held-out part.
fn forecast_sequence(args: &ForecastArgs, run: &SequenceRun) -> Result<()> {
    let device = args.devices.device("forecast")?;
    let config = &run.config;
    let model = run.model(Weights::Best, &device)?;
    let data = run.data()?;
    let (Some((mean, std)), Some(test)) = (data.scale, data.test.first()) else {
        bail!(
            "forecasting needs a run on a real-valued series; {} is not one",
            data.name
        );
    };
    if config.model.num_classes.is_some() {
        bail!("forecasting a class-conditional sequence run is not supported");
    }
    if config.model.vector_dim.is_some() {
        bail!("forecasting a vector-conditioned sequence run is not supported");
    }
    let values = &test.targets;
    let n = values.len();
    let original = |v: f64| v * std + mean;
    match args.origin {
        None => {}
        Some(origin) if origin == n => {
            // Past the end of the series: the dynamic mean forecast, reading the file's
            // future covariate rows when the run has covariates.
            let forecast = argen::generate::sequence::forecast_past_end(
                &model,
                &config.model,
                values,
                data.covariates.as_ref(),
                args.horizon,
                &device,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e}", data.name))?;
            let out = args
                .csv
                .clone()
                .unwrap_or_else(|| args.run.join("forecast.csv"));
            let mut text = String::from("step,mean\n");
            for (i, v) in forecast.iter().enumerate() {
                text.push_str(&format!("{},{:.6}\n", n + i, original(f64::from(*v))));
            }
            argen::files::write_atomically(&out, text.as_bytes())?;
            if !args.quiet {
                print!("{text}");
            }
            println!(
                "forecast of {} steps past the end of {} (mean path): {}",
                args.horizon,
                data.name,
                out.display()
            );
            return Ok(());
        }
        Some(origin) => bail!(
            "a sequence run forecasts over its held-out part (no --origin) or past the end of \
             its series (--origin {n}), not from {origin}"
        ),
    }
    let split = argen::data::sequences::series_split(&data.name, n);
    let horizons: Vec<usize> = [1, 4, 16, 64]
        .into_iter()
        .filter(|&k| k <= args.horizon.max(1))
        .collect();
    // With covariates, each prediction reads the observed covariates of its steps.
    let predictions = k_step_predictions_with(
        &model,
        &config.model,
        values,
        data.covariates.as_ref(),
        &horizons,
        &device,
    );
    let first = config.model.receptive_field().unwrap_or(0);
    let colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)];
    let mut lines = vec![Line {
        label: "observed".into(),
        colour: (140, 140, 140),
        points: (0..n)
            .map(|t| (t as f64, original(f64::from(values[t]))))
            .collect(),
        width: 1,
    }];
    for (h, &k) in horizons.iter().enumerate() {
        let scored: Vec<usize> = (split.max(first + k - 1)..n)
            .filter(|&t| predictions[h][t].is_finite())
            .collect();
        let mse = scored
            .iter()
            .map(|&t| (original(predictions[h][t]) - original(f64::from(values[t]))).powi(2))
            .sum::<f64>()
            / scored.len().max(1) as f64;
        println!(
            "{k}-step-ahead: MSE {mse:.5} on the held-out steps {}..{n}",
            scored.first().copied().unwrap_or(n)
        );
        lines.push(Line {
            label: format!("{k}-step preds"),
            colour: colours[h % colours.len()],
            points: (first + k - 1..n)
                .filter(|&t| predictions[h][t].is_finite())
                .map(|t| (t as f64, original(predictions[h][t])))
                .collect(),
            width: 2,
        });
    }
    let chart = Chart {
        title: format!(
            "{}: {:?}, k-step-ahead dynamic predictions (training part ends at {split})",
            data.name,
            config.model.kind()
        ),
        x_label: "t".into(),
        y_label: "value".into(),
        lines,
        bands: Vec::new(),
        x_ticks: Vec::new(),
    };
    let out = args
        .chart
        .clone()
        .unwrap_or_else(|| args.run.join("forecast.png"));
    chart.save_png(&out, 1000, 420)?;
    println!("chart: {}", out.display());
    Ok(())
}
