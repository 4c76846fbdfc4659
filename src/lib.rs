//! argen: generative autoregressive models.
//!
//! Every model is a conditional distribution p(x_t | x_<t, h) over a fixed ordering of the
//! variables of one example. The modules follow that idea:
//!
//! - [`data`]: data sets and batching (embedded 8x8 digits, IDX files such as Fashion-MNIST).
//! - [`layers`]: building blocks whose connectivity makes a network causal (shifted
//!   convolutions for the two stacks of the Gated PixelCNN).
//! - [`models`]: the networks, one file each, readable top to bottom.
//! - [`distributions`]: output heads that turn features into log-probabilities and samples.
//! - [`train`]: the training loop, checkpoints (safetensors), metrics.
//! - [`generate`]: ancestral sampling, one pixel after the other.
//! - [`viz`]: PNG grids of images.
//! - [`classic`]: models with finite memory fitted in closed form: AR(p), Markov chains of order k.
//! - [`cli`]: the `argen` command line.

pub mod classic;
pub mod cli;
pub mod data;
pub mod distributions;
pub mod generate;
pub mod layers;
pub mod models;
pub mod receptive_field;
pub mod rng;
pub mod train;
pub mod viz;
