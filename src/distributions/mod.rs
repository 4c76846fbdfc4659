//! Output distributions: they turn a network's features into log-probabilities of the data
//! and into samples.

pub mod categorical;
