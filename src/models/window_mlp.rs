//! The window MLP: p(x_t | x_<t, h) from the last τ steps only (a neural AR(τ)).
//!
//! ```text
//! z¹_t = ReLU(W¹ [x_{t−τ}; …; x_{t−1}] + b¹ + V¹ h)
//! zˡ_t = ReLU(Wˡ zˡ⁻¹_t + bˡ + Vˡ h)          l = 2..L
//! features_t = W° z^L_t + b°
//! ```
//!
//! The first layer, a dense layer over the concatenated window, is computed for all steps at
//! once as a convolution of kernel τ over the inputs padded with τ zeros on the left; its
//! output number t reads the padded positions t..t+τ−1, that is x_{t−τ}..x_{t−1}, and the
//! extra last output (which would read x_{T−1} for a step T that does not exist) is dropped.
//! Steps before the start of the sequence read zeros. The later layers are 1x1 convolutions,
//! the same dense layer at every step.

use burn::nn::PaddingConfig1d;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Embedding};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::sequence::{SequenceModelConfig, add_class, class_embedding};

/// The window MLP.
#[derive(Module, Debug)]
pub struct WindowMlp {
    /// The dense layer over the window, as a convolution of kernel τ.
    window: Conv1d,
    /// The later dense layers, as 1x1 convolutions.
    hidden: Vec<Conv1d>,
    /// To the P output features.
    out: Conv1d,
    /// One class embedding per hidden layer (empty when unconditional).
    class: Vec<Embedding>,
    /// On each hidden layer's output, in training only.
    dropout: Dropout,
    /// τ.
    tau: usize,
}

impl WindowMlp {
    /// Builds the network of `config` (its `window`, `hidden`, `layers`, `num_classes`).
    pub fn new(config: &SequenceModelConfig, device: &Device) -> Self {
        let (c, h, tau) = (config.input_channels, config.hidden, config.window);
        Self {
            window: Conv1dConfig::new(c, h, tau)
                .with_padding(PaddingConfig1d::Explicit(tau, 0))
                .init(device),
            hidden: (1..config.layers)
                .map(|_| Conv1dConfig::new(h, h, 1).init(device))
                .collect(),
            out: Conv1dConfig::new(h, config.output.params(), 1).init(device),
            class: (0..config.layers)
                .filter_map(|_| class_embedding(config.num_classes, h, device))
                .collect(),
            dropout: DropoutConfig::new(config.dropout_probability()).init(),
            tau,
        }
    }

    /// The window τ.
    pub fn window(&self) -> usize {
        self.tau
    }

    /// Features [batch, P, time] from inputs [batch, C, time].
    pub fn forward(&self, inputs: Tensor<3>, labels: Option<&Tensor<1, Int>>) -> Tensor<3> {
        let time = inputs.dims()[2];
        let mut z = self.window.forward(inputs).narrow(2, 0, time);
        z = self
            .dropout
            .forward(relu(add_class(z, self.class.first(), labels)));
        for (i, layer) in self.hidden.iter().enumerate() {
            let pre = add_class(layer.forward(z), self.class.get(i + 1), labels);
            z = self.dropout.forward(relu(pre));
        }
        self.out.forward(z)
    }
}
