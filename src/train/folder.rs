//! The files of a run folder, the same for every family, and the two guarantees they give:
//! a checkpoint commits as one unit, and a folder has one writer at a time.
//!
//! ```text
//! RUN/config.json             every setting (written once, when the run starts)
//! RUN/CHECKPOINT              the name of the current checkpoint folder: the commit point
//! RUN/epoch-00004/            the checkpoint after epoch 4:
//!     model.safetensors         the weights after that epoch
//!     best.safetensors          the weights of the best validation loss so far
//!     optimizer.bpk             Adam's state
//!     state.json                epochs done, steps, best validation loss
//!     metrics.csv               one line per epoch up to this one
//! RUN/.lock                   held by the process that writes the folder
//! ```
//!
//! An epoch's checkpoint is written into a new hidden folder, flushed, renamed to
//! `epoch-NNNNN`, and becomes current when `CHECKPOINT` is replaced (one atomic rename).
//! A kill or a full disk at any instant leaves the previous checkpoint current or the new one;
//! what a stopped commit leaves behind is removed when the next writer starts. The previous
//! checkpoint is kept beside the current one, so a reader that resolved it a moment before a
//! commit still finds its files. Folders written before checkpoint folders existed keep their
//! files at the top; they are read there and moved into a checkpoint at the next commit.

use std::fmt;
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::RunState;
use crate::files::{self, write_atomically, write_new};

/// The file naming the current checkpoint folder.
const POINTER: &str = "CHECKPOINT";
/// The lock file.
const LOCK: &str = ".lock";
/// The files of a checkpoint (and of the top of a folder written before checkpoints).
const LAST: &str = "model.safetensors";
const BEST: &str = "best.safetensors";
const OPTIMIZER: &str = "optimizer.bpk";
const STATE: &str = "state.json";
const METRICS: &str = "metrics.csv";

/// The files of a run folder.
#[derive(Debug, Clone)]
pub struct RunFolder(pub PathBuf);

/// The size and the 64-bit FNV-1a digest of a file's bytes: enough to notice a file of the
/// checkpoint replaced by another (not a defence against someone forging one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Length in bytes.
    pub bytes: u64,
    /// FNV-1a of the bytes, in hexadecimal.
    #[serde(with = "hex_u64")]
    pub fnv1a: u64,
}

impl FileDigest {
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in data {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Self {
            bytes: data.len() as u64,
            fnv1a: hash,
        }
    }
}

mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

/// The content of one epoch's checkpoint.
pub struct Checkpoint<'a> {
    /// The epoch it follows.
    pub epoch: usize,
    /// The weights after the epoch (safetensors).
    pub last: &'a [u8],
    /// The best weights when this epoch improved on them (`None`: the previous checkpoint's
    /// best weights stay the best).
    pub best: Option<&'a [u8]>,
    /// Adam's state.
    pub optimizer: &'a [u8],
    /// The run's progress.
    pub state: &'a RunState,
    /// The header of `metrics.csv` (for the first row) and this epoch's row.
    pub metrics_header: &'a str,
    /// This epoch's row (with its newline).
    pub metrics_row: &'a str,
}

impl RunFolder {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.0.join("config.json")
    }

    /// The folder of the current checkpoint: the one `CHECKPOINT` names, or the run folder
    /// itself for a folder written before checkpoint folders (or before its first epoch).
    pub fn checkpoint(&self) -> PathBuf {
        match fs::read_to_string(self.0.join(POINTER)) {
            Ok(name) if is_checkpoint_name(name.trim()) => self.0.join(name.trim()),
            _ => self.0.clone(),
        }
    }

    /// `model.safetensors`: the last epoch's weights.
    pub fn last_weights(&self) -> PathBuf {
        self.checkpoint().join(LAST)
    }
    /// `best.safetensors`: the best validation weights.
    pub fn best_weights(&self) -> PathBuf {
        self.checkpoint().join(BEST)
    }
    /// The weights to use: the best validation weights (`best`) or the last epoch's. A run
    /// that has been trained always has both; their absence is an error, not a fallback.
    pub fn weights(&self, best: bool) -> PathBuf {
        if best {
            self.best_weights()
        } else {
            self.last_weights()
        }
    }
    /// `optimizer.bpk`.
    pub fn optimizer(&self) -> PathBuf {
        self.checkpoint().join(OPTIMIZER)
    }
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.checkpoint().join(STATE)
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.checkpoint().join(METRICS)
    }

    /// Reads `config.json` as a `T`; `what` names the kind of run in the error message.
    pub fn read_config_as<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        let path = self.config();
        let text = fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {} (is {} a run folder?)",
                path.display(),
                self.0.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid {what} config", path.display()))
    }

    /// Restores Adam's state from `optimizer.bpk` into `optim`.
    pub fn load_optimizer(&self, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let path = self.optimizer();
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        optim
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(|e| anyhow::anyhow!("{} is corrupt: {e}", path.display()))
    }

    /// Reads `state.json` (a fresh state if the run has not finished an epoch yet).
    pub fn read_state(&self) -> Result<RunState> {
        let path = self.state();
        if !path.exists() {
            if self.last_weights().exists() {
                bail!(
                    "{} has weights but no {STATE}: the run's progress is lost, so it cannot \
                     be resumed (train into a new folder)",
                    self.checkpoint().display()
                );
            }
            return Ok(RunState::default());
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let state: RunState = serde_json::from_str(&text)
            .with_context(|| format!("{} is corrupt", path.display()))?;
        // A checkpoint folder is named after its epoch: a state that says otherwise was
        // edited or belongs elsewhere.
        let folder = self.checkpoint();
        if let Some(epoch) = folder
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("epoch-"))
            .and_then(|d| d.parse::<usize>().ok())
            && epoch != state.epochs_done
        {
            bail!(
                "{} says {} epochs are done, but it is the checkpoint of epoch {epoch}: it was \
                 edited or damaged",
                path.display(),
                state.epochs_done
            );
        }
        Ok(state)
    }

    /// Checks that the files `names` of the current checkpoint are those `state` was saved
    /// with (nothing to check for a run written before checkpoints had digests).
    pub fn verify(&self, state: &RunState, names: &[&str]) -> Result<()> {
        for name in names {
            let Some(expected) = state.files.get(*name) else {
                continue;
            };
            let path = self.checkpoint().join(name);
            let bytes =
                fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            if FileDigest::of(&bytes) != *expected {
                bail!(
                    "{} is not the file this checkpoint was saved with (its size or digest \
                     differs from {}): it was replaced or damaged",
                    path.display(),
                    self.state().display()
                );
            }
        }
        Ok(())
    }

    /// Checks the weights file `best` or last against the current state, when the state
    /// has digests.
    pub fn verify_weights(&self, best: bool) -> Result<()> {
        if !self.state().exists() {
            return Ok(());
        }
        let state = self.read_state()?;
        self.verify(&state, &[if best { BEST } else { LAST }])
    }

    /// Commits the checkpoint of an epoch as one unit (see the module documentation).
    pub fn commit(&self, checkpoint: &Checkpoint) -> Result<()> {
        let current = self.checkpoint();
        let name = checkpoint_name(checkpoint.epoch);
        let staging = self
            .0
            .join(format!(".{name}.{}.staging", std::process::id()));
        let result = self.stage(checkpoint, &current, &staging);
        if result.is_err() {
            let _ = fs::remove_dir_all(&staging);
            return result;
        }
        let target = self.0.join(&name);
        if target.exists() && target != current {
            files::step(&format!("removing {}", target.display()))?;
            fs::remove_dir_all(&target)
                .with_context(|| format!("cannot remove {}", target.display()))?;
        }
        files::rename(&staging, &target)?;
        // The commit point: from here on the new checkpoint is the run's.
        write_atomically(&self.0.join(POINTER), format!("{name}\n").as_bytes())?;
        self.remove_superseded(&name, &current)
    }

    /// Writes every file of `checkpoint` into the new folder `staging`.
    fn stage(&self, checkpoint: &Checkpoint, current: &Path, staging: &Path) -> Result<()> {
        files::step(&format!("creating {}", staging.display()))?;
        fs::create_dir(staging).with_context(|| format!("cannot create {}", staging.display()))?;
        write_new(&staging.join(LAST), checkpoint.last)?;
        write_new(&staging.join(OPTIMIZER), checkpoint.optimizer)?;
        match checkpoint.best {
            Some(best) => write_new(&staging.join(BEST), best)?,
            None => {
                let previous = current.join(BEST);
                files::step(&format!("linking {}", previous.display()))?;
                if fs::hard_link(&previous, staging.join(BEST)).is_err() {
                    let bytes = fs::read(&previous).with_context(|| {
                        format!("cannot read the best weights {}", previous.display())
                    })?;
                    write_new(&staging.join(BEST), &bytes)?;
                }
            }
        }
        let mut metrics = fs::read_to_string(current.join(METRICS))
            .unwrap_or_else(|_| checkpoint.metrics_header.to_string());
        metrics.push_str(checkpoint.metrics_row);
        write_new(&staging.join(METRICS), metrics.as_bytes())?;
        let mut state = checkpoint.state.clone();
        state.files.clear();
        state
            .files
            .insert(LAST.into(), FileDigest::of(checkpoint.last));
        state
            .files
            .insert(OPTIMIZER.into(), FileDigest::of(checkpoint.optimizer));
        let best = fs::read(staging.join(BEST))
            .with_context(|| format!("cannot read {}", staging.join(BEST).display()))?;
        state.files.insert(BEST.into(), FileDigest::of(&best));
        let state = serde_json::to_string_pretty(&state)?;
        write_new(&staging.join(STATE), state.as_bytes())?;
        files::sync_folder(staging)
    }

    /// After a commit: removes the checkpoints older than the previous one (`previous`, kept
    /// for readers that resolved it just before), and the top-level files of a folder written
    /// before checkpoint folders once they are in a checkpoint.
    fn remove_superseded(&self, current: &str, previous: &Path) -> Result<()> {
        for entry in
            fs::read_dir(&self.0).with_context(|| format!("cannot list {}", self.0.display()))?
        {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if let Some(name) = name
                && is_checkpoint_name(&name)
                && name != current
                && path != previous
            {
                files::step(&format!("removing {}", path.display()))?;
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        if previous == self.0 {
            for legacy in [LAST, BEST, OPTIMIZER, STATE, METRICS] {
                let path = self.0.join(legacy);
                if path.exists() {
                    files::step(&format!("removing {}", path.display()))?;
                    fs::remove_file(&path)
                        .with_context(|| format!("cannot remove {}", path.display()))?;
                }
            }
        }
        Ok(())
    }

    /// Removes what a stopped writer left: staging folders, temporary files, checkpoint
    /// folders that were never committed. Call it holding the lock.
    pub fn remove_leftovers(&self) -> Result<()> {
        let current = self.checkpoint();
        let Ok(entries) = fs::read_dir(&self.0) else {
            return Ok(());
        };
        let mut committed: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.ends_with(".staging") {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            } else if name.starts_with('.') && name.ends_with(".tmp") {
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            } else if is_checkpoint_name(&name) && path != current {
                committed.push(path);
            }
        }
        // A checkpoint newer than the current one was renamed into place but never made
        // current: it is not part of the run.
        let current_name = current
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for path in committed {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if !is_checkpoint_name(&current_name) || *name > *current_name {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        Ok(())
    }

    /// Takes the folder's write lock (an advisory lock on `RUN/.lock`, released when the
    /// guard is dropped or the process ends), or refuses with the holder's process id.
    pub fn lock(&self) -> Result<RunLock> {
        fs::create_dir_all(&self.0)
            .with_context(|| format!("cannot create {}", self.0.display()))?;
        let path = self.0.join(LOCK);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                bail!(
                    "{} is being written by another argen process{}; wait for it to finish \
                     or stop it",
                    self.0.display(),
                    if holder.is_empty() {
                        String::new()
                    } else {
                        format!(" (process {holder})")
                    }
                );
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| write!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(RunLock { _file: file })
    }
}

/// The write lock of a run folder ([`RunFolder::lock`]).
#[derive(Debug)]
pub struct RunLock {
    _file: fs::File,
}

/// The name of the checkpoint folder after `epoch`.
fn checkpoint_name(epoch: usize) -> String {
    format!("epoch-{epoch:05}")
}

/// Whether `name` is a checkpoint folder's name (`epoch-` and digits).
fn is_checkpoint_name(name: &str) -> bool {
    name.strip_prefix("epoch-")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// A fresh run folder under `parent`: `parent/<prefix>-1`, `-2`, ... (the first that does
/// not exist).
pub fn new_run_folder(parent: &Path, prefix: &str) -> PathBuf {
    (1..)
        .map(|i| parent.join(format!("{prefix}-{i}")))
        .find(|p| !p.exists())
        .expect("an unused name")
}

/// The family of a run, written as `"kind"` in its `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// An image model (Gated PixelCNN, PixelCNN) trained by gradient descent.
    Image,
    /// A neural sequence model (window MLP, GRU/LSTM, WaveNet, TCN).
    Sequence,
    /// A classical model fitted in closed form (AR(p), Markov chain of order k).
    Classic,
}

impl RunKind {
    /// [`RunKind::Image`]: the kind of a `config.json` without one (runs written before the
    /// field existed were all image runs).
    pub fn image() -> Self {
        RunKind::Image
    }
}

impl fmt::Display for RunKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunKind::Image => "image",
            RunKind::Sequence => "sequence",
            RunKind::Classic => "classic",
        })
    }
}
