//! The files of a run folder, the same for every family.

use std::fs;
use std::path::{Path, PathBuf};

use std::fmt;

use anyhow::{Context, Result};
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::RunState;
use super::checkpoint::write_atomically;

/// The files of a run folder.
#[derive(Debug, Clone)]
pub struct RunFolder(pub PathBuf);

impl RunFolder {
    /// `config.json`.
    pub fn config(&self) -> PathBuf {
        self.0.join("config.json")
    }
    /// `model.safetensors`: the last epoch's weights.
    pub fn last_weights(&self) -> PathBuf {
        self.0.join("model.safetensors")
    }
    /// `best.safetensors`: the best validation weights.
    pub fn best_weights(&self) -> PathBuf {
        self.0.join("best.safetensors")
    }
    /// The weights to use: the best validation weights (`best`) when the run has them, or
    /// the last epoch's.
    pub fn weights(&self, best: bool) -> PathBuf {
        if best && self.best_weights().exists() {
            self.best_weights()
        } else {
            self.last_weights()
        }
    }
    /// `optimizer.bpk`.
    pub fn optimizer(&self) -> PathBuf {
        self.0.join("optimizer.bpk")
    }
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }
    /// `metrics.csv`.
    pub fn metrics(&self) -> PathBuf {
        self.0.join("metrics.csv")
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

    /// Writes Adam's state to `optimizer.bpk` atomically.
    pub fn save_optimizer(&self, optim: &ModuleOptimizer) -> Result<()> {
        let bytes = optim
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot serialise the optimiser: {e}"))?;
        write_atomically(&self.optimizer(), &bytes)
    }

    /// Appends `line` to `metrics.csv` (rewriting the file atomically; a missing file starts
    /// with `header`).
    pub fn append_metrics(&self, header: &str, line: &str) -> Result<()> {
        let mut text = fs::read_to_string(self.metrics()).unwrap_or_else(|_| header.to_string());
        text.push_str(line);
        write_atomically(&self.metrics(), text.as_bytes())
    }

    /// Reads `state.json` (a fresh state if the run has not finished an epoch yet).
    pub fn read_state(&self) -> Result<RunState> {
        let path = self.state();
        if !path.exists() {
            return Ok(RunState::default());
        }
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt", path.display()))
    }
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
