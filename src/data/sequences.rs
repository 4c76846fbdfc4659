//! Sequence data sets for the neural sequence models, cut into train / validation / test.
//!
//! | `--data` | what | output distribution |
//! |---|---|---|
//! | `digits` | the 8x8 digits read as 64-step sequences of 17 levels, labels 0..9 | categorical |
//! | `adding:T` | the adding problem (Bai, Kolter, Koltun 2018): T pairs (value ~ U[0,1), marker), two markers set; predict the sum of the two marked values after the last pair | Gaussian, σ² = 1 (least squares) |
//! | `copy:T` | copy memory: 10 digits from 1..8, T − 1 blanks, the marker 9, 10 blanks; reproduce the 10 digits over the last 10 steps | categorical over 10 |
//! | `pianoroll:FILE` | polyphonic music as in `jsb_chorales.json`: `{"train": [piece, ...], "valid": ..., "test": ...}`, a piece a list of steps, a step the list of sounding MIDI notes 21..108 | 88 Bernoullis |
//! | `sine`, `sunspots`, `stocks:SYM`, `csv:FILE:COL` | a real series ([`crate::data::series`]), standardised with the training part's mean and deviation | Gaussian |
//! | `text:FILE` | a text read as characters ([`crate::data::series`]) | categorical over the alphabet |
//! | `midi:DIR` | a folder of MIDI files, all tracks merged and quantised to a grid of `--steps-per-beat` steps ([`crate::data::midi`]) | 88 Bernoullis |
//! | `wav:DIR` | a folder of WAV files, resampled and quantised to 256 levels ([`crate::data::audio`]) | categorical over 256 |
//!
//! A single series is split in time: the first 80% trains (the first 600 of the 1,000 `sine`
//! values, as in the Dive into Deep Learning chapter), the rest is the test part. Training
//! reads windows of the training part (the first [`SERIES_WARMUP`] steps of
//! each window, after the first, are context only); evaluation runs over the whole series and scores only
//! the held-out steps (each step still conditions on everything before it). The validation
//! part is the last fifth of the training part.
//!
//! Every example says what the network reads at each step (its inputs) and what it must
//! predict there (its targets), with a mask of the steps that count. For the generative data
//! the inputs are the targets themselves (the network at step t reads steps < t); the two
//! synthetic tasks give separate inputs.

use std::path::{Path, PathBuf};

use rand::RngExt;

use super::series::{self, LoadOptions, SeriesData, SeriesSource};
use crate::distributions::OutputDistribution;
use crate::rng::seeded;

/// Lowest MIDI note of a piano roll (A0).
pub const LOWEST_NOTE: i64 = 21;
/// Keys of a piano roll (A0..C8).
pub const KEYS: usize = 88;
/// Examples of each synthetic training set.
pub const SYNTHETIC_TRAIN: usize = 10_000;
/// Examples of each synthetic validation and test set.
pub const SYNTHETIC_HELD_OUT: usize = 1_000;
/// Seed of the synthetic data sets (fixed: `argen eval` regenerates the same test set).
pub const SYNTHETIC_SEED: u64 = 2018;
/// Length of the training windows cut from a single long series.
pub const SERIES_WINDOW: usize = 64;
/// The first steps of each training window of a series are read but not scored: there the
/// network would see the zeros before the window's start instead of the real past. Windows
/// overlap by half, so every step after the series' first few is scored in some window.
pub const SERIES_WARMUP: usize = 16;

/// One example: inputs, targets, which steps count, and a class.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqExample {
    /// What the network reads: `input_dims` numbers per step, encoded by the data set's
    /// `input_encoding`; `None` when the inputs are the targets.
    pub inputs: Option<Vec<f32>>,
    /// Targets: `output.dims()` numbers per step, laid out [time][dims].
    pub targets: Vec<f32>,
    /// 1 where the step's log-probability counts, 0 elsewhere; `None` for all steps.
    pub mask: Option<Vec<f32>>,
    /// Class or series id (0 when the data has none).
    pub label: usize,
    /// Per-step covariates, laid out [time][width]: row t holds what the model at step t
    /// may read (c_t, and c_{t+1} when they are known ahead; see [`CovariateLayout`]).
    pub covariates: Option<Vec<f32>>,
    /// The example's position in its source's order (digits: the CSV row; piano rolls: the
    /// train, valid, then test pieces; a single series: 0 for every window), the row of its
    /// vector in a `vectors:FILE`.
    pub index: usize,
    /// The conditioning vector h of the sequence (like a speaker vector), when given.
    pub vector: Option<Vec<f32>>,
}

impl SeqExample {
    /// A generative example: the network reads the `targets` themselves, every step is
    /// scored, no class, covariates or vector; `index` is its position in its source.
    pub fn of_targets(targets: Vec<f32>, index: usize) -> Self {
        Self {
            inputs: None,
            targets,
            mask: None,
            label: 0,
            covariates: None,
            index,
            vector: None,
        }
    }

    /// Number of steps.
    pub fn len(&self, dims: usize) -> usize {
        self.targets.len() / dims
    }
}

/// The part of a data set a piece of a folder (`wav:DIR`, `midi:DIR`) goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FolderPart {
    Train,
    Valid,
    Test,
}

/// The rule that splits a folder's pieces: of `count` pieces in name order, piece `p`, the
/// `k`-th of its label, is held out when it is the 9th (validation) or 10th (test) of every
/// ten of its label; with fewer than ten pieces in all, the last two are.
pub(crate) fn folder_part(p: usize, k: usize, count: usize) -> FolderPart {
    let from_end = if count < 10 {
        count - 1 - p.min(count - 1)
    } else {
        9 - k % 10
    };
    match from_end {
        0 => FolderPart::Test,
        1 => FolderPart::Valid,
        _ => FolderPart::Train,
    }
}

/// `values` ([time][width]) cut in time into (at most) ten pieces of equal length, the last
/// shorter: how a folder of fewer than three files still gives a training, validation and
/// test part.
pub(crate) fn tenths(values: &[f32], width: usize) -> Vec<Vec<f32>> {
    let steps = (values.len() / width).div_ceil(10).max(1);
    values.chunks(steps * width).map(<[f32]>::to_vec).collect()
}

/// The files of `dir` whose extension is one of `extensions` (any case), sorted by name;
/// an error message when the folder cannot be read or holds none.
pub(crate) fn files_with_extension(
    dir: &Path,
    extensions: &[&str],
) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read it ({e})"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
        })
        .collect();
    if files.is_empty() {
        let names: Vec<String> = extensions.iter().map(|e| format!(".{e}")).collect();
        return Err(format!("no {} file in this folder", names.join(" or ")));
    }
    files.sort();
    Ok(files)
}

/// A sequence data set.
#[derive(Debug, Clone)]
pub struct SequenceData {
    /// The source, as given to `--data`.
    pub name: String,
    /// The distribution of a target step.
    pub output: OutputDistribution,
    /// How an input step is encoded (for separate inputs; the output's encoding otherwise).
    pub input_encoding: OutputDistribution,
    /// Number of classes (1 when the data has none).
    pub num_classes: usize,
    /// Training examples.
    pub train: Vec<SeqExample>,
    /// Validation examples.
    pub valid: Vec<SeqExample>,
    /// Test examples.
    pub test: Vec<SeqExample>,
    /// For a standardised real series: the mean and deviation that were removed.
    pub scale: Option<(f64, f64)>,
    /// Copy memory: accuracy is measured on this many final steps of each example.
    pub recall_last: usize,
    /// For text: the alphabet (symbol i is `alphabet[i]`).
    pub alphabet: Option<Vec<char>>,
    /// For a series with per-step covariates: which, and how a step reads them.
    pub covariates: Option<CovariateLayout>,
    /// For sound (`wav:DIR`): the sample rate, the level mapping and the class names.
    pub audio: Option<super::audio::AudioFormat>,
}

/// The per-step covariates c_t of a series (`--covariates COL,COL`), standardised by the
/// training part's mean and deviation of each column.
///
/// The rule: the model at step t reads x_<t and c_≤t; with `known_ahead` (calendar
/// features, planned prices) also c_{t+1}. Row t of an example's covariates holds what
/// step t reads beyond what earlier steps read: c_t, or [c_t, c_{t+1}] (`width` = K or 2K).
#[derive(Debug, Clone, PartialEq)]
pub struct CovariateLayout {
    /// The covariate columns, in order.
    pub columns: Vec<String>,
    /// Whether step t also reads c_{t+1}.
    pub known_ahead: bool,
    /// The standardised covariates of every row of the file, [row][K]: the rows with a
    /// target, then the future rows (forecasting reads those).
    pub rows: Vec<f32>,
    /// The mean and deviation removed from each column.
    pub scale: Vec<(f64, f64)>,
}

impl CovariateLayout {
    /// Covariate columns K.
    pub fn columns(&self) -> usize {
        self.columns.len()
    }

    /// Values a step reads: K, or 2K when known ahead.
    pub fn width(&self) -> usize {
        self.columns() * if self.known_ahead { 2 } else { 1 }
    }

    /// Rows of covariates in the file (with a target or future).
    pub fn len(&self) -> usize {
        self.rows.len() / self.columns().max(1)
    }

    /// Whether the file has no covariate rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// What steps `from..from + len` read, [step][width]; `None` when the file's rows end
    /// before the last of them needs (c_{t+1} for the last step when known ahead).
    pub fn aligned(&self, from: usize, len: usize) -> Option<Vec<f32>> {
        let k = self.columns();
        let needed = from + len + usize::from(self.known_ahead);
        if needed > self.len() {
            return None;
        }
        let row = |t: usize| &self.rows[t * k..(t + 1) * k];
        let mut out = Vec::with_capacity(len * self.width());
        for t in from..from + len {
            out.extend_from_slice(row(t));
            if self.known_ahead {
                out.extend_from_slice(row(t + 1));
            }
        }
        Some(out)
    }
}

impl SequenceData {
    /// A generative data set of `output` steps (the network reads what it predicts) with
    /// its three parts, and nothing else: no classes, scale, alphabet, covariates or sound.
    /// The form the data sources start from.
    pub fn of_examples(
        name: impl Into<String>,
        output: OutputDistribution,
        train: Vec<SeqExample>,
        valid: Vec<SeqExample>,
        test: Vec<SeqExample>,
    ) -> Self {
        Self {
            name: name.into(),
            output,
            input_encoding: output,
            num_classes: 1,
            train,
            valid,
            test,
            scale: None,
            recall_last: 0,
            alphabet: None,
            covariates: None,
            audio: None,
        }
    }

    /// A real series `target` with per-step `covariates` ([row][K], one row per step of the
    /// target and then the future rows), cut as a single series is (see
    /// [`SequenceData::from_values`]); each example carries the covariates its steps read.
    pub fn with_covariates(
        name: &str,
        target: &[f64],
        covariates: &[Vec<f64>],
        columns: Vec<String>,
        known_ahead: bool,
    ) -> Result<SequenceData, SequenceDataError> {
        let mut data = Self::from_values(name, target)?;
        let k = columns.len();
        let n = target.len();
        if k == 0 {
            return Err(SequenceDataError::BadParameter(format!(
                "{name}: no covariate columns"
            )));
        }
        if covariates.len() < n + usize::from(known_ahead) {
            return Err(SequenceDataError::BadParameter(format!(
                "{name}: {} covariate rows for {n} steps{}",
                covariates.len(),
                if known_ahead {
                    " (covariates known ahead need one row past the last target)"
                } else {
                    ""
                }
            )));
        }
        if let Some((t, row)) = covariates
            .iter()
            .enumerate()
            .find(|(_, r)| r.len() != k || r.iter().any(|v| !v.is_finite()))
        {
            return Err(SequenceDataError::BadParameter(format!(
                "{name}: covariate row {t} is {row:?}: expected {k} finite numbers"
            )));
        }
        let split = series_split(name, n).max(1);
        let scale: Vec<(f64, f64)> = (0..k)
            .map(|j| {
                let train: Vec<f64> = covariates[..split].iter().map(|r| r[j]).collect();
                mean_and_deviation(&train)
            })
            .collect();
        let rows = covariates
            .iter()
            .flat_map(|r| {
                r.iter()
                    .zip(&scale)
                    .map(|(v, (m, s))| ((v - m) / s) as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let layout = CovariateLayout {
            columns,
            known_ahead,
            rows,
            scale,
        };
        // Each example starts where its targets start in the series: the training windows
        // at multiples of the stride, the validation and test parts at step 0.
        let stride = (SERIES_WINDOW.min(split) / 2).max(1);
        for (i, e) in data.train.iter_mut().enumerate() {
            e.covariates = layout.aligned(i * stride, e.len(1));
        }
        for e in data.valid.iter_mut().chain(data.test.iter_mut()) {
            e.covariates = layout.aligned(0, e.len(1));
        }
        data.covariates = Some(layout);
        Ok(data)
    }
}

impl SequenceData {
    /// The same data with a conditioning vector per sequence: row `e.index` of `vectors`
    /// for each example `e`. Errors when the file's row count differs from the number of
    /// sequences of the source (1 for a single series).
    pub fn with_vectors(
        mut self,
        vectors: &super::ConditionVectors,
    ) -> Result<SequenceData, super::DataError> {
        let all = || self.train.iter().chain(&self.valid).chain(&self.test);
        let count = all().map(|e| e.index + 1).max().unwrap_or(0);
        if vectors.rows() != count {
            return Err(super::DataError::Vectors {
                origin: vectors.origin.clone(),
                problem: format!(
                    "{} rows, but {} has {count} sequences (one row per sequence, in the data's order)",
                    vectors.rows(),
                    self.name
                ),
            });
        }
        for e in self
            .train
            .iter_mut()
            .chain(self.valid.iter_mut())
            .chain(self.test.iter_mut())
        {
            e.vector = Some(vectors.row(e.index).to_vec());
        }
        Ok(self)
    }

    /// A single real series held in memory, cut as a series named on the command line is:
    /// standardised by the training part's mean and deviation, training windows of
    /// [`SERIES_WINDOW`] steps from the first 80%, the rest held out.
    pub fn from_values(name: &str, values: &[f64]) -> Result<SequenceData, SequenceDataError> {
        if values.len() < 10 {
            return Err(SequenceDataError::TooShort(format!(
                "{name} has {} values; a series needs at least 10",
                values.len()
            )));
        }
        if let Some(t) = values.iter().position(|v| !v.is_finite()) {
            return Err(SequenceDataError::BadParameter(format!(
                "value {t} of {name} is {}, not a finite number",
                values[t]
            )));
        }
        Ok(single_series(
            name,
            SeriesData::Real(series::Series {
                name: name.to_string(),
                values: values.to_vec(),
                dates: None,
            }),
        ))
    }

    /// Sequences of discrete levels held in memory (`rows`, each value below `levels`), as a
    /// data set: the last `n_valid` rows held out for validation, no test part. Errors when
    /// there are fewer than two rows, a row is empty or a value is out of range.
    pub fn from_level_sequences(
        name: &str,
        levels: usize,
        rows: &[Vec<u32>],
        n_valid: usize,
    ) -> Result<SequenceData, SequenceDataError> {
        let bad = |m: String| Err(SequenceDataError::BadParameter(m));
        if !(2..=65_536).contains(&levels) {
            return bad(format!(
                "{levels} levels: between 2 and 65,536 are supported"
            ));
        }
        if rows.len() < 2 || !(1..rows.len()).contains(&n_valid) {
            return bad(format!(
                "{} sequences with {n_valid} held out: training and validation need at least one each",
                rows.len()
            ));
        }
        for (i, row) in rows.iter().enumerate() {
            if row.is_empty() {
                return bad(format!("sequence {i} of {name} is empty"));
            }
            if let Some(&v) = row.iter().find(|&&v| v as usize >= levels) {
                return bad(format!(
                    "sequence {i} of {name} holds the value {v}, but the levels are 0..{}",
                    levels - 1
                ));
            }
        }
        let example = |(index, row): (usize, &Vec<u32>)| {
            SeqExample::of_targets(row.iter().map(|&v| v as f32).collect(), index)
        };
        let split = rows.len() - n_valid;
        Ok(SequenceData::of_examples(
            name,
            OutputDistribution::Categorical { levels },
            rows[..split].iter().enumerate().map(example).collect(),
            rows[split..]
                .iter()
                .enumerate()
                .map(|(i, r)| example((split + i, r)))
                .collect(),
            Vec::new(),
        ))
    }

    /// Channels of the encoded network input at each step.
    pub fn input_channels(&self) -> usize {
        self.input_encoding.input_channels()
    }
}

/// Everything that can go wrong while building a sequence data set.
#[derive(Debug, thiserror::Error)]
pub enum SequenceDataError {
    /// The `--data` value is none of the accepted forms.
    #[error(
        "unknown sequence data '{0}': expected `digits`, `adding:T`, `copy:T`, \
         `pianoroll:FILE`, `midi:DIR`, `wav:DIR`, `sine`, `sunspots`, `stocks:SYM`, `csv:FILE:COL` or `text:FILE`"
    )]
    UnknownSource(String),
    /// A parameter of a synthetic task is out of range.
    #[error("{0}")]
    BadParameter(String),
    /// A piano-roll file is malformed (the message names the file and the place).
    #[error("bad piano roll {}: {message}", path.display())]
    PianoRoll {
        /// The file.
        path: PathBuf,
        /// What and where.
        message: String,
    },
    /// A series is too short for the model.
    #[error("{0}")]
    TooShort(String),
    /// Loading the digits failed.
    #[error(transparent)]
    Images(#[from] super::DataError),
    /// Loading a series failed.
    #[error(transparent)]
    Series(#[from] series::SeriesError),
    /// Reading sound failed.
    #[error(transparent)]
    Audio(#[from] super::audio::AudioError),
    /// Reading MIDI files failed.
    #[error(transparent)]
    Midi(#[from] super::midi::MidiError),
}

/// Loads the sequence data set named `name` (see the module documentation); sound and
/// MIDI files with the default [`AudioSpec`](super::audio::AudioSpec) and
/// [`MidiSpec`](super::midi::MidiSpec).
pub fn load_sequences(name: &str) -> Result<SequenceData, SequenceDataError> {
    load_sequences_with(name, None, None)
}

/// [`load_sequences`] reading sound (`wav:DIR`) with `audio` and MIDI files (`midi:DIR`)
/// with `midi` (the defaults when `None`); either given for other data is an error.
pub fn load_sequences_with(
    name: &str,
    audio: Option<&super::audio::AudioSpec>,
    midi: Option<&super::midi::MidiSpec>,
) -> Result<SequenceData, SequenceDataError> {
    let audio_flags = "--sample-rate, --audio-window and --quantisation apply to wav:DIR data";
    let midi_flags = "--steps-per-beat applies to midi:DIR data";
    let refuse = |flags: &str| {
        Err(SequenceDataError::BadParameter(format!(
            "{flags}, not to {name}"
        )))
    };
    if let Some(dir) = name.strip_prefix("wav:") {
        if midi.is_some() {
            return refuse(midi_flags);
        }
        let spec = audio.cloned().unwrap_or_default();
        return super::audio::load_wav_folder(name, Path::new(dir), &spec);
    }
    if audio.is_some() {
        return refuse(audio_flags);
    }
    if let Some(dir) = name.strip_prefix("midi:") {
        let spec = midi.copied().unwrap_or_default();
        return super::midi::load_midi_folder(name, Path::new(dir), &spec);
    }
    if midi.is_some() {
        return refuse(midi_flags);
    }
    if name == "digits" {
        return digits_as_sequences();
    }
    if let Some(t) = name.strip_prefix("adding:") {
        return Ok(adding_problem(parse_length(name, t)?, SYNTHETIC_SEED));
    }
    if let Some(t) = name.strip_prefix("copy:") {
        return Ok(copy_memory(parse_length(name, t)?, SYNTHETIC_SEED));
    }
    if let Some(path) = name.strip_prefix("pianoroll:") {
        let path = Path::new(path);
        let text = std::fs::read_to_string(path).map_err(|e| SequenceDataError::PianoRoll {
            path: path.to_path_buf(),
            message: format!("cannot read it ({e})"),
        })?;
        return piano_roll(&text, path, name);
    }
    let source: SeriesSource = name
        .parse()
        .map_err(|_| SequenceDataError::UnknownSource(name.to_string()))?;
    let data = series::load_series(
        &source,
        LoadOptions {
            skip_missing: false,
            seed: 0,
        },
    )?;
    Ok(single_series(name, data))
}

/// The longest synthetic task: its 12,000 sequences of T steps take about 12,000 · T · 16
/// bytes (inputs, targets, masks), 3.8 GB at this bound.
pub const MAX_TASK_LENGTH: usize = 20_000;

fn parse_length(name: &str, t: &str) -> Result<usize, SequenceDataError> {
    match t.parse::<usize>() {
        Ok(t) if (2..=MAX_TASK_LENGTH).contains(&t) => Ok(t),
        _ => Err(SequenceDataError::BadParameter(format!(
            "{name}: the length T must be a whole number in 2..={MAX_TASK_LENGTH} (the 12,000 \
             sequences of the task take about 12,000 · T · 16 bytes)"
        ))),
    }
}

/// The 8x8 digits as 64-step sequences (raster order), same split as the images.
pub fn digits_as_sequences() -> Result<SequenceData, SequenceDataError> {
    let images = super::load(&super::DataSource::Digits)?;
    let convert = |set: &super::ImageSet| -> Vec<SeqExample> {
        (0..set.len())
            .map(|i| SeqExample {
                label: usize::from(set.labels[i]),
                ..SeqExample::of_targets(
                    set.image(i).iter().map(|&v| f32::from(v)).collect(),
                    set.index[i],
                )
            })
            .collect()
    };
    let output = OutputDistribution::Categorical {
        levels: images.levels,
    };
    Ok(SequenceData {
        num_classes: images.num_classes,
        ..SequenceData::of_examples(
            "digits",
            output,
            convert(&images.train),
            convert(&images.valid),
            convert(&images.test),
        )
    })
}

/// The adding problem of length T: inputs T + 1 steps of (value, marker), the last all
/// zero; the target, at the last step only, is the sum of the two marked values (one marker
/// in each half, as in Le et al. 2015).
pub fn adding_problem(t: usize, seed: u64) -> SequenceData {
    let mut rng = seeded(seed);
    let mut make = |n: usize| -> Vec<SeqExample> {
        (0..n)
            .map(|_| {
                let mut inputs = vec![0f32; 2 * (t + 1)];
                for s in 0..t {
                    inputs[2 * s] = rng.random::<f32>();
                }
                let first = rng.random_range(0..t / 2);
                let second = rng.random_range(t / 2..t);
                inputs[2 * first + 1] = 1.0;
                inputs[2 * second + 1] = 1.0;
                let mut targets = vec![0f32; t + 1];
                targets[t] = inputs[2 * first] + inputs[2 * second];
                let mut mask = vec![0f32; t + 1];
                mask[t] = 1.0;
                SeqExample {
                    inputs: Some(inputs),
                    targets,
                    mask: Some(mask),
                    label: 0,
                    covariates: None,
                    index: 0,
                    vector: None,
                }
            })
            .collect()
    };
    let train = make(SYNTHETIC_TRAIN);
    let valid = make(SYNTHETIC_HELD_OUT);
    let test = make(SYNTHETIC_HELD_OUT);
    let output = OutputDistribution::Gaussian {
        dims: 1,
        fixed_variance: true,
    };
    SequenceData {
        input_encoding: OutputDistribution::Gaussian {
            dims: 2,
            fixed_variance: true,
        },
        ..SequenceData::of_examples(format!("adding:{t}"), output, train, valid, test)
    }
}

/// Copy memory of blank length T: the input a (N = T + 20 steps) is 10 digits from 1..8,
/// T − 1 blanks (0), the marker 9, then 10 blanks; the target y is blanks, then the 10
/// digits over the last 10 steps. y_t may depend on a_0..a_t, so the network reads a_t at
/// position t + 1 and predicts y_t there: N + 1 positions, the first one not scored.
pub fn copy_memory(t: usize, seed: u64) -> SequenceData {
    let mut rng = seeded(seed);
    let n = t + 20;
    let mut make = |count: usize| -> Vec<SeqExample> {
        (0..count)
            .map(|_| {
                let digits: Vec<f32> = (0..10).map(|_| rng.random_range(1..=8) as f32).collect();
                let mut a = vec![0f32; n + 1];
                a[..10].copy_from_slice(&digits);
                a[t + 9] = 9.0;
                let mut y = vec![0f32; n + 1];
                y[n + 1 - 10..].copy_from_slice(&digits);
                let mut mask = vec![1f32; n + 1];
                mask[0] = 0.0;
                SeqExample {
                    inputs: Some(a),
                    targets: y,
                    mask: Some(mask),
                    label: 0,
                    covariates: None,
                    index: 0,
                    vector: None,
                }
            })
            .collect()
    };
    let train = make(SYNTHETIC_TRAIN);
    let valid = make(SYNTHETIC_HELD_OUT);
    let test = make(SYNTHETIC_HELD_OUT);
    let output = OutputDistribution::Categorical { levels: 10 };
    SequenceData {
        recall_last: 10,
        ..SequenceData::of_examples(format!("copy:{t}"), output, train, valid, test)
    }
}

/// Parses a piano-roll JSON text (`{"train": [...], "valid": [...], "test": [...]}`, a piece a
/// list of steps, a step a list of MIDI notes 21..108) into 88-key multi-hot sequences.
pub fn piano_roll(text: &str, path: &Path, name: &str) -> Result<SequenceData, SequenceDataError> {
    let bad = |message: String| SequenceDataError::PianoRoll {
        path: path.to_path_buf(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let mut parts = Vec::new();
    for split in ["train", "valid", "test"] {
        let pieces = value
            .get(split)
            .and_then(|v| v.as_array())
            .ok_or_else(|| bad(format!("no list of pieces under \"{split}\"")))?;
        if pieces.is_empty() {
            return Err(bad(format!("\"{split}\" holds no piece")));
        }
        let mut examples = Vec::with_capacity(pieces.len());
        for (p, piece) in pieces.iter().enumerate() {
            let steps = piece.as_array().filter(|s| !s.is_empty()).ok_or_else(|| {
                bad(format!(
                    "{split} piece {p} is not a non-empty list of steps"
                ))
            })?;
            let mut targets = vec![0f32; steps.len() * KEYS];
            for (s, step) in steps.iter().enumerate() {
                let notes = step.as_array().ok_or_else(|| {
                    bad(format!(
                        "{split} piece {p}, step {s} is {step}, not a list of notes (ragged roll)"
                    ))
                })?;
                for note in notes {
                    let key = note
                        .as_i64()
                        .filter(|n| (LOWEST_NOTE..LOWEST_NOTE + KEYS as i64).contains(n))
                        .ok_or_else(|| {
                            bad(format!(
                                "{split} piece {p}, step {s}: {note} is not a MIDI note in 21..=108"
                            ))
                        })?;
                    targets[s * KEYS + (key - LOWEST_NOTE) as usize] = 1.0;
                }
            }
            let index = parts.iter().map(Vec::len).sum::<usize>() + p;
            examples.push(SeqExample::of_targets(targets, index));
        }
        parts.push(examples);
    }
    let test = parts.pop().expect("three parts");
    let valid = parts.pop().expect("three parts");
    let train = parts.pop().expect("three parts");
    let output = OutputDistribution::Bernoulli { dims: KEYS };
    Ok(SequenceData::of_examples(name, output, train, valid, test))
}

/// The mean and the (biased) standard deviation of `values`, the deviation at least 1e-12
/// (a constant series is then left as zeros, not divided by zero).
fn mean_and_deviation(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, var.sqrt().max(1e-12))
}

/// Index where the test part of a single series of `n` steps begins (600 for `sine`).
pub fn series_split(name: &str, n: usize) -> usize {
    if name == "sine" {
        600.min(n)
    } else {
        series::split_point(n, series::DEFAULT_HOLDOUT)
    }
}

/// A single series (real or text) as training windows and masked whole-series held-out parts.
pub fn single_series(name: &str, data: SeriesData) -> SequenceData {
    let (values, output, scale, alphabet) = match data {
        SeriesData::Real(s) => {
            let split = series_split(name, s.values.len());
            let (mean, std) = mean_and_deviation(&s.values[..split.max(1)]);
            let values: Vec<f32> = s.values.iter().map(|v| ((v - mean) / std) as f32).collect();
            let output = OutputDistribution::Gaussian {
                dims: 1,
                fixed_variance: false,
            };
            (values, output, Some((mean, std)), None)
        }
        SeriesData::Symbols(s) => {
            let values = s.symbols.iter().map(|&v| v as f32).collect();
            let output = OutputDistribution::Categorical {
                levels: s.alphabet.len().max(2),
            };
            (values, output, None, Some(s.alphabet))
        }
    };
    let n = values.len();
    let split = series_split(name, n);
    let valid_from = split - split / 5;
    let whole = |from: usize, to: usize| SeqExample {
        inputs: None,
        targets: values.clone(),
        mask: Some(
            (0..n)
                .map(|t| f32::from(u8::from((from..to).contains(&t))))
                .collect(),
        ),
        label: 0,
        covariates: None,
        index: 0,
        vector: None,
    };
    let window = SERIES_WINDOW.min(split.max(1));
    let stride = (window / 2).max(1);
    let train = (0..)
        .map(|i| i * stride)
        .take_while(|&start| start + window <= split.max(window))
        .map(|start| {
            let len = (start + window).min(n) - start;
            let warmup = if start == 0 {
                0
            } else {
                SERIES_WARMUP.min(window / 2)
            };
            SeqExample {
                inputs: None,
                targets: values[start..start + len].to_vec(),
                mask: Some((0..len).map(|t| f32::from(u8::from(t >= warmup))).collect()),
                label: 0,
                covariates: None,
                index: 0,
                vector: None,
            }
        })
        .collect();
    let (valid, test) = (vec![whole(valid_from, split)], vec![whole(split, n)]);
    SequenceData {
        scale,
        alphabet,
        ..SequenceData::of_examples(name, output, train, valid, test)
    }
}
