//! `argen sample RUN`: ancestral sampling to a PNG grid.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Args;

use crate::generate::{SampleRequest, sample_cached, sample_naive};
use crate::train::RunFolder;
use crate::viz;

/// Options of `argen sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// The run folder written by `argen train`.
    pub run: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Seed of the random draws: the same seed gives the same images.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Softmax temperature: 1 samples the model, below 1 favours likely levels, 0 is greedy.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// For a class-conditional run: generate only this class (default: one row per class).
    #[arg(long)]
    pub class: Option<usize>,
    /// Images (or sequences) generated at once (bounds memory; does not change them).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Use the weights of the last epoch instead of the best validation weights.
    #[arg(long)]
    pub last: bool,
    /// Rerun the whole network for every pixel or step (the slow reference path) instead
    /// of the cached path (Gated PixelCNN, WaveNet, TCN); both give the same samples for the
    /// same seed.
    #[arg(long)]
    pub naive: bool,
    /// Output PNG (default: RUN/samples.png). For a classical run: the text file of a
    /// chain's sample (default: stdout), or the CSV of an AR simulation (default:
    /// RUN/sample.csv, with a chart beside it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// For a classical run: the number of symbols or values to generate.
    #[arg(long)]
    pub length: Option<usize>,
}

/// Generates images from a run and writes them to `out`; returns the levels.
pub fn sample_run(args: &SampleArgs, out: &Path) -> Result<Vec<u8>> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    if !(args.temperature >= 0.0 && args.temperature.is_finite()) {
        bail!(
            "--temperature must be a finite number >= 0, got {}",
            args.temperature
        );
    }
    let device = crate::cli::device();
    let run = RunFolder(args.run.clone());
    let (config, model) = run.load_model(!args.last, &device)?;
    let (height, width) = (config.height, config.width);
    let (labels, columns) = match (config.model.num_classes(), args.class) {
        (None, Some(_)) => bail!(
            "--class needs a class-conditional run; {} is unconditional",
            args.run.display()
        ),
        (None, None) => (vec![None; args.n], (args.n as f64).sqrt().ceil() as usize),
        (Some(k), Some(c)) if c >= k => bail!(
            "--class {c} is out of range: the run has classes 0..{}",
            k - 1
        ),
        (Some(_), Some(c)) => (
            vec![Some(c); args.n],
            (args.n as f64).sqrt().ceil() as usize,
        ),
        (Some(k), None) => {
            // One row per class: n / k images each (at least one).
            let per_class = (args.n / k).max(1);
            let labels = (0..k)
                .flat_map(|c| std::iter::repeat_n(Some(c), per_class))
                .collect();
            (labels, per_class)
        }
    };
    let request = SampleRequest {
        height,
        width,
        colours: config.model.colours(),
        labels,
        temperature: args.temperature,
        seed: args.seed,
        batch: args.batch,
        given: None,
        given_positions: 0,
    };
    let images = if args.naive {
        sample_naive(&model, &request, &device)
    } else {
        sample_cached(&model, &request, &device)
    };
    let shape = viz::ImageShape {
        colours: config.model.colours(),
        height,
        width,
        levels: config.model.levels(),
    };
    let grid = viz::image_grid(&images, shape, columns, viz::default_scale(width), None);
    viz::save_png(&grid, out)?;
    Ok(images)
}

/// Runs `argen sample`.
pub fn run(args: SampleArgs) -> Result<()> {
    if crate::train::sequence::is_sequence_run(&args.run) {
        return crate::cli::train_sequence::sample(&args);
    }
    if args.run.join(crate::classic::RUN_FILE).exists() {
        return crate::cli::fit::sample_classic(&args);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("samples.png"));
    let start = std::time::Instant::now();
    let count = sample_run(&args, &out)?.len() / {
        let config = RunFolder(args.run.clone()).read_config()?;
        config.height * config.width
    };
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "wrote {} images to {} ({seconds:.1}s, {:.1} images/s)",
        count,
        out.display(),
        count as f64 / seconds
    );
    Ok(())
}
