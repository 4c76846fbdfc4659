//! Models with finite memory, fitted in closed form: the conditional p(x_t | x_<t) looks
//! only at the last τ values.
//!
//! - [`ar`]: AR(p) for real-valued series, fitted by least squares, Yule-Walker or Burg,
//!   with order selection, forecasts and simulation.
//! - [`arx`]: ARX(p), AR with exogenous regressors (per-step covariates read from the same
//!   CSV file), fitted by least squares, with order selection and forecasts given the
//!   future covariates.
//! - [`markov`]: Markov chains of order k over a finite alphabet, fitted by counting,
//!   with exact dynamic programmes along the chain and the reverse chain.
//!
//! A fitted model is saved in a run folder as `classic.json` ([`ClassicRun`]).

pub mod ar;
pub mod arx;
mod linalg;
pub mod markov;

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::data::series::{
    CovariateSeries, LoadOptions, Series, SeriesData, SeriesSource, encode_chars,
    load_csv_with_covariates, load_real, load_series,
};
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
    /// An ARX(p) model: AR with the covariates of the named columns of the CSV file of
    /// `data` (whose column is the target).
    Arx {
        /// The fitted model.
        model: arx::ArxModel,
        /// The scores of all orders, when `--max-order` chose the order.
        selection: Option<ar::Selection>,
        /// The covariate columns, in the order of the model's `exog_coefs`.
        covariates: Vec<String>,
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

    /// The values of an AR run's series, reloaded from its data source.
    pub fn values(&self) -> Result<Series> {
        let run = self;
        let source: SeriesSource = run.data.parse()?;
        let series = load_real(
            &source,
            LoadOptions {
                skip_missing: run.skip_missing,
                seed: run.data_seed,
            },
        )?;
        if series.values.len() != run.length {
            bail!(
                "{} now has {} values, but the run was fitted when it had {}",
                run.data,
                series.values.len(),
                run.length
            );
        }
        Ok(series)
    }

    /// The target and covariates of an ARX run, reloaded from its CSV file: the target must
    /// still have the length it had when the run was fitted; the file may since have gained
    /// (or lost) future rows of covariates past the target's end.
    pub fn covariate_values(&self, columns: &[String]) -> Result<CovariateSeries> {
        let source: SeriesSource = self.data.parse()?;
        let SeriesSource::Csv { path, column } = &source else {
            bail!(
                "{} is not a CSV source, but the run has covariates (columns {})",
                self.data,
                columns.join(", ")
            );
        };
        let series = load_csv_with_covariates(path, column, columns)?;
        if series.target.len() != self.length {
            bail!(
                "{} now has {} values of '{column}', but the run was fitted when it had {}",
                path.display(),
                series.target.len(),
                self.length
            );
        }
        Ok(series)
    }

    /// The symbols of a chain run's sequence, reloaded and encoded with the run's alphabet.
    pub fn symbols(&self, alphabet: &Alphabet) -> Result<Vec<u32>> {
        let run = self;
        let source: SeriesSource = run.data.parse()?;
        let options = LoadOptions {
            skip_missing: run.skip_missing,
            seed: run.data_seed,
        };
        let symbols = match (load_series(&source, options)?, alphabet) {
            (SeriesData::Symbols(s), Alphabet::Chars { chars }) => {
                let alphabet: Vec<char> = chars.chars().collect();
                let text: String = s.symbols.iter().map(|&i| s.alphabet[i as usize]).collect();
                encode_chars(&text, &alphabet).with_context(|| {
                    format!(
                        "{} holds characters that were not there when the run was fitted",
                        run.data
                    )
                })?
            }
            (SeriesData::Real(s), Alphabet::Bins { binning }) => {
                s.values.iter().map(|&x| binning.symbol(x)).collect()
            }
            _ => bail!(
                "{} no longer holds the kind of data the run was fitted on",
                run.data
            ),
        };
        if symbols.len() != run.length {
            bail!(
                "{} now has {} symbols, but the run was fitted when it had {}",
                run.data,
                symbols.len(),
                run.length
            );
        }
        Ok(symbols)
    }

    /// Writes `RUN/classic.json` atomically, creating the folder, holding its write lock;
    /// refuses a folder that holds a run already.
    pub fn save(&self, run: &Path) -> Result<()> {
        let folder = crate::train::RunFolder(run.to_path_buf());
        let _lock = folder.lock()?;
        if folder.config().exists() || run.join(RUN_FILE).exists() {
            bail!("{} already holds a run", run.display());
        }
        let json = serde_json::to_vec(self)?;
        crate::train::write_atomically(&run.join(RUN_FILE), &json)
    }
}
