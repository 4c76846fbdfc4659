//! Training and evaluation speed of argen's sequence models (window MLP, GRU, LSTM, WaveNet,
//! TCN) at the configurations of BENCHMARKS.md's sequence tasks, each the median of several
//! timed runs. Its PyTorch peer is `bench/sequence_training_torch.py` (same flags, same
//! architectures); `bench/side_by_side.sh seqtrain` runs both in alternating rounds.
//!
//! ```text
//! cargo bench --bench sequence_training -- --model lstm|gru|mlp|wavenet|tcn \
//!     --task jsb|digits|adding|sine [--steps 20] [--eval-steps 5] [--runs 3] [--warmup 1] \
//!     [--batch B] [--eval-batch 256] [--length T] [--hidden H] [--depth L] [--kernel k] \
//!     [--first-kernel k0] [--blocks n] [--window τ] [--dropout p] [--clip c] [--lr 1e-3]
//! ```
//!
//! The tasks, with synthetic data of the real shapes (the time per step does not depend on
//! the values):
//! - `jsb`: 88-key piano rolls (JSB Chorales), Bernoulli per key; random rolls of 4 notes a
//!   step, `--length` 60 steps (the mean length of the JSB training pieces is 60.3);
//! - `digits`: the 8x8 digits as 64-step sequences of 17 levels (one-hot inputs, a
//!   17-level softmax); random levels;
//! - `adding`: the adding problem of `--length` T (200 by default): the library's own
//!   generator, T + 1 steps of (value, marker), a unit-variance Gaussian scored at the last
//!   step only;
//! - `sine`: the library's `sine` series (its 17 training windows of 64 steps, the first 16
//!   steps of all but the first unscored), a unit-variance Gaussian (`--fixed-variance`).
//!
//! Defaults per model and task (each flag overrides), from BENCHMARKS.md:
//! - `lstm jsb`: 200 hidden, depth 1, dropout 0.3, batch 2, clip 1 (the JSB LSTM row);
//! - `gru jsb`: the same as the LSTM (BENCHMARKS.md has no GRU row; Bai et al. compare both);
//! - `tcn jsb`: 150 channels, 4 levels, kernels 5, dropout 0.25, clip 0.2, batch 1;
//! - `tcn adding`: T = 200, 32 channels, 5 levels, kernels 8, clip 1, batch 32;
//! - `wavenet adding`: T = 50, 32 channels, 6 layers, kernels 2, batch 32;
//! - `wavenet digits`: 64 channels, 4 layers, kernels 7, batch 32;
//! - `mlp sine`: 64 hidden, 2 layers, window 4, batch 17 (the whole training set: the batch
//!   of 32 of `argen train` holds all 17 windows);
//! - anything else: `argen train`'s defaults (64 hidden, depth 2, kernels 2, batch 32).
//!
//! The model is built from these options as `argen train` builds it
//! ([`SequenceModelOptions::build`], [`SequenceTrainingConfig`]), freshly initialised. A
//! training step is what the training loop does for a batch: the task's `shard_loss` (the
//! batch's tensors built from its examples, the forward pass, −log p summed over the scored
//! steps and divided by their number) and its backward pass through `batch_gradients`, the
//! global-norm clipping when the configuration clips, and Adam's step. An evaluation step is
//! `evaluate_sequences` (what scores the validation split) on one batch of `--eval-batch`
//! sequences, with the model's inference copy (`model.valid()`) on the plain device.
//! `--warmup` steps (1) precede each measurement. Each measurement prints one line:
//!
//! ```text
//! argen lstm jsb train: median 12.30 steps/s, 24.6 sequences/s, 1476 time steps/s (runs: ...)
//! ```

use std::time::Instant;

use argen::data::sequences::{SeqExample, SequenceData, adding_problem, load_sequences};
use argen::distributions::OutputDistribution;
use argen::models::{SequenceModel, SequenceModelKind, SequenceModelOptions};
use argen::train::parallel::batch_gradients;
use argen::train::sequence::{SequenceTask, SequenceTrainingConfig, evaluate_sequences};
use argen::train::{LrSchedule, Task, TrainOptions, clip_global_norm};
use burn::module::Module;
use burn::prelude::*;
use rand::RngExt;

#[path = "common.rs"]
mod common;
use common::{arg, median};

/// Keys of a piano roll (MIDI notes 21..=108).
const KEYS: usize = 88;
/// Levels of the 8x8 digits (0..=16).
const DIGIT_LEVELS: usize = 17;

/// The settings of one model/task pair: BENCHMARKS.md's, overridden by the command line.
struct Setup {
    options: SequenceModelOptions,
    batch: usize,
    length: usize,
    clip: Option<f64>,
}

fn setup(args: &[String], kind: SequenceModelKind, task: &str) -> Setup {
    use SequenceModelKind as K;
    let mut o = SequenceModelOptions::default();
    let (mut batch, mut length, mut clip) = (32, 64, None);
    match (kind, task) {
        (K::Lstm | K::Gru, "jsb") => {
            (o.hidden, o.depth, o.dropout) = (200, 1, Some(0.3));
            batch = 2;
        }
        (K::Tcn, "jsb") => {
            (o.hidden, o.depth, o.kernel, o.first_kernel) = (150, 4, 5, 5);
            o.dropout = Some(0.25);
            (batch, clip) = (1, Some(0.2));
        }
        (K::Tcn, "adding") => {
            (o.hidden, o.depth, o.kernel, o.first_kernel) = (32, 5, 8, 8);
            (length, clip) = (200, Some(1.0));
        }
        (K::Wavenet, "adding") => {
            (o.hidden, o.depth) = (32, 6);
            length = 50;
        }
        (K::Wavenet, "digits") => (o.hidden, o.depth, o.kernel, o.first_kernel) = (64, 4, 7, 7),
        (K::Mlp, "sine") => batch = 17,
        _ if task == "adding" => length = 200,
        _ => {}
    }
    if task == "jsb" {
        length = 60;
    }
    if task == "sine" {
        o.fixed_variance = true;
    }
    // `argen train`'s default clipping: 1 for the recurrent networks.
    if clip.is_none() && matches!(kind, K::Gru | K::Lstm) {
        clip = Some(1.0);
    }
    o.hidden = arg(args, "--hidden", o.hidden);
    o.depth = arg(args, "--depth", o.depth);
    o.blocks = arg(args, "--blocks", o.blocks);
    o.window = arg(args, "--window", o.window);
    o.kernel = arg(args, "--kernel", o.kernel);
    o.first_kernel = arg(args, "--first-kernel", o.first_kernel);
    let dropout: f64 = arg(args, "--dropout", o.dropout.unwrap_or(0.0));
    o.dropout = (dropout > 0.0).then_some(dropout);
    let clip: f64 = arg(args, "--clip", clip.unwrap_or(0.0));
    Setup {
        options: o,
        batch: arg(args, "--batch", batch),
        length: arg(args, "--length", length),
        clip: (clip > 0.0).then_some(clip),
    }
}

/// `n` random rolls of `length` steps, each step `notes` distinct keys pressed.
fn random_rolls(n: usize, length: usize, notes: usize, seed: u64) -> Vec<SeqExample> {
    let mut rng = argen::rng::seeded(seed);
    (0..n)
        .map(|index| {
            let mut targets = vec![0f32; length * KEYS];
            for step in targets.chunks_mut(KEYS) {
                let mut pressed = 0;
                while pressed < notes {
                    let key = rng.random_range(0..KEYS);
                    if step[key] == 0.0 {
                        step[key] = 1.0;
                        pressed += 1;
                    }
                }
            }
            SeqExample::of_targets(targets, index)
        })
        .collect()
}

/// The task's data: synthetic sequences of the real task's shapes, or the library's own
/// generator where it has one.
fn task_data(task: &str, length: usize) -> anyhow::Result<SequenceData> {
    Ok(match task {
        "jsb" => {
            let output = OutputDistribution::Bernoulli { dims: KEYS };
            SequenceData::of_examples(
                "jsb-synthetic",
                output,
                random_rolls(229, length, 4, 1),
                random_rolls(76, length, 4, 2),
                Vec::new(),
            )
        }
        "digits" => {
            let mut rng = argen::rng::seeded(1);
            let rows: Vec<Vec<u32>> = (0..1_300)
                .map(|_| {
                    (0..length)
                        .map(|_| rng.random_range(0..DIGIT_LEVELS as u32))
                        .collect()
                })
                .collect();
            SequenceData::from_level_sequences("digits-synthetic", DIGIT_LEVELS, &rows, 300)?
        }
        "adding" => adding_problem(length, 2018),
        "sine" => load_sequences("sine")?,
        other => anyhow::bail!("unknown --task {other}: jsb, digits, adding or sine"),
    })
}

/// `n` examples of `set`, cycling from position `from`.
fn cycled(set: &[SeqExample], from: usize, n: usize) -> Vec<usize> {
    (0..n).map(|i| (from + i) % set.len()).collect()
}

fn main() -> anyhow::Result<()> {
    argen::memory::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let model_name: String = arg(&args, "--model", "lstm".to_string());
    let task: String = arg(&args, "--task", "jsb".to_string());
    let kind = SequenceModelKind::from_name(&model_name)
        .ok_or_else(|| anyhow::anyhow!("unknown --model {model_name}"))?;
    let steps: usize = arg(&args, "--steps", 20);
    let eval_steps: usize = arg(&args, "--eval-steps", steps.div_ceil(4).max(1));
    let runs: usize = arg(&args, "--runs", 3);
    let warmup: usize = arg(&args, "--warmup", 1);
    let eval_batch: usize = arg(&args, "--eval-batch", 256);
    let lr: f64 = arg(&args, "--lr", 1e-3);
    let s = setup(&args, kind, &task);

    let mut data = task_data(&task, s.length)?;
    let model_config = s.options.build(
        kind,
        data.input_channels(),
        data.output,
        data.num_classes,
        &data.name,
    )?;
    // As `sequence::load_data` does: the model's distribution stands for the data's.
    if model_config.output.can_stand_for(data.output) {
        data.output = model_config.output;
    }
    let training = TrainOptions::default()
        .batch_size(s.batch)
        .learning_rate(lr)
        .lr_schedule(LrSchedule::Constant)
        .clip_norm(s.clip);
    let config = SequenceTrainingConfig::new(model_config, data.name.clone(), training);
    let task_of = SequenceTask::new(&config, &data);
    let dims = data.output.dims();
    let time = data.train[0].len(dims);
    let label = format!("argen {model_name} {task}");
    let device = Device::flex().autodiff();
    let mut model: SequenceModel = task_of.init_model(&device);
    println!(
        "{label}: {}; batch {}, {time} steps, clip {:?}, eval batch {eval_batch}, {} threads",
        config.model.describe(),
        s.batch,
        s.clip,
        rayon::current_num_threads()
    );
    println!("{label} parameters: {}", model.num_params());

    // Training: forward, loss, backward, clipping, Adam, as the training loop does per batch.
    let _generator = argen::rng::seed_devices(std::slice::from_ref(&device), 0);
    let mut optim = argen::train::adam::adam(config.training.adam_epsilon as f32);
    let mut next = 0;
    let mut step = |model: SequenceModel| {
        let batch = cycled(&data.train, next, s.batch);
        next += s.batch;
        let weight = task_of.batch_weight(&batch);
        let (mut grads, value) = batch_gradients(
            &model,
            std::slice::from_ref(&device),
            &batch,
            |m, shard, d| task_of.shard_loss(m, shard, weight, d),
        );
        assert!(value.is_finite(), "the training loss became {value}");
        if let Some(max_norm) = s.clip {
            clip_global_norm(&model, &mut grads, max_norm);
        }
        optim.step(lr, model, grads)
    };
    for _ in 0..warmup.max(1) {
        model = step(model);
    }
    let mut train_rates = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..steps {
            model = step(model);
        }
        train_rates.push(steps as f64 / start.elapsed().as_secs_f64());
    }

    // Evaluation: one batch of `eval_batch` sequences per step, scored as the validation
    // split is.
    let plain = Device::flex();
    let valid = model.valid();
    let set: Vec<SeqExample> = cycled(&data.train, 0, eval_batch)
        .into_iter()
        .map(|i| data.train[i].clone())
        .collect();
    let eval = || evaluate_sequences(&config.model, &valid, &data, &set, eval_batch, &plain);
    assert!(eval().nats_per_step.is_finite());
    for _ in 1..warmup {
        eval();
    }
    let mut eval_rates = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..eval_steps {
            eval();
        }
        eval_rates.push(eval_steps as f64 / start.elapsed().as_secs_f64());
    }

    let show = |what: &str, rates: Vec<f64>, batch: usize| {
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.2}")).collect();
        let m = median(rates);
        println!(
            "{label} {what}: median {m:.2} steps/s, {:.1} sequences/s, {:.0} time steps/s (runs: {})",
            m * batch as f64,
            m * (batch * time) as f64,
            all.join(", ")
        );
    };
    show("train", train_rates, s.batch);
    show("eval", eval_rates, eval_batch);
    Ok(())
}
