//! `argen train --model mlp|gru|lstm|wavenet|tcn`, and `eval` / `sample` of the runs it
//! writes: the neural sequence models on sequence data (see
//! [`crate::data::sequences`] for the `--data` forms).

use std::path::PathBuf;

use anyhow::{Result, bail};
use burn::prelude::*;
use clap::Args;

use crate::cli::eval::{EvalArgs, Split};
use crate::cli::sample::SampleArgs;
use crate::cli::train::TrainArgs;
use crate::data::sequences::SequenceData;
use crate::distributions::OutputDistribution;
use crate::generate::sequence::{SequenceRequest, sample_sequences, sample_sequences_naive};
use crate::models::{SequenceModelConfig, SequenceModelKind};
use crate::train::RunFolder;
use crate::train::sequence::{
    RUN_KIND, SequenceMetrics, SequenceTrainingConfig, evaluate_sequences, is_sequence_run,
    load_data, load_run, read_config, train_sequences_on,
};
use crate::viz;

/// The options of `argen train` that only the sequence models read.
#[derive(Args, Debug, Clone)]
pub struct SequenceArgs {
    /// Sequence models: hidden units (MLP, RNN) or residual channels (WaveNet, TCN).
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Sequence models: hidden layers (MLP), stacked layers (RNN), or layers per block with
    /// dilations 1, 2, ..., 2^(depth−1) (WaveNet, TCN).
    #[arg(long, default_value_t = 2)]
    pub depth: usize,
    /// WaveNet, TCN: repeats of the dilation cycle.
    #[arg(long, default_value_t = 1)]
    pub blocks: usize,
    /// MLP: the window τ (past steps read).
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// WaveNet, TCN: kernel size of the dilated convolutions.
    #[arg(long, default_value_t = 2)]
    pub conv_kernel: usize,
    /// WaveNet, TCN: kernel size of the first convolution (which excludes the current step).
    #[arg(long, default_value_t = 2)]
    pub conv_first_kernel: usize,
    /// GRU, LSTM: truncated backpropagation through time, in chunks of this many steps.
    #[arg(long)]
    pub tbptt: Option<usize>,
    /// Output a discretised mixture of this many logistics instead of a softmax (data over
    /// ordered levels, such as the digits).
    #[arg(long)]
    pub mixture: Option<usize>,
    /// Real series: predict the mean under a Gaussian of unit variance in standardised units
    /// (least squares) instead of learning the variance too. The NLL is then that of the
    /// fixed variance; the forecasts' MSE is often lower on short noisy series.
    #[arg(long)]
    pub fixed_variance: bool,
    /// WaveNet, TCN: weight normalisation of the dilated convolutions (w = g · v / ‖v‖ per
    /// output channel, as in Bai et al.'s TCN).
    #[arg(long)]
    pub weight_norm: bool,
}

/// The sequence model named by `--model`, if it is one.
fn kind(model: &str) -> Option<SequenceModelKind> {
    match model {
        "mlp" => Some(SequenceModelKind::Mlp),
        "gru" => Some(SequenceModelKind::Gru),
        "lstm" => Some(SequenceModelKind::Lstm),
        "wavenet" => Some(SequenceModelKind::Wavenet),
        "tcn" => Some(SequenceModelKind::Tcn),
        _ => None,
    }
}

/// Whether `argen train` with these options trains a sequence model (a sequence `--model`,
/// or `--resume` of a sequence run).
pub fn handles(args: &TrainArgs) -> bool {
    match &args.resume {
        Some(run) => is_sequence_run(run),
        None => kind(&args.model).is_some(),
    }
}

fn describe(config: &SequenceModelConfig) -> String {
    let field = match config.receptive_field() {
        Some(r) => format!("receptive field {r} steps"),
        None => "receptive field: the whole past".into(),
    };
    let mut options = String::new();
    if config.dropout_probability() > 0.0 {
        options += &format!(", dropout {}", config.dropout_probability());
    }
    if config.uses_weight_norm() {
        options += ", weight-normalised";
    }
    format!(
        "{:?} ({} hidden, depth {}, {:?}{options}; {field})",
        config.kind, config.hidden, config.layers, config.output
    )
}

fn metrics_line(m: &SequenceMetrics) -> String {
    let mut line = format!(
        "{:.4} nats/step, {:.3} nats/sequence ({} sequences, {} steps)",
        m.nats_per_step, m.nats_per_sequence, m.sequences, m.steps
    );
    if (m.nats_per_step_after_first - m.nats_per_step).abs() > 1e-9 {
        line += &format!(
            " ({:.4} nats/step after each sequence's first step)",
            m.nats_per_step_after_first
        );
    }
    if let Some(mse) = m.mse {
        line += &format!(", MSE {mse:.5}");
    }
    if let Some(a) = m.accuracy {
        line += &format!(", recall {:.2}%", 100.0 * a);
        let by_position: Vec<String> = m
            .recall_by_position
            .iter()
            .map(|r| format!("{:.1}", 100.0 * r))
            .collect();
        line += &format!(" (by position, %: {})", by_position.join(" "));
    }
    line
}

/// Runs `argen train` for a sequence model.
pub fn run(args: TrainArgs) -> Result<()> {
    let s = &args.sequence;
    let (config, run, resume) = match &args.resume {
        Some(folder) => {
            let run = RunFolder(folder.clone());
            let mut config = read_config(&run)?;
            if let Some(epochs) = args.epochs {
                config.epochs = epochs;
            }
            (config, run, true)
        }
        None => {
            let kind = kind(&args.model).expect("dispatched on a sequence model");
            let data = crate::data::sequences::load_sequences(&args.data)?;
            let output = match (s.fixed_variance, data.output) {
                (false, output) => output,
                (true, OutputDistribution::Gaussian { dims, .. }) => OutputDistribution::Gaussian {
                    dims,
                    fixed_variance: true,
                },
                (true, other) => bail!(
                    "--fixed-variance needs a real-valued series; {} has {other:?} steps",
                    data.name
                ),
            };
            let output = match (s.mixture, output) {
                (None, output) => output,
                (Some(k), OutputDistribution::Categorical { levels }) => {
                    OutputDistribution::LogisticMixture {
                        levels,
                        components: k,
                    }
                }
                (Some(_), other) => bail!(
                    "--mixture needs data over ordered levels; {} has {other:?} steps",
                    data.name
                ),
            };
            let model = SequenceModelConfig {
                kind,
                input_channels: data.input_channels(),
                output,
                hidden: s.hidden,
                layers: s.depth,
                blocks: s.blocks,
                window: s.window,
                kernel: s.conv_kernel,
                first_kernel: s.conv_first_kernel,
                num_classes: args.conditional.then_some(data.num_classes),
                dropout: args.dropout,
                weight_norm: s.weight_norm.then_some(true),
            };
            model.validate().map_err(anyhow::Error::msg)?;
            if !(args.lr > 0.0 && args.lr.is_finite()) {
                bail!("--lr must be a positive number, got {}", args.lr);
            }
            let is_rnn = matches!(kind, SequenceModelKind::Gru | SequenceModelKind::Lstm);
            let config = SequenceTrainingConfig {
                kind: RUN_KIND.into(),
                model,
                data: args.data.clone(),
                epochs: args.epochs.unwrap_or(10),
                batch_size: args.batch_size,
                learning_rate: args.lr,
                adam_epsilon: args.adam_epsilon,
                clip_norm: args.clip_norm.or(is_rnn.then_some(1.0)),
                tbptt: s.tbptt,
                seed: args.seed,
                train_limit: args.train_limit,
                lr_schedule: args.lr_schedule,
            };
            let folder = match &args.out {
                Some(out) if out.join("config.json").exists() => bail!(
                    "{} already holds a run; use --resume {} to continue it, or another --out",
                    out.display(),
                    out.display()
                ),
                Some(out) => out.clone(),
                None => {
                    let name = args.data.replace(['/', ':', '.'], "_");
                    crate::train::new_run_folder(
                        std::path::Path::new("runs"),
                        &format!("{}-{name}", args.model),
                    )
                }
            };
            (config, RunFolder(folder), false)
        }
    };
    let data = load_data(&config)?;
    eprintln!(
        "training {} on {} ({} training sequences) for {} epochs into {}",
        describe(&config.model),
        data.name,
        data.train.len(),
        config.epochs,
        run.0.display()
    );
    let start = std::time::Instant::now();
    let devices = crate::cli::training_devices();
    train_sequences_on(&config, &data, &run, resume, !args.quiet, &devices.devices)?;
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let (_, test) = evaluate(&run, Split::Test, false, 256)?;
    println!(
        "test ({}, best validation weights): {}; trained in {minutes:.1} min",
        data.name,
        metrics_line(&test)
    );
    println!("run folder: {}", run.0.display());
    Ok(())
}

/// Scores a split of a sequence run's data.
pub fn evaluate(
    run: &RunFolder,
    split: Split,
    last: bool,
    batch_size: usize,
) -> Result<(SequenceData, SequenceMetrics)> {
    let device = crate::cli::device();
    let (config, model) = load_run(run, !last, &device)?;
    let data = load_data(&config)?;
    let set = match split {
        Split::Train => &data.train,
        Split::Valid => &data.valid,
        Split::Test => &data.test,
    };
    if set.is_empty() {
        bail!("the {split:?} split of {} is empty", data.name);
    }
    let metrics = evaluate_sequences(&config.model, &model, &data, set, batch_size, &device);
    Ok((data, metrics))
}

/// `argen eval RUN` for a sequence run.
pub fn eval(args: &EvalArgs) -> Result<()> {
    let run = RunFolder(args.run.clone());
    let (data, m) = evaluate(&run, args.split, args.last, args.batch_size)?;
    let split = format!("{:?}", args.split).to_lowercase();
    if args.json {
        let value = serde_json::json!({
            "run": args.run.display().to_string(),
            "data": data.name,
            "split": split,
            "weights": if args.last { "last" } else { "best" },
            "metrics": m,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!("{} {split}: {}", data.name, metrics_line(&m));
    }
    Ok(())
}

/// `argen sample RUN` for a sequence run: the digits as a PNG grid, piano rolls as a PNG
/// (one roll per row, time to the right, low notes at the bottom), text and real values
/// printed (and written to `--out` when given).
pub fn sample(args: &SampleArgs) -> Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        bail!("--temperature must be a finite number >= 0");
    }
    let device = crate::cli::device();
    let run = RunFolder(args.run.clone());
    let (config, model) = load_run(&run, !args.last, &device)?;
    let data = load_data(&config)?;
    if data.train.iter().any(|e| e.inputs.is_some()) {
        bail!(
            "{} is a prediction task with separate inputs, not a generative data set: use argen eval",
            data.name
        );
    }
    let output = config.model.output;
    let dims = output.dims();
    let default_length = data.test.first().map_or(64, |e| e.len(dims)).min(512);
    let length = args.length.unwrap_or(default_length);
    if length == 0 {
        bail!("--length must be at least 1");
    }
    let labels = match (config.model.num_classes, args.class) {
        (None, Some(_)) => bail!("--class needs a class-conditional run"),
        (Some(k), Some(c)) if c >= k => bail!("--class {c} is out of range 0..{}", k - 1),
        (Some(_), Some(c)) => vec![Some(c); args.n],
        (Some(k), None) => (0..args.n).map(|i| Some(i % k)).collect(),
        (None, None) => vec![None; args.n],
    };
    let request = SequenceRequest {
        labels,
        length,
        prefix: Vec::new(),
        temperature: args.temperature,
        seed: args.seed,
        batch: args.batch,
    };
    let values = if args.naive {
        sample_sequences_naive(&model, output, &request, &device)
    } else {
        sample_sequences(&model, output, &request, &device)
    };
    let out_png = |default: &str| args.out.clone().unwrap_or_else(|| args.run.join(default));
    if data.name == "digits" && length == 64 {
        let images: Vec<u8> = values.iter().map(|&v| v as u8).collect();
        let shape = viz::ImageShape {
            colours: 1,
            height: 8,
            width: 8,
            levels: output.levels().unwrap_or(17),
        };
        let columns = (args.n as f64).sqrt().ceil() as usize;
        let out: PathBuf = out_png("samples.png");
        viz::save_png(&viz::image_grid(&images, shape, columns, 8, None), &out)?;
        println!("wrote {} digits to {}", args.n, out.display());
    } else if let OutputDistribution::Bernoulli { dims: keys } = output {
        let scale = 3u32;
        let (w, h) = (
            length as u32 * scale,
            (keys as u32 + 4) * scale * args.n as u32,
        );
        let mut image = image::RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
        for i in 0..args.n {
            for t in 0..length {
                for k in 0..keys {
                    if values[(i * length + t) * keys + k] > 0.5 {
                        let y0 = (i as u32 * (keys as u32 + 4) + (keys - 1 - k) as u32) * scale;
                        for dy in 0..scale {
                            for dx in 0..scale {
                                image.put_pixel(
                                    t as u32 * scale + dx,
                                    y0 + dy,
                                    image::Rgb([20, 20, 120]),
                                );
                            }
                        }
                    }
                }
            }
        }
        let out = out_png("samples.png");
        viz::save_png(&image, &out)?;
        println!(
            "wrote {} piano rolls of {length} steps to {}",
            args.n,
            out.display()
        );
    } else {
        let mut text = String::new();
        for i in 0..args.n {
            let seq = &values[i * length * dims..(i + 1) * length * dims];
            match (&data.alphabet, data.scale) {
                (Some(alphabet), _) => {
                    text.extend(
                        seq.iter()
                            .map(|&v| alphabet.get(v as usize).copied().unwrap_or('?')),
                    );
                }
                (None, scale) => {
                    let (mean, std) = scale.unwrap_or((0.0, 1.0));
                    let line: Vec<String> = seq
                        .iter()
                        .map(|&v| format!("{:.4}", f64::from(v) * std + mean))
                        .collect();
                    text += &line.join(",");
                }
            }
            text.push('\n');
        }
        print!("{text}");
        if let Some(out) = &args.out {
            crate::train::write_atomically(out, text.as_bytes())?;
        }
    }
    Ok(())
}

/// k-step-ahead dynamic predictions of a single series: for every origin o, the model reads
/// the observed x_{<o} (at most its receptive field; 256 steps for a recurrent model), then
/// predicts x_o, x_{o+1}, ... feeding each predicted mean back as the next input. The
/// prediction of x_t made k steps ahead is the k-th step of the roll-out from o = t − k + 1.
/// Returns, for each k of `horizons`, the predictions (NaN where the series has no origin).
pub fn k_step_predictions(
    model: &crate::models::SequenceModel,
    config: &SequenceModelConfig,
    values: &[f32],
    horizons: &[usize],
    device: &Device,
) -> Vec<Vec<f64>> {
    let n = values.len();
    let max_k = horizons.iter().copied().max().unwrap_or(1);
    let context = config.receptive_field().unwrap_or(256);
    let length = context + max_k;
    let mut out = vec![vec![f64::NAN; n]; horizons.len()];
    let origins: Vec<usize> = (1..n).collect();
    for chunk in origins.chunks(128) {
        let b = chunk.len();
        let mut rows = vec![0f32; b * length];
        for (i, &o) in chunk.iter().enumerate() {
            for c in 0..context {
                if let Some(s) = (o + c).checked_sub(context) {
                    rows[i * length + c] = values[s];
                }
            }
        }
        for j in 0..max_k {
            let x = Tensor::from_data(TensorData::new(rows.clone(), [b, 1, length]), device);
            let means: Vec<f32> = model
                .forward(x, None)
                .narrow(1, 0, 1)
                .narrow(2, context + j, 1)
                .reshape([b])
                .into_data()
                .convert::<f32>()
                .iter::<f32>()
                .collect();
            for (i, &o) in chunk.iter().enumerate() {
                rows[i * length + context + j] = means[i];
                let t = o + j;
                if t < n
                    && let Some(h) = horizons.iter().position(|&k| k == j + 1)
                {
                    out[h][t] = f64::from(means[i]);
                }
            }
        }
    }
    out
}

/// `argen forecast RUN` for a sequence run on a real series: the chart of 1-, 4-, 16- and
/// 64-step-ahead dynamic predictions over the whole series (as in the Dive into Deep
/// Learning sequence chapter) and the mean squared error of each on the held-out part.
pub fn forecast(args: &crate::cli::forecast::ForecastArgs) -> Result<()> {
    let device = crate::cli::device();
    let run = RunFolder(args.run.clone());
    let (config, model) = load_run(&run, true, &device)?;
    let data = load_data(&config)?;
    let (Some((mean, std)), Some(test)) = (data.scale, data.test.first()) else {
        bail!(
            "forecasting needs a run on a real-valued series; {} is not one",
            data.name
        );
    };
    if config.model.num_classes.is_some() {
        bail!("forecasting a class-conditional sequence run is not supported");
    }
    let values = &test.targets;
    let n = values.len();
    let split = crate::data::sequences::series_split(&data.name, n);
    let horizons: Vec<usize> = [1, 4, 16, 64]
        .into_iter()
        .filter(|&k| k <= args.horizon.max(1))
        .collect();
    let predictions = k_step_predictions(&model, &config.model, values, &horizons, &device);
    let original = |v: f64| v * std + mean;
    let first = config.model.receptive_field().unwrap_or(0);
    let colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)];
    let mut lines = vec![crate::viz::chart::Line {
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
        lines.push(crate::viz::chart::Line {
            label: format!("{k}-step preds"),
            colour: colours[h % colours.len()],
            points: (first + k - 1..n)
                .filter(|&t| predictions[h][t].is_finite())
                .map(|t| (t as f64, original(predictions[h][t])))
                .collect(),
            width: 2,
        });
    }
    let chart = crate::viz::chart::Chart {
        title: format!(
            "{}: {:?}, k-step-ahead dynamic predictions (training part ends at {split})",
            data.name, config.model.kind
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
