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
//! **WaveNet block** (gated, residual, with a skip connection), with Vᵀh the conditioning (a class or vector h, see [`super::conditioning`]):
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
//! two per TCN block); see [`CausalConvConfig::receptive_field`].
//!
//! **Weight normalisation** (Salimans and Kingma 2016, used by Bai et al.'s TCN), an option:
//! each dilated convolution's weight is w_o = g_o · v_o / ‖v_o‖ for every output channel o,
//! with the direction v (the convolution's own weight) and the length g learned apart; g
//! starts at ‖v‖, so the initial weights are those of the plain stack.

use crate::fused::dropout::dropout;
use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Dropout, DropoutConfig, PaddingConfig1d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::ops::ConvOptions;

use serde::{Deserialize, Serialize};

use super::conditioning::{Condition, ConditionMap, StepShape, add_condition, condition_maps};

/// Settings of a causal convolution stack (WaveNet or TCN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CausalConvConfig {
    /// Residual channels R.
    pub hidden: usize,
    /// Layers per block, with dilations 1, 2, 4, ..., 2^(layers−1).
    pub layers: usize,
    /// How many times the dilation cycle repeats.
    pub blocks: usize,
    /// Kernel size of the dilated layers.
    pub kernel: usize,
    /// Kernel size of the first layer, which excludes the current step.
    pub first_kernel: usize,
    /// Weight normalisation of the dilated convolutions, w = g · v / ‖v‖ per output channel
    /// (as in Bai et al.'s TCN). `None` (older runs) means off.
    #[serde(default)]
    pub weight_norm: Option<bool>,
}

impl Default for CausalConvConfig {
    /// 64 channels, 2 layers, one block, kernels of 2, no weight normalisation.
    fn default() -> Self {
        Self {
            hidden: 64,
            layers: 2,
            blocks: 1,
            kernel: 2,
            first_kernel: 2,
            weight_norm: None,
        }
    }
}

/// Which residual block a causal convolution stack repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// Gated, with skip connections.
    WaveNet,
    /// Plain residual, two convolutions with ReLU.
    Tcn,
}

impl CausalConvConfig {
    /// Checks that the settings describe a stack that can be built.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden == 0 || self.layers == 0 {
            return Err("hidden units and layers must be at least 1".into());
        }
        if self.blocks == 0 || self.kernel < 2 || self.first_kernel == 0 {
            return Err(format!(
                "a causal convolution stack needs blocks >= 1, kernel >= 2 and a first \
                 kernel >= 1 (got blocks {}, kernel {}, first kernel {})",
                self.blocks, self.kernel, self.first_kernel
            ));
        }
        if self.layers > 20 {
            return Err(format!(
                "{} layers per block means dilations up to 2^{}; use at most 20",
                self.layers,
                self.layers - 1
            ));
        }
        Ok(())
    }

    /// Whether the dilated convolutions are weight-normalised.
    pub fn uses_weight_norm(&self) -> bool {
        self.weight_norm.unwrap_or(false)
    }

    /// The dilations of the layers, in order: 1, 2, ..., 2^(layers−1), `blocks` times.
    pub fn dilations(&self) -> Vec<usize> {
        (0..self.blocks)
            .flat_map(|_| (0..self.layers).map(|i| 1usize << i))
            .collect()
    }

    /// How many past steps the output at t reads: k₀ + c · Σ_i (k − 1) d_i, with c = 1
    /// dilated convolution per WaveNet block and c = 2 per TCN block.
    pub fn receptive_field(&self, block: BlockKind) -> usize {
        let widen: usize = self.dilations().iter().map(|d| (self.kernel - 1) * d).sum();
        match block {
            BlockKind::WaveNet => self.first_kernel + widen,
            BlockKind::Tcn => self.first_kernel + 2 * widen,
        }
    }
}

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

/// The lengths g of a weight-normalised convolution, one per output channel, set to ‖v_o‖ so
/// that the normalised weight starts equal to the plain one.
fn initial_gain(conv: &Conv1d) -> Param<Tensor<1>> {
    let [c_out, _, _] = conv.weight.dims();
    Param::from_tensor(channel_norms(conv.weight.val()).reshape([c_out]).detach())
}

/// ‖v_o‖ for each output channel o of a weight [C_out, C_in, k], shape [C_out, 1, 1].
fn channel_norms(v: Tensor<3>) -> Tensor<3> {
    v.powi_scalar(2).sum_dim(2).sum_dim(1).sqrt()
}

/// The weight a convolution computes with: its own, or under weight normalisation with the
/// lengths `gain`, w_o = g_o · v_o / ‖v_o‖.
pub fn effective_weight(conv: &Conv1d, gain: Option<&Param<Tensor<1>>>) -> Tensor<3> {
    let v = conv.weight.val();
    match gain {
        None => v,
        Some(g) => {
            let [c_out, _, _] = v.dims();
            let scale = g.val().reshape([c_out, 1, 1]) / channel_norms(v.clone());
            v * scale
        }
    }
}

/// `conv.forward(x)`, computed through [`crate::fused::conv1d`] (argen's convolution kernels
/// on the CPU) for explicit or no padding; burn's path for `Same`.
fn forward_conv(conv: &Conv1d, x: Tensor<3>) -> Tensor<3> {
    let padding = match conv.padding {
        PaddingConfig1d::Explicit(left, right) => (left, right),
        PaddingConfig1d::Valid => (0, 0),
        PaddingConfig1d::Same => return conv.forward(x),
    };
    let options =
        ConvOptions::new_with_padding([conv.stride], [padding], [conv.dilation], conv.groups);
    let bias = conv.bias.as_ref().map(|b| b.val());
    crate::fused::conv1d(x, conv.weight.val(), bias, options)
}

/// A causal convolution ([`causal_conv1d`]) applied with its [`effective_weight`].
fn apply_causal(conv: &Conv1d, gain: Option<&Param<Tensor<1>>>, x: Tensor<3>) -> Tensor<3> {
    let bias = conv.bias.as_ref().map(|b| b.val());
    crate::fused::conv1d(x, effective_weight(conv, gain), bias, causal_options(conv))
}

/// The options of a causal convolution: (k − 1)·d zeros on the left, none on the right.
fn causal_options(conv: &Conv1d) -> ConvOptions<1> {
    let left = (conv.kernel_size - 1) * conv.dilation;
    ConvOptions::new_with_padding([conv.stride], [(left, 0)], [conv.dilation], conv.groups)
}

/// What a TCN convolution adds to its output before the ReLU: the condition through its map
/// and the covariates through their 1x1 convolution, each where the model and the batch have
/// them.
struct Extra<'a> {
    map: Option<&'a ConditionMap>,
    condition: Option<&'a Condition>,
    covariate: Option<&'a Conv1d>,
    covariates: Option<&'a Tensor<3>>,
}

/// ReLU(causal convolution of `x` + condition + covariates); with nothing to add, the ReLU is
/// applied as the convolution writes its output ([`crate::fused::conv1d_relu`]).
fn causal_relu(
    conv: &Conv1d,
    gain: Option<&Param<Tensor<1>>>,
    x: Tensor<3>,
    extra: Extra,
) -> Tensor<3> {
    let conditioned = extra.map.is_some() && extra.condition.is_some();
    let covaried = extra.covariate.is_some() && extra.covariates.is_some();
    if !conditioned && !covaried {
        let bias = conv.bias.as_ref().map(|b| b.val());
        let weight = effective_weight(conv, gain);
        return crate::fused::conv1d_relu(x, weight, bias, causal_options(conv));
    }
    let y = add_condition(apply_causal(conv, gain, x), extra.map, extra.condition);
    relu(add_covariates(y, extra.covariate, extra.covariates))
}

/// One gated residual block of WaveNet.
#[derive(Module, Debug)]
pub struct WaveNetBlock {
    pub(crate) dilated: Conv1d,
    /// Weight normalisation of `dilated`: its lengths g (absent without the option).
    pub(crate) dilated_gain: Option<Param<Tensor<1>>>,
    pub(crate) residual: Conv1d,
    pub(crate) skip: Conv1d,
    pub(crate) condition: Option<ConditionMap>,
    /// 1x1 convolution of the step's covariates into the gates (local conditioning).
    pub(crate) covariate: Option<Conv1d>,
}

/// One plain residual block of the TCN.
#[derive(Module, Debug)]
pub struct TcnBlock {
    pub(crate) first: Conv1d,
    pub(crate) second: Conv1d,
    /// Weight normalisation of `first` and `second`: their lengths g (absent without it).
    pub(crate) first_gain: Option<Param<Tensor<1>>>,
    pub(crate) second_gain: Option<Param<Tensor<1>>>,
    pub(crate) condition_first: Option<ConditionMap>,
    pub(crate) condition_second: Option<ConditionMap>,
    /// 1x1 convolutions of the step's covariates into both pre-activations.
    pub(crate) covariate_first: Option<Conv1d>,
    pub(crate) covariate_second: Option<Conv1d>,
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
    pub(crate) input_condition: Option<ConditionMap>,
    /// 1x1 convolution of the step's covariates added after the first layer.
    pub(crate) input_covariate: Option<Conv1d>,
    pub(crate) blocks: Vec<ConvBlock>,
    pub(crate) head_hidden: Conv1d,
    pub(crate) head_out: Conv1d,
    /// Applied after each activation inside the blocks, during training only.
    pub(crate) dropout: Dropout,
}

impl CausalConv {
    /// Builds the stack of `config` with `block`s, for steps of `shape`.
    pub fn new(
        block: BlockKind,
        config: &CausalConvConfig,
        shape: &StepShape,
        device: &Device,
    ) -> Self {
        let r = config.hidden;
        let k = config.kernel;
        let k0 = config.first_kernel;
        let map = |channels| condition_maps(shape.condition, channels, 1, device).pop();
        let covariate = |channels| {
            shape
                .covariates
                .map(|k| Conv1dConfig::new(k, channels, 1).init(device))
        };
        let gain = |conv: &Conv1d| config.uses_weight_norm().then(|| initial_gain(conv));
        let blocks = config
            .dilations()
            .into_iter()
            .map(|d| match block {
                BlockKind::Tcn => {
                    let first = causal_conv1d(r, r, k, d, device);
                    let second = causal_conv1d(r, r, k, d, device);
                    ConvBlock::Tcn(TcnBlock {
                        first_gain: gain(&first),
                        second_gain: gain(&second),
                        first,
                        second,
                        condition_first: map(r),
                        condition_second: map(r),
                        covariate_first: covariate(r),
                        covariate_second: covariate(r),
                    })
                }
                BlockKind::WaveNet => {
                    let dilated = causal_conv1d(r, 2 * r, k, d, device);
                    ConvBlock::WaveNet(WaveNetBlock {
                        dilated_gain: gain(&dilated),
                        dilated,
                        residual: Conv1dConfig::new(r, r, 1).init(device),
                        skip: Conv1dConfig::new(r, r, 1).init(device),
                        condition: map(2 * r),
                        covariate: covariate(2 * r),
                    })
                }
            })
            .collect();
        Self {
            input: Conv1dConfig::new(shape.input_channels, r, k0)
                .with_padding(PaddingConfig1d::Explicit(k0, 0))
                .init(device),
            input_condition: map(r),
            input_covariate: covariate(r),
            blocks,
            head_hidden: Conv1dConfig::new(r, r, 1).init(device),
            head_out: Conv1dConfig::new(r, shape.features, 1).init(device),
            dropout: DropoutConfig::new(shape.dropout).init(),
        }
    }

    /// Features [batch, P, time] from inputs [batch, C, time] and, for a model with
    /// covariates, the covariates [batch, K, time] each step reads (at its own position).
    pub fn forward(
        &self,
        inputs: Tensor<3>,
        condition: Option<&Condition>,
        covariates: Option<&Tensor<3>>,
    ) -> Tensor<3> {
        let time = inputs.dims()[2];
        // k₀ zeros on the left, one output too many on the right: drop it.
        let first = forward_conv(&self.input, inputs).narrow(2, 0, time);
        let mut z = add_condition(first, self.input_condition.as_ref(), condition);
        z = add_covariates(z, self.input_covariate.as_ref(), covariates);
        let mut skips: Option<Tensor<3>> = None;
        for block in &self.blocks {
            match block {
                ConvBlock::WaveNet(b) => {
                    let dilated = apply_causal(&b.dilated, b.dilated_gain.as_ref(), z.clone());
                    let pre = add_condition(dilated, b.condition.as_ref(), condition);
                    let pre = add_covariates(pre, b.covariate.as_ref(), covariates);
                    let g = dropout(&self.dropout, crate::fused::gated_activation(pre)); // tanh(a) ⊙ σ(b)
                    let skip = forward_conv(&b.skip, g.clone());
                    skips = Some(match skips {
                        Some(s) => s + skip,
                        None => skip,
                    });
                    z = z + forward_conv(&b.residual, g);
                }
                ConvBlock::Tcn(b) => {
                    let extra = |map, covariate| Extra {
                        map,
                        condition,
                        covariate,
                        covariates,
                    };
                    let first = extra(b.condition_first.as_ref(), b.covariate_first.as_ref());
                    let y = dropout(
                        &self.dropout,
                        causal_relu(&b.first, b.first_gain.as_ref(), z.clone(), first),
                    );
                    let second = extra(b.condition_second.as_ref(), b.covariate_second.as_ref());
                    let y = dropout(
                        &self.dropout,
                        causal_relu(&b.second, b.second_gain.as_ref(), y, second),
                    );
                    z = relu(z + y);
                }
            }
        }
        let features = skips.unwrap_or(z);
        forward_conv(
            &self.head_out,
            relu(forward_conv(&self.head_hidden, relu(features))),
        )
    }
}

/// `x` plus a 1x1 convolution of the covariates (position t reads only position t);
/// `x` unchanged without covariates.
pub(crate) fn add_covariates(
    x: Tensor<3>,
    conv: Option<&Conv1d>,
    covariates: Option<&Tensor<3>>,
) -> Tensor<3> {
    match (conv, covariates) {
        (Some(conv), Some(c)) => x + forward_conv(conv, c.clone()),
        _ => x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weight_normalised_tcn(device: &Device) -> CausalConv {
        let config = CausalConvConfig {
            hidden: 5,
            kernel: 3,
            layers: 2,
            weight_norm: Some(true),
            ..CausalConvConfig::default()
        };
        let shape = StepShape {
            input_channels: 2,
            features: 3,
            condition: None,
            covariates: None,
            dropout: 0.0,
        };
        CausalConv::new(BlockKind::Tcn, &config, &shape, device)
    }

    fn max_difference(a: Tensor<3>, b: Tensor<3>) -> f32 {
        (a - b).abs().max().into_scalar::<f32>()
    }

    /// g starts at ‖v‖, so the normalised weight starts equal to the plain weight v.
    #[test]
    fn weight_normalisation_starts_at_the_plain_weights() {
        let device = Device::flex();
        let model = weight_normalised_tcn(&device);
        for block in &model.blocks {
            let ConvBlock::Tcn(b) = block else {
                panic!("a TCN block")
            };
            for (conv, gain) in [(&b.first, &b.first_gain), (&b.second, &b.second_gain)] {
                let gain = gain.as_ref().expect("weight-normalised");
                let w = effective_weight(conv, Some(gain));
                assert!(max_difference(w, conv.weight.val()) < 1e-6);
            }
        }
    }

    /// w = g · v / ‖v‖ does not change when v is scaled (per output channel): the output of the
    /// stack is the same, and each channel's weight has length g.
    #[test]
    fn weight_normalised_outputs_ignore_the_scale_of_v() {
        let device = Device::flex();
        let mut model = weight_normalised_tcn(&device);
        let x = Tensor::<3>::random([2, 2, 9], burn::tensor::Distribution::Default, &device);
        let before = model.forward(x.clone(), None, None);
        for block in &mut model.blocks {
            let ConvBlock::Tcn(b) = block else {
                panic!("a TCN block")
            };
            for (conv, gain) in [
                (&mut b.first, &mut b.first_gain),
                (&mut b.second, &mut b.second_gain),
            ] {
                let [c_out, _, _] = conv.weight.dims();
                let factors: Vec<f32> = (0..c_out).map(|o| 0.2 + o as f32).collect();
                let factors = Tensor::<1>::from_floats(factors.as_slice(), &device);
                let v = conv.weight.val() * factors.reshape([c_out, 1, 1]);
                conv.weight = Param::from_tensor(v);
                let g = gain.as_ref().expect("weight-normalised").val() * 2.0;
                *gain = Some(Param::from_tensor(g.clone()));
                let lengths = channel_norms(effective_weight(conv, gain.as_ref()));
                let diff = (lengths.reshape([c_out]) - g)
                    .abs()
                    .max()
                    .into_scalar::<f32>();
                assert!(diff < 1e-5, "lengths differ from g by {diff}");
            }
        }
        // The lengths were doubled, so the output changed; put them back and compare.
        let doubled = model.forward(x.clone(), None, None);
        assert!(max_difference(doubled, before.clone()) > 1e-3);
        for block in &mut model.blocks {
            let ConvBlock::Tcn(b) = block else {
                panic!("a TCN block")
            };
            for gain in [&mut b.first_gain, &mut b.second_gain] {
                let g = gain.as_ref().expect("weight-normalised").val() / 2.0;
                *gain = Some(Param::from_tensor(g));
            }
        }
        let after = model.forward(x, None, None);
        assert!(max_difference(after, before) < 1e-5);
    }
}
