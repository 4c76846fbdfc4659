//! What every sequence network shares: the shape of its steps ([`StepShape`]) and global
//! conditioning on a class h, a learned vector added to a layer's pre-activations.

use burn::nn::{Embedding, EmbeddingConfig};
use burn::prelude::*;

/// What a sequence network needs to know of its steps, whatever its kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepShape {
    /// Channels of the encoded input at each step.
    pub input_channels: usize,
    /// Output features per step (the parameters of the output distribution).
    pub features: usize,
    /// Classes of a conditional network (`None`: p(x)).
    pub num_classes: Option<usize>,
    /// Dropout probability during training.
    pub dropout: f64,
}

/// One learned vector per class, or nothing for an unconditional layer.
pub(crate) fn class_embedding(
    num_classes: Option<usize>,
    width: usize,
    device: &Device,
) -> Option<Embedding> {
    num_classes.map(|n| EmbeddingConfig::new(n, width).init(device))
}

/// Adds the class vector of each example (shape [batch, C, 1], broadcast over time) to `x`
/// of shape [batch, C, time]; returns `x` unchanged for an unconditional layer.
pub(crate) fn add_class(
    x: Tensor<3>,
    embedding: Option<&Embedding>,
    labels: Option<&Tensor<1, Int>>,
) -> Tensor<3> {
    match class_vectors(embedding, labels) {
        Some(v) => {
            let [batch, width] = v.dims();
            x + v.reshape([batch, width, 1])
        }
        None => x,
    }
}

/// The class vector of each example, shape [batch, C]; `None` for an unconditional layer
/// (or when no labels are given).
pub(crate) fn class_vectors(
    embedding: Option<&Embedding>,
    labels: Option<&Tensor<1, Int>>,
) -> Option<Tensor<2>> {
    let (embedding, labels) = (embedding?, labels?);
    let [batch] = labels.dims();
    let v = embedding.forward(labels.clone().reshape([batch, 1])); // [batch, 1, C]
    let width = v.dims()[2];
    Some(v.reshape([batch, width]))
}
