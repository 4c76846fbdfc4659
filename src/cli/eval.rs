//! `argen eval RUN`: exact test NLL in nats per image and bits per dimension.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::train::{self, Nll, RunFolder};

/// Which part of the data set to score.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Split {
    Train,
    Valid,
    Test,
}

/// Options of `argen eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The run folder written by `argen train`.
    pub run: PathBuf,
    /// The part of the data set to score (all of it, every image).
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
    /// Use the weights of the last epoch instead of the best validation weights.
    #[arg(long)]
    pub last: bool,
    /// Images scored at once (only memory and speed depend on it, not the result).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Scores `split` of a run's data set with the run's weights.
pub fn evaluate_run(
    run: &RunFolder,
    split: Split,
    last: bool,
    batch_size: usize,
) -> Result<(train::TrainingConfig, Nll)> {
    let device = crate::cli::device();
    let (config, model) = run.load_model(!last, &device)?;
    let data = train::load_data(&config.data)?;
    let set = match split {
        Split::Train => &data.train,
        Split::Valid => &data.valid,
        Split::Test => &data.test,
    };
    if set.is_empty() {
        anyhow::bail!("the {split:?} split of {} is empty", data.name);
    }
    Ok((config, train::evaluate(&model, set, batch_size, &device)))
}

/// Runs `argen eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    if crate::train::sequence::is_sequence_run(&args.run) {
        return crate::cli::train_sequence::eval(&args);
    }
    if args.run.join(crate::classic::RUN_FILE).exists() {
        return crate::cli::fit::eval_classic(&args);
    }
    let run = RunFolder(args.run.clone());
    let (config, nll) = evaluate_run(&run, args.split, args.last, args.batch_size)?;
    let split = format!("{:?}", args.split).to_lowercase();
    if args.json {
        let value = serde_json::json!({
            "run": args.run.display().to_string(),
            "data": config.data,
            "split": split,
            "weights": if args.last { "last" } else { "best" },
            "images": nll.images,
            "nats_per_image": nll.nats_per_image,
            "bits_per_dim": nll.bits_per_dim,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "{} {split} ({} images): {:.4} nats/image, {:.4} bits/dim",
            config.data, nll.images, nll.nats_per_image, nll.bits_per_dim
        );
    }
    Ok(())
}
