//! `argen sample RUN`: draw from a run of any family. Images go to a PNG grid; sequences
//! are printed (text, values) or drawn (digits, piano rolls), piano rolls also written as
//! MIDI files and sound as WAV files; a classical fit writes its continuation (a chain's
//! text, an AR simulation as CSV with a chart).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use argen::classic::{Alphabet, ClassicModel, ClassicRun};
use argen::data::midi::{
    DEFAULT_BPM, DEFAULT_STEPS_PER_BEAT, check_bpm, check_steps_per_beat, write_midi,
};
use argen::data::sequences::KEYS;
use argen::distributions::OutputDistribution;
use argen::run::{Run, SampleOptions, SequenceSamples};
use argen::viz::chart::{Chart, Line};
use argen::viz::{self, save_png};
use clap::Args;

use crate::cli::args::{DeviceArgs, weights};

/// Options of `argen sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// The run folder (written by `argen train` or `argen fit`).
    pub run: PathBuf,
    /// Trained runs: the number of images or sequences.
    #[arg(long, default_value_t = SampleOptions::default().n)]
    pub n: usize,
    /// Seed of the random draws: the same seed gives the same samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Temperature: 1 samples the model, below 1 favours likely values, 0 is greedy (images,
    /// sequences over levels, Markov chains).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub temperature: f64,
    /// A class-conditional run: draw only this class, by number or, for sound, by label
    /// (`--class seven`; default: one row per class for images, the classes in turn for
    /// sequences).
    #[arg(long)]
    pub class: Option<String>,
    /// A vector-conditioned run: draw for the vectors of `vectors:FILE` (row i for sample i;
    /// default: the test images' vectors in turn).
    #[arg(long, value_name = "vectors:FILE")]
    pub condition: Option<String>,
    /// An auto-encoder run: draw given the codes of the first K test images (n / K draws
    /// each, every row starting with the original; the default, with K = 8).
    #[arg(long, value_name = "K")]
    pub reconstruct: Option<usize>,
    /// An auto-encoder run: draw n images along the line between the codes of test images A
    /// and B (one row: A, the draws, B).
    #[arg(long, value_name = "A,B", value_parser = parse_pair)]
    pub interpolate: Option<(usize, usize)>,
    /// Trained runs: images or sequences drawn at once (bounds memory; does not change them).
    #[arg(long, default_value_t = SampleOptions::default().batch)]
    pub batch: usize,
    /// Trained runs: the weights of the last epoch instead of the best validation weights.
    #[arg(long)]
    pub last: bool,
    /// Trained runs: rerun the whole network for every pixel or step (the slow reference
    /// path) instead of the cached path (Gated PixelCNN, WaveNet, TCN); both give the same
    /// samples for the same seed.
    #[arg(long)]
    pub naive: bool,
    /// Output file: the PNG of images, digits or piano rolls (default: RUN/samples.png; the
    /// MIDI files of piano rolls go to RUN/samples/sample_000.mid, ..., or beside a given
    /// PNG as NAME_000.mid, ...); the
    /// text or values of other sequences (default: stdout only); a chain's text (default:
    /// stdout); the CSV of an AR simulation (default: RUN/sample.csv, with a chart beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sequences and classical fits: the number of steps, symbols or values to generate
    /// (with `--prefix`, the prefix included).
    #[arg(long)]
    pub length: Option<usize>,
    /// Sound runs: continue this WAV file (resampled to the run's rate): every clip starts
    /// with its samples, and the model draws what follows (one second by default).
    #[arg(long, value_name = "FILE.wav")]
    pub prefix: Option<PathBuf>,
    /// Piano-roll runs: steps per beat (a quarter note) of the written MIDI files (default:
    /// the run's `--steps-per-beat` for midi:DIR data, else 2).
    #[arg(long, value_name = "N")]
    pub steps_per_beat: Option<u32>,
    /// Piano-roll runs: the tempo of the written MIDI files, in beats per minute (default
    /// 120).
    #[arg(long)]
    pub bpm: Option<f64>,
    #[command(flatten)]
    pub devices: DeviceArgs,
}

impl SampleArgs {
    /// The library's sampling options; `names` are the class labels of the run's data, when
    /// it has them (sound), so that `--class` may name one.
    fn options(&self, names: Option<&[String]>) -> Result<SampleOptions> {
        let class = match &self.class {
            None => None,
            Some(c) => match (c.parse::<usize>(), names) {
                (Ok(k), _) => Some(k),
                (Err(_), Some(names)) => {
                    Some(names.iter().position(|n| n == c).ok_or_else(|| {
                        anyhow::anyhow!("--class {c}: the run's classes are {}", names.join(", "))
                    })?)
                }
                (Err(_), None) => bail!("--class {c} is not a class number"),
            },
        };
        Ok(SampleOptions {
            n: self.n,
            seed: self.seed,
            temperature: self.temperature,
            class,
            batch: self.batch,
            weights: weights(self.last),
            naive: self.naive,
            length: self.length,
            condition: self.condition.clone(),
            reconstruct: self.reconstruct,
            interpolate: self.interpolate,
            prefix: self.prefix.clone(),
        })
    }
}

/// Parses `A,B` (two test image indices).
fn parse_pair(s: &str) -> std::result::Result<(usize, usize), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("expected two indices A,B, got `{s}`"))?;
    let index = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("`{v}` is not an image index"))
    };
    Ok((index(a)?, index(b)?))
}

/// Runs `argen sample`.
pub fn run(args: SampleArgs) -> Result<()> {
    let run = Run::open(&args.run)?;
    let is_music = match &run {
        Run::Sequence(r) => r.config.model.output == OutputDistribution::Bernoulli { dims: KEYS },
        _ => false,
    };
    if !is_music && (args.steps_per_beat.is_some() || args.bpm.is_some()) {
        bail!("--steps-per-beat and --bpm apply to runs on piano rolls (pianoroll:FILE, midi:DIR)");
    }
    if let Some(n) = args.steps_per_beat {
        check_steps_per_beat(n).map_err(anyhow::Error::msg)?;
    }
    if let Some(bpm) = args.bpm {
        check_bpm(bpm).map_err(anyhow::Error::msg)?;
    }
    let out_png = || {
        args.out
            .clone()
            .unwrap_or_else(|| args.run.join("samples.png"))
    };
    if args.prefix.is_some() && !matches!(run, Run::Sequence(_)) {
        bail!(
            "--prefix continues a WAV file and serves sound runs; {} is not one",
            args.run.display()
        );
    }
    match run {
        Run::Image(run) => {
            // Images are drawn batch by batch; with --devices the batches are dealt over them.
            let devices = args.devices.connect("sample", true)?;
            let start = Instant::now();
            let samples = run.sample_on_devices(&args.options(None)?, &devices.devices)?;
            let seconds = start.elapsed().as_secs_f64();
            let out = out_png();
            save_png(&samples.grid(), &out)?;
            println!(
                "wrote {} images to {} ({seconds:.1}s, {:.1} images/s)",
                samples.len(),
                out.display(),
                samples.len() as f64 / seconds
            );
        }
        Run::Sequence(run) => {
            let device = args.devices.device("sample")?;
            let data = run.data()?;
            let names = data.audio.as_ref().map(|a| a.class_names.as_slice());
            let options = args.options(names)?;
            match run.sample_on(&data, &options, &device)? {
                SequenceSamples::Audio {
                    clips,
                    sample_rate,
                    labels,
                } => {
                    let out = args.out.clone().unwrap_or_else(|| args.run.join("samples"));
                    let written = write_clips(&out, &clips, &labels, sample_rate)?;
                    println!(
                        "wrote {} clips of {} samples at {sample_rate} Hz: {}",
                        clips.len(),
                        clips.first().map_or(0, Vec::len),
                        written.join(", ")
                    );
                    let picture = if out
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
                    {
                        out.with_extension("png")
                    } else {
                        out.join("spectrograms.png")
                    };
                    let reference = reference_clip(&data, options.class, clips[0].len());
                    let mut shown = Vec::with_capacity(clips.len() + 1);
                    shown.extend(reference);
                    shown.extend(clips);
                    save_png(&viz::spectrogram::spectrograms(&shown), &picture)?;
                    println!(
                        "wrote their spectrograms to {}{}",
                        picture.display(),
                        if shown.len() > labels.len() {
                            " (top: a test clip of the data, for comparison)"
                        } else {
                            ""
                        }
                    );
                }
                SequenceSamples::Digits(images) => {
                    let out = out_png();
                    save_png(&images.grid(), &out)?;
                    println!("wrote {} digits to {}", images.len(), out.display());
                }
                SequenceSamples::PianoRolls {
                    values,
                    length,
                    keys,
                } => {
                    let out = out_png();
                    save_png(&viz::piano_rolls(&values, length, keys, 3), &out)?;
                    println!(
                        "wrote {} piano rolls of {length} steps to {}",
                        values.len() / (length * keys).max(1),
                        out.display()
                    );
                    if keys == KEYS {
                        let steps_per_beat = args
                            .steps_per_beat
                            .or(run.config.midi.map(|m| m.steps_per_beat))
                            .unwrap_or(DEFAULT_STEPS_PER_BEAT);
                        let bpm = args.bpm.unwrap_or(DEFAULT_BPM);
                        let written = write_rolls(&args, &values, length, steps_per_beat, bpm)?;
                        println!(
                            "wrote {} MIDI files (steps per beat: {steps_per_beat}, {bpm} bpm): {}",
                            written.len(),
                            written.join(", ")
                        );
                    }
                }
                SequenceSamples::Text(lines) => print_lines(&args, lines)?,
                SequenceSamples::Values(rows) => {
                    let lines = rows
                        .iter()
                        .map(|row| {
                            row.iter()
                                .map(|v| format!("{v:.4}"))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .collect();
                    print_lines(&args, lines)?;
                }
            }
        }
        Run::Classic(fit) => {
            if args.last || args.naive || args.class.is_some() {
                bail!("--last, --naive and --class apply to trained runs, not to a classical fit");
            }
            sample_classic(&args, &fit.fit)?;
        }
    }
    Ok(())
}

/// Writes sound clips as WAV files: to `out` itself when it names one `.wav` file and there
/// is one clip, else into the folder `out` as `sample_000[_label].wav`, ...; returns the paths.
fn write_clips(
    out: &std::path::Path,
    clips: &[Vec<f32>],
    labels: &[Option<String>],
    sample_rate: u32,
) -> Result<Vec<String>> {
    let is_file = out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    if is_file && clips.len() != 1 {
        bail!(
            "--out {} names one WAV file, but {} clips are drawn: name a folder",
            out.display(),
            clips.len()
        );
    }
    if !is_file {
        std::fs::create_dir_all(out)?;
    }
    let mut written = Vec::with_capacity(clips.len());
    for (i, clip) in clips.iter().enumerate() {
        let path = if is_file {
            out.to_path_buf()
        } else {
            let label = labels
                .get(i)
                .and_then(|l| l.as_ref())
                .map(|l| format!("_{l}"))
                .unwrap_or_default();
            out.join(format!("sample_{i:03}{label}.wav"))
        };
        argen::data::audio::write_wav(&path, clip, sample_rate)?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// A test clip of a sound run's data as samples in [−1, 1], of class `class` when given and
/// present, cut to `length` samples; `None` without test clips.
fn reference_clip(
    data: &argen::data::sequences::SequenceData,
    class: Option<usize>,
    length: usize,
) -> Option<Vec<f32>> {
    let audio = data.audio.as_ref()?;
    let clip = class
        .and_then(|k| data.test.iter().find(|e| e.label == k))
        .or(data.test.first())?;
    let levels = &clip.targets[..clip.targets.len().min(length)];
    Some(audio.decode(levels))
}

/// Writes piano rolls (`length` steps of [`KEYS`] keys each) as MIDI files: into
/// RUN/samples/ as `sample_000.mid`, ..., or, with `--out NAME.png`, beside it as
/// `NAME_000.mid`, ...; returns the paths.
fn write_rolls(
    args: &SampleArgs,
    values: &[f32],
    length: usize,
    steps_per_beat: u32,
    bpm: f64,
) -> Result<Vec<String>> {
    let (folder, stem) = match &args.out {
        None => (args.run.join("samples"), "sample".to_string()),
        Some(out) => (
            out.parent().map(PathBuf::from).unwrap_or_default(),
            out.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("sample")
                .to_string(),
        ),
    };
    if !folder.as_os_str().is_empty() {
        std::fs::create_dir_all(&folder)?;
    }
    let mut written = Vec::new();
    for (i, roll) in values.chunks(length * KEYS).enumerate() {
        let path = folder.join(format!("{stem}_{i:03}.mid"));
        write_midi(&path, roll, steps_per_beat, bpm)?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

/// The longest continuation of a classical fit one call draws.
const MAX_CLASSIC_LENGTH: usize = 10_000_000;

/// Checks a classical fit's `--length`.
fn check_length(length: usize) -> Result<()> {
    if length == 0 || length > MAX_CLASSIC_LENGTH {
        bail!("--length must be in 1..={MAX_CLASSIC_LENGTH}, got {length}");
    }
    Ok(())
}

/// Prints one sample per line, and writes them to `--out` when given.
fn print_lines(args: &SampleArgs, lines: Vec<String>) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    print!("{text}");
    if let Some(out) = &args.out {
        argen::train::write_atomically(out, text.as_bytes())?;
    }
    Ok(())
}

/// `argen sample RUN` for a classical run: a chain writes text (or, for bins, CSV values);
/// an AR model writes a simulated continuation of the series as CSV and a PNG chart.
fn sample_classic(args: &SampleArgs, run: &ClassicRun) -> Result<()> {
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        bail!(
            "--temperature must be a finite number >= 0, got {}",
            args.temperature
        );
    }
    match &run.model {
        ClassicModel::Markov { chain, alphabet } => {
            let length = args.length.unwrap_or(1000);
            check_length(length)?;
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
                    argen::files::write_atomically(path, text.as_bytes())?;
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
        ClassicModel::Arx { .. } => bail!(
            "argen sample does not simulate ARX runs (their continuation needs the future \
             covariates); `argen forecast` gives the forecasts and intervals given them"
        ),
        ClassicModel::Ar { model, .. } => {
            if args.temperature != 1.0 {
                bail!("--temperature applies to Markov chains, not to AR runs");
            }
            let length = args.length.unwrap_or(200);
            check_length(length)?;
            let series = run.values()?;
            let values = &series.values;
            let path = model.simulate(values, length, args.seed);
            let csv_path = args
                .out
                .clone()
                .unwrap_or_else(|| args.run.join("sample.csv"));
            if csv_path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("png"))
            {
                bail!(
                    "--out names the CSV of an AR simulation (its chart goes beside it as .png); \
                     give a .csv name, not {}",
                    csv_path.display()
                );
            }
            let mut csv = String::from("t,value\n");
            for (i, v) in path.iter().enumerate() {
                writeln!(csv, "{},{v}", values.len() + i)?;
            }
            argen::files::write_atomically(&csv_path, csv.as_bytes())?;
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
