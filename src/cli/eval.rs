//! `argen eval RUN`: the exact negative log-likelihood of a run's data split, for every
//! family, as a line or as JSON (one schema: [`argen::run::EvalReport`]).

use std::path::PathBuf;

use anyhow::Result;
use argen::run::Run;
use clap::Args;

use crate::cli::args::{DeviceArgs, SplitArg, weights};

/// Options of `argen eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The run folder (written by `argen train` or `argen fit`).
    pub run: PathBuf,
    /// The part of the data set to score (all of it: every image, sequence or step).
    /// Classical fits have `train` and `test`.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitArg,
    /// Trained runs: the weights of the last epoch instead of the best validation weights.
    #[arg(long)]
    pub last: bool,
    /// Trained runs: examples scored at once (only memory and speed depend on it; images on
    /// the CPU are scored at most 32 at a time, which keeps each layer's output in cache).
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Print the result as JSON (the same fields for every family; see the README).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub devices: DeviceArgs,
}

/// Runs `argen eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let device = args.devices.device("eval")?;
    if args.batch_size == 0 {
        anyhow::bail!("--batch-size must be at least 1");
    }
    let run = Run::open(&args.run)?;
    if args.last && matches!(run, Run::Classic(_)) {
        anyhow::bail!("--last applies to trained runs; a classical fit has one set of parameters");
    }
    let report = run.evaluate(
        args.split.into(),
        weights(args.last),
        args.batch_size,
        &device,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
