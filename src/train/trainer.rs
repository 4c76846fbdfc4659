//! [`Trainer`]: the training loop as a user program reaches for it, with the command line's
//! defaults, from data in memory, a run folder optional.
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use argen::data::{ImageData, ImageSet};
//! use argen::models::GatedPixelCnnConfig;
//! use argen::train::{TrainOptions, Trainer, evaluate};
//! # let (train, valid) = (ImageSet::from_levels(vec![0; 64], [1, 1, 8, 8], None)?, ImageSet::from_levels(vec![0; 64], [1, 1, 8, 8], None)?);
//! let data = ImageData::from_sets("mine", 17, train, valid.clone(), valid)?;
//! let config = GatedPixelCnnConfig::new(17).with_layers(3).into();
//! let trained = Trainer::new(TrainOptions::default().epochs(2)).fit_images(config, &data)?;
//! let nll = evaluate(&trained.model, &data.test, 256, &burn::prelude::Device::flex());
//! println!("{:.4} bits/dim", nll.bits_per_dim);
//! # Ok(()) }
//! ```

use std::path::Path;

use anyhow::Result;
use burn::prelude::*;

use super::image::{self, TrainingConfig};
use super::sequence::{self, SequenceMetrics, SequenceTrainingConfig};
use super::{Nll, Progress, RunFolder, Task, TrainOptions, Trained};
use crate::data::ImageData;
use crate::data::sequences::SequenceData;
use crate::models::{ImageModel, ImageModelConfig, SequenceModel, SequenceModelConfig};

/// Trains models with [`TrainOptions`], on chosen devices, in memory or into a run folder.
#[derive(Debug, Clone)]
pub struct Trainer {
    options: TrainOptions,
    run: Option<RunFolder>,
    resume: bool,
    progress: Progress,
    devices: Vec<Device>,
}

impl Trainer {
    /// A trainer with `options`, on this machine's CPU, silent, without a run folder.
    pub fn new(options: TrainOptions) -> Self {
        Self {
            options,
            run: None,
            resume: false,
            progress: Progress::Silent,
            devices: vec![Device::flex()],
        }
    }

    /// Writes checkpoints and metrics into the folder `path` (which must not hold a run yet,
    /// unless [`Trainer::resume`] is set).
    pub fn run_folder(mut self, path: impl AsRef<Path>) -> Self {
        self.run = Some(RunFolder(path.as_ref().to_path_buf()));
        self
    }

    /// Continues the run in the run folder where it stopped.
    pub fn resume(mut self) -> Self {
        self.resume = true;
        self
    }

    /// Shows progress.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Trains on `devices` (the model on the first; several split each batch).
    pub fn devices(mut self, devices: &[Device]) -> Self {
        self.devices = devices.to_vec();
        self
    }

    /// Trains any task with this trainer's folder, progress and devices (the task brings its
    /// own options).
    pub fn fit<T: Task>(&self, task: &T) -> Result<Trained<T::Model, T::Metrics>> {
        super::train(
            task,
            self.run.as_ref(),
            self.resume,
            self.progress,
            &self.devices,
        )
    }

    /// Trains the image model `model` on `data` (whose name goes into `config.json`).
    pub fn fit_images(
        &self,
        model: ImageModelConfig,
        data: &ImageData,
    ) -> Result<Trained<ImageModel, Nll>> {
        let config = TrainingConfig::new(
            model,
            data.name.clone(),
            data.train.height,
            data.train.width,
            self.options.clone(),
        );
        self.fit(&image::ImageTask::new(&config, data))
    }

    /// Trains the sequence model `model` on `data`.
    pub fn fit_sequences(
        &self,
        model: SequenceModelConfig,
        data: &SequenceData,
    ) -> Result<Trained<SequenceModel, SequenceMetrics>> {
        let config = SequenceTrainingConfig::new(model, data.name.clone(), self.options.clone());
        self.fit(&sequence::SequenceTask::new(&config, data))
    }
}
