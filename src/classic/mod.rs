//! Models with finite memory, fitted in closed form: the conditional p(x_t | x_<t) looks
//! only at the last τ values.
//!
//! - [`ar`]: AR(p) for real-valued series, fitted by least squares, Yule-Walker or Burg,
//!   with order selection, forecasts and simulation.
//! - [`markov`]: Markov chains of order k over a finite alphabet, fitted by counting,
//!   with exact dynamic programmes along the chain and the reverse chain.
//!
//! A fitted model is saved in a run folder as `classic.json` ([`ClassicRun`]).

pub mod ar;
mod linalg;
pub mod markov;

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use linalg::Cholesky;

/// The file of a classical run folder.
pub const RUN_FILE: &str = "classic.json";

/// Everything about one fit: enough to reload the data, score it and sample from the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassicRun {
    /// The data source, as accepted by [`crate::data::series::SeriesSource`].
    pub data: String,
    /// Whether CSV rows with missing values were dropped.
    pub skip_missing: bool,
    /// The seed of synthetic data (`sine`).
    pub data_seed: u64,
    /// The fraction of the sequence held out at its end.
    pub holdout: f64,
    /// Length of the whole sequence.
    pub length: usize,
    /// Length of the training part (the first values; the rest is held out).
    pub train_length: usize,
    /// The fitted model.
    pub model: ClassicModel,
}

/// A fitted classical model, tagged by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClassicModel {
    /// An AR(p) model, with the order-selection table when the order was chosen.
    Ar {
        /// The fitted model.
        model: ar::ArModel,
        /// The scores of all orders, when `--max-order` chose the order.
        selection: Option<ar::Selection>,
    },
    /// A Markov chain of order k, with how its symbols map to the data.
    Markov {
        /// The fitted chain.
        chain: markov::MarkovChain,
        /// What the symbols stand for.
        alphabet: Alphabet,
    },
}

/// What the symbols of a chain stand for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Alphabet {
    /// Characters of a text: symbol i is the i-th character of `chars`.
    Chars {
        /// The sorted distinct characters.
        chars: String,
    },
    /// Bins of a real series.
    Bins {
        /// The bins.
        binning: markov::Binning,
    },
}

impl ClassicRun {
    /// Reads `RUN/classic.json`.
    pub fn load(run: &Path) -> Result<ClassicRun> {
        let path = run.join(RUN_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid classical run", path.display()))
    }

    /// Writes `RUN/classic.json` atomically, creating the folder.
    pub fn save(&self, run: &Path) -> Result<()> {
        std::fs::create_dir_all(run).with_context(|| format!("cannot create {}", run.display()))?;
        let json = serde_json::to_vec(self)?;
        crate::train::write_atomically(&run.join(RUN_FILE), &json)
    }
}
