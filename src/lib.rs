//! argen: generative autoregressive models.
//!
//! Every model is a conditional distribution p(x_t | x_<t, h) over a fixed ordering of the
//! variables of one example. The modules follow that idea:
//!
//! - [`data`]: data sets (embedded 8x8 digits, IDX files such as Fashion-MNIST, CIFAR-10,
//!   PNG folders; sequences and series).
//! - [`layers`]: building blocks whose connectivity makes a network causal (shifted
//!   convolutions of the Gated PixelCNN's two stacks, masked convolutions of the PixelCNN).
//! - [`models`]: the networks, one file each, readable top to bottom.
//! - [`distributions`]: output heads that turn features into log-probabilities and samples.
//! - [`train`]: the training loop, run folders, checkpoints (safetensors), metrics.
//! - [`generate`]: ancestral sampling, naive (the whole network per value) and cached (one
//!   column of every layer per value), and completion of partly given images.
//! - [`receptive_field`]: which inputs an output depends on, measured by gradients; the
//!   blind spot.
//! - [`device`]: where tensors live: the CPU, a Vulkan GPU, a device on another machine.
//! - [`files`]: atomic writes (temporary file, flush, rename) and the tests' fault points.
//! - [`rng`]: seeded randomness.
//! - [`viz`]: PNG grids of images, receptive-field maps, charts.
//! - [`classic`]: models with finite memory fitted in closed form: AR(p), Markov chains of order k.
//! - [`run`]: a run folder of any family: [`run::Run::open`], evaluation, sampling.

pub mod classic;
pub mod data;
pub mod device;
pub mod distributions;
pub mod files;
pub mod fused;
pub mod generate;
#[cfg(feature = "gpu")]
pub mod kernel_profile;
pub mod layers;
pub mod memory;
pub mod models;
pub mod receptive_field;
pub mod rng;
pub mod run;
pub mod serve;
pub mod train;
pub mod viz;
