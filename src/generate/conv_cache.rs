//! Cached generation for the causal convolution stack (WaveNet, TCN): the queue per layer of
//! "Fast Wavenet Generation Algorithm" (Paine et al. 2016, arXiv:1611.09482).
//!
//! A causal convolution of kernel k and dilation d computes its output at step t from its
//! inputs at steps t − (k−1)d, ..., t − d, t and from nothing else. So, to generate step
//! after step, each layer only needs a queue of its last (k−1)·d + 1 inputs: a new step
//! pushes one column into every queue (dropping the oldest) and computes one output column
//! per layer, a matrix product of the batch's k stacked columns with the layer's weights.
//! The cost of a step no longer grows with the length of the sequence.
//!
//! [`ConvCache::features`] gives the features of p(x_t | x_<t, h) for the current step;
//! [`ConvCache::observe`] then feeds the step's value x_t (drawn, or given) and moves on.
//! The features equal those of [`CausalConv::forward`] on the whole sequence (up to float
//! rounding), which `tests/cached_generation.rs` checks value for value.

use std::collections::VecDeque;

use burn::module::Param;
use burn::nn::conv::Conv1d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::models::causal_conv::{CausalConv, ConvBlock, effective_weight};
use crate::models::conditioning::{Condition, condition_vectors};

/// The last `span` inputs of one convolution, oldest first; zeros before the sequence starts
/// (the convolution's left padding).
struct Queue {
    columns: VecDeque<Tensor<2>>,
}

impl Queue {
    fn zeros(span: usize, batch: usize, channels: usize, device: &Device) -> Self {
        let zero = Tensor::<2>::zeros([batch, channels], device);
        Self {
            columns: std::iter::repeat_n(zero, span).collect(),
        }
    }

    /// Appends the newest column and drops the oldest.
    fn push(&mut self, column: Tensor<2>) {
        self.columns.pop_front();
        self.columns.push_back(column);
    }
}

/// A convolution applied to one step: its weights as a matrix [C_in·k, C_out] (row c·k + j
/// holds tap j of input channel c, burn's layout of a Conv1d weight), its bias, and the
/// spacing of the taps in its queue.
struct StepConv {
    weight: Tensor<2>,
    bias: Option<Tensor<2>>,
    kernel: usize,
    dilation: usize,
}

impl StepConv {
    fn new(conv: &Conv1d) -> Self {
        Self::normalised(conv, None)
    }

    /// The step form of a convolution computing with [`effective_weight`] (its own weight, or
    /// its weight-normalised one when `gain` is given).
    fn normalised(conv: &Conv1d, gain: Option<&Param<Tensor<1>>>) -> Self {
        let [c_out, c_in, kernel] = conv.weight.dims();
        let dilation = conv.dilation;
        Self {
            weight: effective_weight(conv, gain)
                .reshape([c_out, c_in * kernel])
                .transpose(),
            bias: conv.bias.as_ref().map(|b| b.val().reshape([1, c_out])),
            kernel,
            dilation,
        }
    }

    /// The span of inputs the convolution reads: (k − 1)·d + 1.
    fn span(&self) -> usize {
        (self.kernel - 1) * self.dilation + 1
    }

    /// The output column from the queue's taps: Σ_j W_j · queue[j·d] + b, for a queue
    /// holding exactly `span()` columns.
    fn apply(&self, queue: &Queue) -> Tensor<2> {
        let taps: Vec<Tensor<2>> = (0..self.kernel)
            .map(|j| queue.columns[j * self.dilation].clone())
            .collect();
        let [batch, channels] = taps[0].dims();
        let stacked = Tensor::stack::<3>(taps, 2).reshape([batch, channels * self.kernel]);
        self.apply_matrix(stacked)
    }

    /// x · W + b for a 1x1 convolution (or for stacked taps).
    fn apply_matrix(&self, x: Tensor<2>) -> Tensor<2> {
        let y = x.matmul(self.weight.clone());
        match &self.bias {
            Some(b) => y + b.clone(),
            None => y,
        }
    }
}

fn plus(x: Tensor<2>, class: &Option<Tensor<2>>) -> Tensor<2> {
    match class {
        Some(c) => x + c.clone(),
        None => x,
    }
}

/// One block's step form and queues. (A few per model: the size difference costs nothing.)
#[allow(clippy::large_enum_variant)]
enum BlockState {
    WaveNet {
        dilated: StepConv,
        queue: Queue,
        residual: StepConv,
        skip: StepConv,
        class: Option<Tensor<2>>,
        covariate: Option<StepConv>,
    },
    Tcn {
        first: StepConv,
        first_queue: Queue,
        second: StepConv,
        second_queue: Queue,
        class_first: Option<Tensor<2>>,
        class_second: Option<Tensor<2>>,
        covariate_first: Option<StepConv>,
        covariate_second: Option<StepConv>,
    },
}

/// `x` plus the 1x1 convolution of the step's covariates, where both exist.
fn plus_covariates(
    x: Tensor<2>,
    conv: &Option<StepConv>,
    covariates: Option<&Tensor<2>>,
) -> Tensor<2> {
    match (conv, covariates) {
        (Some(conv), Some(c)) => x + conv.apply_matrix(c.clone()),
        _ => x,
    }
}

/// The per-layer queues of a causal convolution stack generating a batch of sequences.
pub struct ConvCache {
    input: StepConv,
    /// The encoded steps x_{t−k₀}, ..., x_{t−1} the first layer reads.
    input_queue: Queue,
    input_class: Option<Tensor<2>>,
    input_covariate: Option<StepConv>,
    blocks: Vec<BlockState>,
    head_hidden: StepConv,
    head_out: StepConv,
}

impl ConvCache {
    /// Empty queues (the zero padding before step 0) for `batch` sequences of a model reading
    /// `channels` input channels per step; `condition` (h of each sequence) for a conditional model.
    pub fn new(
        model: &CausalConv,
        batch: usize,
        condition: Option<&Condition>,
        device: &Device,
    ) -> Self {
        // The first layer pads k₀ zeros and drops its last output: output t reads the k₀
        // steps before t, which is a queue of span k₀ holding x_{t−k₀} .. x_{t−1}.
        let input = StepConv::new(&model.input);
        let [residual_channels, input_channels, _] = model.input.weight.dims();
        let input_queue = Queue::zeros(input.kernel, batch, input_channels, device);
        let queue = |conv: &StepConv| Queue::zeros(conv.span(), batch, residual_channels, device);
        let blocks = model
            .blocks
            .iter()
            .map(|block| match block {
                ConvBlock::WaveNet(b) => {
                    let dilated = StepConv::normalised(&b.dilated, b.dilated_gain.as_ref());
                    BlockState::WaveNet {
                        queue: queue(&dilated),
                        dilated,
                        residual: StepConv::new(&b.residual),
                        skip: StepConv::new(&b.skip),
                        class: condition_vectors(b.condition.as_ref(), condition),
                        covariate: b.covariate.as_ref().map(StepConv::new),
                    }
                }
                ConvBlock::Tcn(b) => {
                    let first = StepConv::normalised(&b.first, b.first_gain.as_ref());
                    let second = StepConv::normalised(&b.second, b.second_gain.as_ref());
                    BlockState::Tcn {
                        first_queue: queue(&first),
                        second_queue: queue(&second),
                        first,
                        second,
                        class_first: condition_vectors(b.condition_first.as_ref(), condition),
                        class_second: condition_vectors(b.condition_second.as_ref(), condition),
                        covariate_first: b.covariate_first.as_ref().map(StepConv::new),
                        covariate_second: b.covariate_second.as_ref().map(StepConv::new),
                    }
                }
            })
            .collect();
        Self {
            input,
            input_queue,
            input_class: condition_vectors(model.input_condition.as_ref(), condition),
            input_covariate: model.input_covariate.as_ref().map(StepConv::new),
            blocks,
            head_hidden: StepConv::new(&model.head_hidden),
            head_out: StepConv::new(&model.head_out),
        }
    }

    /// The features [batch, P] of p(x_t | x_<t, h) for the current step t. Call once per
    /// step, then [`Self::observe`] the step's value.
    pub fn features(&mut self) -> Tensor<2> {
        self.features_with(None)
    }

    /// [`Self::features`] for a model with covariates: `covariates` [batch, K] is what the
    /// current step reads (c_t, and c_{t+1} when known ahead).
    pub fn features_with(&mut self, covariates: Option<&Tensor<2>>) -> Tensor<2> {
        let mut z = plus(self.input.apply(&self.input_queue), &self.input_class);
        z = plus_covariates(z, &self.input_covariate, covariates);
        let mut skips: Option<Tensor<2>> = None;
        for block in &mut self.blocks {
            match block {
                BlockState::WaveNet {
                    dilated,
                    queue,
                    residual,
                    skip,
                    class,
                    covariate,
                } => {
                    queue.push(z.clone());
                    let pre = plus(dilated.apply(queue), class);
                    let pre = plus_covariates(pre, covariate, covariates);
                    let g = crate::fused::gated_activation(pre);
                    let s = skip.apply_matrix(g.clone());
                    skips = Some(match skips {
                        Some(sum) => sum + s,
                        None => s,
                    });
                    z = z + residual.apply_matrix(g);
                }
                BlockState::Tcn {
                    first,
                    first_queue,
                    second,
                    second_queue,
                    class_first,
                    class_second,
                    covariate_first,
                    covariate_second,
                } => {
                    first_queue.push(z.clone());
                    let y = plus(first.apply(first_queue), class_first);
                    let y = relu(plus_covariates(y, covariate_first, covariates));
                    second_queue.push(y);
                    let y = plus(second.apply(second_queue), class_second);
                    let y = relu(plus_covariates(y, covariate_second, covariates));
                    z = relu(z + y);
                }
            }
        }
        let features = skips.unwrap_or(z);
        self.head_out
            .apply_matrix(relu(self.head_hidden.apply_matrix(relu(features))))
    }

    /// Feeds the current step's encoded value x_t, shape [batch, C], and moves to step t + 1.
    pub fn observe(&mut self, x: Tensor<2>) {
        self.input_queue.push(x);
    }
}
