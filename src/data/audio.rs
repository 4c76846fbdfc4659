//! Sound as sequences of discrete levels: WAV files read, mixed down to mono, resampled,
//! quantised (μ-law or linear), cut into training windows; and the way back to a WAV file.
//!
//! `--data wav:DIR` reads every `*.wav` file of a folder (8-, 16-, 24- or 32-bit integer
//! PCM or 32-bit float, any number of channels, any rate), with [`hound`]. Channels are
//! averaged, the rate is converted to the run's sample rate by [`rubato`]'s FFT resampler,
//! and each sample x ∈ [−1, 1] becomes one of 256 levels:
//!
//! - **μ-law** (the WaveNet paper's companding, μ = L − 1 = 255):
//!   F(x) = sign(x) · ln(1 + μ|x|) / ln(1 + μ), level = round((F(x) + 1) / 2 · μ). Quiet
//!   sounds get more levels than loud ones, as the ear hears them.
//! - **linear**: level = round((x + 1) / 2 · (L − 1)).
//!
//! The label of a file (for class-conditional audio, `--conditional`) is its name up to the
//! first `_` or `-` (`seven_012.wav` is a "seven"), or the `label` column of a `labels.csv`
//! (columns `file,label`) in the folder. Files are sorted by name; the 9th and 10th of every
//! ten (by position among the files of their label) are held out for validation and test.
//! Training reads windows of `window` samples at seeded random offsets (about one per
//! `window` samples of each file); validation and test score whole files.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::sequences::{
    FolderPart, SeqExample, SequenceData, SequenceDataError, files_with_extension, folder_part,
    tenths,
};
use crate::distributions::OutputDistribution;

/// Levels of a quantised sample (8-bit audio).
pub const AUDIO_LEVELS: usize = 256;
/// The default sample rate of an audio run (Hz).
pub const DEFAULT_SAMPLE_RATE: u32 = 16_000;
/// The default length of a training window (samples).
pub const DEFAULT_WINDOW: usize = 4_096;
/// The highest sample rate a run may ask for (Hz).
pub const MAX_SAMPLE_RATE: u32 = 192_000;
/// The longest training window (samples).
pub const MAX_WINDOW: usize = 1 << 20;
/// The most samples a folder may hold after resampling (about 11 minutes at 16 kHz; 4 bytes
/// per sample in memory, several times that in the training windows' one-hot batches).
pub const MAX_TOTAL_SAMPLES: usize = 10_000_000;
/// Seed of the training windows' offsets (fixed: a resumed run reads the same windows).
const WINDOW_SEED: u64 = 0xA0D1_0000;

/// How a sample in [−1, 1] becomes a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Quantisation {
    /// μ-law companding with μ = levels − 1.
    #[default]
    MuLaw,
    /// Equal steps over [−1, 1].
    Linear,
}

impl Quantisation {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::MuLaw => "mu-law",
            Self::Linear => "linear",
        }
    }

    /// The level (0..levels) of a sample x, clamped to [−1, 1].
    pub fn encode(self, x: f32, levels: usize) -> u32 {
        let top = (levels - 1) as f64;
        let x = f64::from(x).clamp(-1.0, 1.0);
        let y = match self {
            Self::MuLaw => x.signum() * (top * x.abs()).ln_1p() / top.ln_1p(),
            Self::Linear => x,
        };
        ((y + 1.0) / 2.0 * top).round().clamp(0.0, top) as u32
    }

    /// The sample in [−1, 1] a level stands for (the inverse of [`Self::encode`] up to the
    /// quantisation step).
    pub fn decode(self, level: u32, levels: usize) -> f32 {
        let top = (levels - 1) as f64;
        let y = 2.0 * f64::from(level.min(levels as u32 - 1)) / top - 1.0;
        let x = match self {
            Self::MuLaw => y.signum() * ((top.ln_1p() * y.abs()).exp() - 1.0) / top,
            Self::Linear => y,
        };
        x as f32
    }
}

impl std::str::FromStr for Quantisation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "mu-law" | "mulaw" | "μ-law" => Ok(Self::MuLaw),
            "linear" => Ok(Self::Linear),
            _ => Err(format!(
                "unknown quantisation '{s}': expected mu-law or linear"
            )),
        }
    }
}

/// How an audio run reads its sound; saved in the run's `config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioSpec {
    /// Samples per second the model works at (every file is resampled to it).
    pub sample_rate: u32,
    /// Samples per training window.
    pub window: usize,
    /// Level mapping.
    #[serde(default)]
    pub quantisation: Quantisation,
}

impl Default for AudioSpec {
    fn default() -> Self {
        Self {
            sample_rate: DEFAULT_SAMPLE_RATE,
            window: DEFAULT_WINDOW,
            quantisation: Quantisation::MuLaw,
        }
    }
}

impl AudioSpec {
    /// Checks the rate and the window are in range.
    pub fn validate(&self) -> Result<(), String> {
        if !(1_000..=MAX_SAMPLE_RATE).contains(&self.sample_rate) {
            return Err(format!(
                "--sample-rate {} is outside 1000..={MAX_SAMPLE_RATE} Hz",
                self.sample_rate
            ));
        }
        if !(2..=MAX_WINDOW).contains(&self.window) {
            return Err(format!(
                "--audio-window {} is outside 2..={MAX_WINDOW} samples",
                self.window
            ));
        }
        Ok(())
    }
}

/// What a sequence data set made from sound needs to turn levels back into sound.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFormat {
    /// The data's sample rate (Hz).
    pub sample_rate: u32,
    /// The level mapping.
    pub quantisation: Quantisation,
    /// The labels of the classes, in class order (one entry, "", for unlabelled folders).
    pub class_names: Vec<String>,
}

impl AudioFormat {
    /// The levels of a WAV file in this format (its rate and level mapping).
    pub fn levels_of(&self, path: &Path) -> Result<Vec<f32>, AudioError> {
        wav_levels(path, self.sample_rate, self.quantisation)
    }

    /// The samples in [−1, 1] of a sequence of levels.
    pub fn decode(&self, levels: &[f32]) -> Vec<f32> {
        levels
            .iter()
            .map(|&l| self.quantisation.decode(l as u32, AUDIO_LEVELS))
            .collect()
    }
}

/// The levels of the WAV file at `path` as a run at `sample_rate` Hz with `quantisation`
/// sees it: read, mixed down to one channel, resampled, quantised to 256 levels (the path
/// of every file of `wav:DIR`, and of a prefix to continue).
pub fn wav_levels(
    path: &Path,
    sample_rate: u32,
    quantisation: Quantisation,
) -> Result<Vec<f32>, AudioError> {
    let sound = read_wav(path)?;
    let samples = resample(&sound.samples, sound.sample_rate, sample_rate)
        .map_err(|m| file_error(path, m))?;
    Ok(samples
        .iter()
        .map(|&x| quantisation.encode(x, AUDIO_LEVELS) as f32)
        .collect())
}

/// Everything that can go wrong while reading sound.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// A file could not be read or is not a WAV file this reader understands.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The folder is missing, empty or too large.
    #[error("{}: {message}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

fn file_error(path: &Path, message: impl Into<String>) -> AudioError {
    AudioError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A WAV file's sound: mono samples in [−1, 1] (channels averaged) and its rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Sound {
    /// Mono samples.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub sample_rate: u32,
}

/// Reads a WAV file (8/16/24/32-bit PCM or 32-bit float, any channel count) as mono.
pub fn read_wav(path: &Path) -> Result<Sound, AudioError> {
    let bytes =
        std::fs::read(path).map_err(|e| file_error(path, format!("cannot read it ({e})")))?;
    decode_wav(&bytes).map_err(|m| file_error(path, m))
}

/// [`read_wav`] of the bytes of a WAV file.
pub fn decode_wav(bytes: &[u8]) -> Result<Sound, String> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes))
        .map_err(|e| format!("not a WAV file hound can read ({e})"))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 || spec.sample_rate == 0 {
        return Err("a WAV header with no channels or a zero sample rate".into());
    }
    let truncated = |e: hound::Error| format!("truncated or corrupt sample data ({e})");
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(truncated)?,
        hound::SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(format!("{}-bit samples", spec.bits_per_sample));
            }
            let scale = 1.0 / 2f64.powi(i32::from(spec.bits_per_sample) - 1);
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| (f64::from(v) * scale) as f32))
                .collect::<Result<_, _>>()
                .map_err(truncated)?
        }
    };
    if !interleaved.len().is_multiple_of(channels) {
        return Err("truncated: the last frame is incomplete".into());
    }
    if let Some(i) = interleaved.iter().position(|v| !v.is_finite()) {
        return Err(format!(
            "sample {i} is {}, not a finite number",
            interleaved[i]
        ));
    }
    let samples = interleaved
        .chunks(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok(Sound {
        samples,
        sample_rate: spec.sample_rate,
    })
}

/// Converts mono samples from rate `from` to rate `to` with rubato's FFT resampler (a
/// band-limited conversion; the identity when the rates are equal).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, String> {
    use rubato::Resampler;
    use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
    if from == to || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let mut resampler = rubato::Fft::<f32>::new(
        from as usize,
        to as usize,
        1024,
        1,
        rubato::FixedSync::Input,
    )
    .map_err(|e| format!("cannot resample {from} Hz to {to} Hz ({e})"))?;
    let input = vec![samples.to_vec()];
    let adapter = SequentialSliceOfVecs::new(&input, 1, samples.len())
        .map_err(|e| format!("resampling: {e}"))?;
    let out = resampler
        .process_all(&adapter, samples.len(), None)
        .map_err(|e| format!("cannot resample {from} Hz to {to} Hz ({e})"))?;
    Ok(out.take_data())
}

/// Writes mono samples in [−1, 1] as a 16-bit PCM WAV file, atomically (the old file or the
/// new one, never half of one).
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32) -> anyhow::Result<()> {
    crate::train::write_atomically(path, &encode_wav(samples, sample_rate)?)
}

/// The bytes of a 16-bit mono PCM WAV file of `samples` (clamped to [−1, 1]).
pub fn encode_wav(samples: &[f32], sample_rate: u32) -> anyhow::Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec)?;
    for &x in samples {
        writer.write_sample((f64::from(x).clamp(-1.0, 1.0) * 32767.0).round() as i16)?;
    }
    writer.finalize()?;
    Ok(bytes.into_inner())
}

/// The label of a file from its name: the stem up to the first `_` or `-`.
pub fn label_from_name(path: &Path) -> String {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    stem.split(['_', '-']).next().unwrap_or(stem).to_string()
}

/// The `labels.csv` of a folder (`file,label`), when it has one.
fn read_labels_csv(dir: &Path) -> Result<Option<BTreeMap<String, String>>, AudioError> {
    let path = dir.join("labels.csv");
    if !path.exists() {
        return Ok(None);
    }
    let bad = |m: String| file_error(&path, m);
    let mut reader = csv::Reader::from_path(&path).map_err(|e| bad(format!("{e}")))?;
    let headers = reader.headers().map_err(|e| bad(format!("{e}")))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                bad(format!(
                    "no '{name}' column (expected the columns file,label)"
                ))
            })
    };
    let (file, label) = (column("file")?, column("label")?);
    let mut labels = BTreeMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        let (Some(f), Some(l)) = (record.get(file), record.get(label)) else {
            return Err(bad(format!("row {} has too few columns", i + 2)));
        };
        labels.insert(f.trim().to_string(), l.trim().to_string());
    }
    Ok(Some(labels))
}

/// The WAV files of a folder, sorted by name.
pub fn wav_files(dir: &Path) -> Result<Vec<PathBuf>, AudioError> {
    files_with_extension(dir, &["wav"]).map_err(|message| AudioError::Folder {
        path: dir.to_path_buf(),
        message,
    })
}

/// One file's sound at the run's rate, as levels, with its label.
struct Clip {
    levels: Vec<f32>,
    label: String,
}

/// Loads `wav:DIR` with `spec` (see the module documentation).
pub fn load_wav_folder(
    name: &str,
    dir: &Path,
    spec: &AudioSpec,
) -> Result<SequenceData, SequenceDataError> {
    spec.validate().map_err(SequenceDataError::BadParameter)?;
    let files = wav_files(dir)?;
    let labels = read_labels_csv(dir)?;
    let mut clips = Vec::with_capacity(files.len());
    let mut total = 0usize;
    for path in &files {
        let levels = wav_levels(path, spec.sample_rate, spec.quantisation)?;
        if levels.len() < 2 {
            return Err(file_error(path, "fewer than 2 samples").into());
        }
        total += levels.len();
        if total > MAX_TOTAL_SAMPLES {
            return Err(AudioError::Folder {
                path: dir.to_path_buf(),
                message: format!(
                    "more than {MAX_TOTAL_SAMPLES} samples at {} Hz: use fewer files or a lower --sample-rate",
                    spec.sample_rate
                ),
            }
            .into());
        }
        let file_name = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
        let label = match &labels {
            Some(map) => map
                .get(file_name)
                .cloned()
                .ok_or_else(|| file_error(path, format!("no row for {file_name} in labels.csv")))?,
            None => label_from_name(path),
        };
        clips.push(Clip { levels, label });
    }
    let mut class_names: Vec<String> = clips.iter().map(|c| c.label.clone()).collect();
    class_names.sort();
    class_names.dedup();
    let class = |label: &str| class_names.iter().position(|c| c == label).unwrap_or(0);

    // Position of each clip among the clips of its label: the 9th and 10th of every ten are
    // held out. With fewer than 3 clips, every clip is cut in time into 10 pieces instead.
    let cut_in_time = clips.len() < 3;
    let pieces: Vec<(usize, Vec<f32>, usize)> = clips
        .into_iter()
        .enumerate()
        .flat_map(|(i, c)| {
            let label = class(&c.label);
            if !cut_in_time {
                return vec![(i, c.levels, label)];
            }
            tenths(&c.levels, 1)
                .into_iter()
                .map(|p| (i, p, label))
                .collect()
        })
        .collect();
    let mut seen = vec![0usize; class_names.len()];
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    let mut rng = crate::rng::seeded(WINDOW_SEED);
    let count = pieces.len();
    for (p, (index, levels, label)) in pieces.into_iter().enumerate() {
        let whole = |levels: Vec<f32>| SeqExample {
            label,
            ..SeqExample::of_targets(levels, index)
        };
        let k = seen[label];
        seen[label] += 1;
        match folder_part(p, k, count) {
            FolderPart::Test => test.push(whole(levels)),
            FolderPart::Valid => valid.push(whole(levels)),
            FolderPart::Train => {
                let len = levels.len();
                if len <= spec.window {
                    train.push(whole(levels));
                    continue;
                }
                for _ in 0..len.div_ceil(spec.window) {
                    let start = rng.random_range(0..=len - spec.window);
                    train.push(whole(levels[start..start + spec.window].to_vec()));
                }
            }
        }
    }
    if train.is_empty() || valid.is_empty() || test.is_empty() {
        return Err(SequenceDataError::BadParameter(format!(
            "{name}: {} files give no training, validation or test part; each label needs at least 3 files",
            files.len()
        )));
    }
    let output = OutputDistribution::Categorical {
        levels: AUDIO_LEVELS,
    };
    Ok(SequenceData {
        num_classes: class_names.len(),
        audio: Some(AudioFormat {
            sample_rate: spec.sample_rate,
            quantisation: spec.quantisation,
            class_names,
        }),
        ..SequenceData::of_examples(name, output, train, valid, test)
    })
}
