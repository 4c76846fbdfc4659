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

use crate::fused::dropout::dropout;
use burn::nn::PaddingConfig1d;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use serde::{Deserialize, Serialize};

use super::conditioning::{Condition, ConditionMap, StepShape, add_condition, condition_maps};

/// Settings of a window MLP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowMlpConfig {
    /// Hidden units per layer.
    pub hidden: usize,
    /// Hidden layers.
    pub layers: usize,
    /// The window τ: the number of past steps read.
    pub window: usize,
}

impl Default for WindowMlpConfig {
    /// 64 hidden units, 2 layers, a window of 4.
    fn default() -> Self {
        Self {
            hidden: 64,
            layers: 2,
            window: 4,
        }
    }
}

impl WindowMlpConfig {
    /// Checks that the settings describe a network that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden == 0 || self.layers == 0 {
            return Err("hidden units and layers must be at least 1".into());
        }
        if self.window == 0 {
            return Err("the window τ must be at least 1".into());
        }
        Ok(())
    }
}

/// The window MLP.
#[derive(Module, Debug)]
pub struct WindowMlp {
    /// The dense layer over the window, as a convolution of kernel τ.
    window: Conv1d,
    /// The covariates of the window's steps and of the current one, c_{t−τ+1} .. c_t, into
    /// the same layer (absent without covariates).
    covariate_window: Option<Conv1d>,
    /// The later dense layers, as 1x1 convolutions.
    hidden: Vec<Conv1d>,
    /// To the P output features.
    out: Conv1d,
    /// One conditioning map Vᵀh per hidden layer (empty when unconditional).
    condition: Vec<ConditionMap>,
    /// On each hidden layer's output, in training only.
    dropout: Dropout,
    /// τ.
    tau: usize,
}

impl WindowMlp {
    /// Builds the network of `config` for steps of `shape`.
    pub fn new(config: &WindowMlpConfig, shape: &StepShape, device: &Device) -> Self {
        let (c, h, tau) = (shape.input_channels, config.hidden, config.window);
        Self {
            window: Conv1dConfig::new(c, h, tau)
                .with_padding(PaddingConfig1d::Explicit(tau, 0))
                .init(device),
            covariate_window: shape.covariates.map(|k| {
                Conv1dConfig::new(k, h, tau)
                    .with_padding(PaddingConfig1d::Explicit(tau - 1, 0))
                    .with_bias(false)
                    .init(device)
            }),
            hidden: (1..config.layers)
                .map(|_| Conv1dConfig::new(h, h, 1).init(device))
                .collect(),
            out: Conv1dConfig::new(h, shape.features, 1).init(device),
            condition: condition_maps(shape.condition, h, config.layers, device),
            dropout: DropoutConfig::new(shape.dropout).init(),
            tau,
        }
    }

    /// The window τ.
    pub fn window(&self) -> usize {
        self.tau
    }

    /// Features [batch, P, time] from inputs [batch, C, time] (and the covariates
    /// [batch, K, time] each step reads).
    pub fn forward(
        &self,
        inputs: Tensor<3>,
        condition: Option<&Condition>,
        covariates: Option<&Tensor<3>>,
    ) -> Tensor<3> {
        let time = inputs.dims()[2];
        let mut z = self.window.forward(inputs).narrow(2, 0, time);
        if let (Some(conv), Some(c)) = (&self.covariate_window, covariates) {
            z = z + conv.forward(c.clone());
        }
        z = self
            .dropout
            .forward(relu(add_condition(z, self.condition.first(), condition)));
        for (i, layer) in self.hidden.iter().enumerate() {
            let pre = add_condition(layer.forward(z), self.condition.get(i + 1), condition);
            z = dropout(&self.dropout, relu(pre));
        }
        self.out.forward(z)
    }
}
