//! Causal convolution stacks: WaveNet (van den Oord et al. 2016, arXiv:1609.03499) and the
//! temporal convolutional network (TCN, Bai, Kolter and Koltun 2018, arXiv:1803.01271).
//!
//! A causal convolution of kernel k and dilation d pads its input with (k − 1)·d zeros on the
//! left only, so that output t reads inputs t − (k−1)d, ..., t − d, t:
//!
//! ```text
//! y_t = b + Σ_{j=0}^{k−1} W_j x_{t − j·d}
//! ```
//!
//! The first layer excludes the current step: it pads k₀ zeros on the left and drops its last
//! output, so output t reads x_{t−k₀}..x_{t−1}. After it every layer may read its own step,
//! which holds only the past. The dilations run 1, 2, 4, ..., 2^(n−1) within a block, and
//! the blocks repeat.
//!
//! **WaveNet block** (gated, residual, with a skip connection), with h the class embedding:
//! ```text
//! [a; b] = W_d ∗ z + V h          (a dilated causal convolution to 2R channels)
//! g      = tanh(a) ⊙ σ(b)
//! z'     = z + W_res g,   skip += W_skip g
//! features = W_2 ReLU(W_1 ReLU(skip))
//! ```
//! **TCN block** (plain residual):
//! ```text
//! y  = ReLU(W_d ∗ z + V h),  y' = ReLU(W'_d ∗ y + V' h),  z' = ReLU(z + y')
//! features = W_2 ReLU(W_1 z_last)
//! ```
//!
//! Receptive field: k₀ + Σ (k − 1) d over the dilated convolutions (one per WaveNet block,
//! two per TCN block); see [`crate::models::SequenceModelConfig::receptive_field`].

use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, Embedding, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::sequence::{SequenceModelConfig, SequenceModelKind, add_class, class_embedding};

/// A convolution padded on the left only: output t reads inputs t − (k−1)d, ..., t.
pub fn causal_conv1d(
    channels_in: usize,
    channels_out: usize,
    kernel: usize,
    dilation: usize,
    device: &Device,
) -> Conv1d {
    Conv1dConfig::new(channels_in, channels_out, kernel)
        .with_dilation(dilation)
        .with_padding(PaddingConfig1d::Explicit((kernel - 1) * dilation, 0))
        .init(device)
}

/// One gated residual block of WaveNet.
#[derive(Module, Debug)]
pub struct WaveNetBlock {
    pub(crate) dilated: Conv1d,
    pub(crate) residual: Conv1d,
    pub(crate) skip: Conv1d,
    pub(crate) class: Option<Embedding>,
}

/// One plain residual block of the TCN.
#[derive(Module, Debug)]
pub struct TcnBlock {
    pub(crate) first: Conv1d,
    pub(crate) second: Conv1d,
    pub(crate) class_first: Option<Embedding>,
    pub(crate) class_second: Option<Embedding>,
}

/// A block of either kind.
#[derive(Module, Debug)]
pub enum ConvBlock {
    /// Gated, with a skip connection.
    WaveNet(WaveNetBlock),
    /// Plain residual.
    Tcn(TcnBlock),
}

/// The causal convolution stack.
#[derive(Module, Debug)]
pub struct CausalConv {
    /// The first layer, which excludes the current step.
    pub(crate) input: Conv1d,
    pub(crate) input_class: Option<Embedding>,
    pub(crate) blocks: Vec<ConvBlock>,
    pub(crate) head_hidden: Conv1d,
    pub(crate) head_out: Conv1d,
    /// Applied after each activation inside the blocks, during training only.
    pub(crate) dropout: Dropout,
}

impl CausalConv {
    /// Builds the stack of `config` (`kind` wavenet or tcn, `hidden` = R, `layers` per
    /// block, `blocks`, `kernel`, `first_kernel`).
    pub fn new(config: &SequenceModelConfig, device: &Device) -> Self {
        let r = config.hidden;
        let k = config.kernel;
        let k0 = config.first_kernel;
        let classes = config.num_classes;
        let blocks = config
            .dilations()
            .into_iter()
            .map(|d| match config.kind {
                SequenceModelKind::Tcn => ConvBlock::Tcn(TcnBlock {
                    first: causal_conv1d(r, r, k, d, device),
                    second: causal_conv1d(r, r, k, d, device),
                    class_first: class_embedding(classes, r, device),
                    class_second: class_embedding(classes, r, device),
                }),
                _ => ConvBlock::WaveNet(WaveNetBlock {
                    dilated: causal_conv1d(r, 2 * r, k, d, device),
                    residual: Conv1dConfig::new(r, r, 1).init(device),
                    skip: Conv1dConfig::new(r, r, 1).init(device),
                    class: class_embedding(classes, 2 * r, device),
                }),
            })
            .collect();
        Self {
            input: Conv1dConfig::new(config.input_channels, r, k0)
                .with_padding(PaddingConfig1d::Explicit(k0, 0))
                .init(device),
            input_class: class_embedding(classes, r, device),
            blocks,
            head_hidden: Conv1dConfig::new(r, r, 1).init(device),
            head_out: Conv1dConfig::new(r, config.output.params(), 1).init(device),
            dropout: DropoutConfig::new(config.dropout_probability()).init(),
        }
    }

    /// Features [batch, P, time] from inputs [batch, C, time].
    pub fn forward(&self, inputs: Tensor<3>, labels: Option<&Tensor<1, Int>>) -> Tensor<3> {
        let time = inputs.dims()[2];
        // k₀ zeros on the left, one output too many on the right: drop it.
        let first = self.input.forward(inputs).narrow(2, 0, time);
        let mut z = add_class(first, self.input_class.as_ref(), labels);
        let mut skips: Option<Tensor<3>> = None;
        for block in &self.blocks {
            match block {
                ConvBlock::WaveNet(b) => {
                    let pre = add_class(b.dilated.forward(z.clone()), b.class.as_ref(), labels);
                    let g = self.dropout.forward(crate::fused::gated_activation(pre)); // tanh(a) ⊙ σ(b)
                    let skip = b.skip.forward(g.clone());
                    skips = Some(match skips {
                        Some(s) => s + skip,
                        None => skip,
                    });
                    z = z + b.residual.forward(g);
                }
                ConvBlock::Tcn(b) => {
                    let y = self.dropout.forward(relu(add_class(
                        b.first.forward(z.clone()),
                        b.class_first.as_ref(),
                        labels,
                    )));
                    let y = self.dropout.forward(relu(add_class(
                        b.second.forward(y),
                        b.class_second.as_ref(),
                        labels,
                    )));
                    z = relu(z + y);
                }
            }
        }
        let features = skips.unwrap_or(z);
        self.head_out
            .forward(relu(self.head_hidden.forward(relu(features))))
    }
}
