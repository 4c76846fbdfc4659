//! Output distributions: they turn a network's features into log-probabilities of the data
//! and into samples.

pub mod bernoulli;
pub mod categorical;
pub mod gaussian;
pub mod logistic_mixture;
pub mod pixel_mixture;
pub mod sequence;

pub use sequence::{OutputDistribution, Target};
