//! Cached generation for the causal convolution stack (WaveNet, TCN): the queue per layer of
//! "Fast Wavenet Generation Algorithm" (Paine et al. 2016, arXiv:1611.09482).
//!
//! A causal convolution of kernel k and dilation d computes its output at step t from its
//! inputs at steps t − (k−1)d, ..., t − d, t and from nothing else. So, to generate step
//! after step, each layer only needs a queue of its last (k−1)·d + 1 inputs: a new step
//! pushes one column into every queue (dropping the oldest) and computes one output column
//! per layer, Σ_j W_j · queue[j·d] + b. The cost of a step no longer grows with the length of
//! the sequence.
//!
//! A step is a few hundred thousand multiply-adds on vectors of 64 to 256 values, far too
//! little work for tensor operations: the cache copies the model's weights once into plain
//! row-major matrices on the host and runs each step as loops over slices
//! ([`crate::fused::step`]), with every buffer allocated once. A one-hot input (a level of
//! a softmax model) costs one row of the first layer's weights per tap, since zero inputs
//! are skipped.
//!
//! [`ConvCache::features`] gives the features of p(x_t | x_<t, h) for the current step;
//! [`ConvCache::observe`] then feeds the step's value x_t (drawn, or given) and moves on.
//! The features equal those of [`CausalConv::forward`] on the whole sequence (up to float
//! rounding), which `tests/cached_sequence_generation.rs` checks value for value.

use burn::module::Param;
use burn::nn::conv::Conv1d;
use burn::prelude::*;

use crate::fused::step::{accumulate, add, gate, relu};
use crate::models::causal_conv::{CausalConv, ConvBlock, effective_weight};
use crate::models::conditioning::{Condition, condition_vectors};

/// The last `span` input columns of one convolution for a batch, each column `width` =
/// batch × channels values, as a ring: zeros before the sequence starts (the convolution's
/// left padding).
struct Queue {
    values: Vec<f32>,
    span: usize,
    width: usize,
    /// Slot of the oldest column (the next one to be overwritten).
    oldest: usize,
}

impl Queue {
    fn zeros(span: usize, width: usize) -> Self {
        Self {
            values: vec![0.0; span * width],
            span,
            width,
            oldest: 0,
        }
    }

    /// Appends the newest column (it takes the oldest one's slot).
    fn push(&mut self, column: &[f32]) {
        let at = self.oldest * self.width;
        self.values[at..at + self.width].copy_from_slice(column);
        self.oldest = (self.oldest + 1) % self.span;
    }

    /// Column `j` counted from the oldest (j = span − 1 is the newest).
    fn column(&self, j: usize) -> &[f32] {
        let at = ((self.oldest + j) % self.span) * self.width;
        &self.values[at..at + self.width]
    }
}

/// A convolution applied to one step, on the host: its weights as `kernel` matrices
/// [C_in, C_out] one after the other (row c of matrix j holds what input channel c at tap j
/// adds to each output), its bias, and the spacing of the taps in its queue.
struct StepConv {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
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
        let [outputs, inputs, kernel] = conv.weight.dims();
        // burn's layout [C_out, C_in, k] → [k][C_in][C_out].
        let weight = effective_weight(conv, gain)
            .permute([2, 1, 0])
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .expect("f32 weights");
        let bias = match &conv.bias {
            Some(b) => b
                .val()
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .expect("f32 bias"),
            None => vec![0.0; outputs],
        };
        Self {
            weight,
            bias,
            inputs,
            outputs,
            kernel,
            dilation: conv.dilation,
        }
    }

    /// The span of inputs the convolution reads: (k − 1)·d + 1.
    fn span(&self) -> usize {
        (self.kernel - 1) * self.dilation + 1
    }

    /// y = Σ_j W_j · queue[j·d] + b for every sequence, y laid out [batch, C_out].
    fn apply(&self, queue: &Queue, y: &mut [f32]) {
        self.set_bias(y);
        let block = self.inputs * self.outputs;
        for j in 0..self.kernel {
            let w = &self.weight[j * block..(j + 1) * block];
            accumulate(queue.column(j * self.dilation), w, self.outputs, y);
        }
    }

    /// y += x · W + b for a 1x1 convolution, x [batch, C_in], y [batch, C_out].
    fn add_to(&self, x: &[f32], y: &mut [f32]) {
        for row in y.chunks_exact_mut(self.outputs) {
            add(row, &self.bias);
        }
        accumulate(x, &self.weight, self.outputs, y);
    }

    /// y = x · W + b for a 1x1 convolution.
    fn apply_matrix(&self, x: &[f32], y: &mut [f32]) {
        self.set_bias(y);
        accumulate(x, &self.weight, self.outputs, y);
    }

    fn set_bias(&self, y: &mut [f32]) {
        for row in y.chunks_exact_mut(self.outputs) {
            row.copy_from_slice(&self.bias);
        }
    }
}

/// The conditioning vectors V h of each sequence, [batch, channels], on the host.
fn host_vectors(tensor: Option<Tensor<2>>) -> Option<Vec<f32>> {
    tensor.map(|t| {
        t.into_data()
            .convert::<f32>()
            .try_to_vec()
            .expect("f32 values")
    })
}

/// `y += v` where v is given (conditioning vectors laid out like y).
fn plus(y: &mut [f32], v: &Option<Vec<f32>>) {
    if let Some(v) = v {
        add(y, v);
    }
}

/// `y += x · W + b`, the 1x1 convolution of the step's covariates, where both exist.
fn plus_covariates(y: &mut [f32], conv: &Option<StepConv>, covariates: Option<&[f32]>) {
    if let (Some(conv), Some(c)) = (conv, covariates) {
        conv.add_to(c, y);
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
        class: Option<Vec<f32>>,
        covariate: Option<StepConv>,
    },
    Tcn {
        first: StepConv,
        first_queue: Queue,
        second: StepConv,
        second_queue: Queue,
        class_first: Option<Vec<f32>>,
        class_second: Option<Vec<f32>>,
        covariate_first: Option<StepConv>,
        covariate_second: Option<StepConv>,
    },
}

/// Buffers of one step, allocated once: the residual stream z, the sum of skips, the
/// pre-activation of a block (2R for WaveNet's gate) and its output, the head's layers.
struct Scratch {
    z: Vec<f32>,
    skips: Vec<f32>,
    pre: Vec<f32>,
    gated: Vec<f32>,
    hidden: Vec<f32>,
    features: Vec<f32>,
}

/// The per-layer queues of a causal convolution stack generating a batch of sequences.
pub struct ConvCache {
    batch: usize,
    input: StepConv,
    /// The encoded steps x_{t−k₀}, ..., x_{t−1} the first layer reads.
    input_queue: Queue,
    input_class: Option<Vec<f32>>,
    input_covariate: Option<StepConv>,
    blocks: Vec<BlockState>,
    head_hidden: StepConv,
    head_out: StepConv,
    scratch: Scratch,
}

impl ConvCache {
    /// Empty queues (the zero padding before step 0) for `batch` sequences; `condition` (h of
    /// each sequence) for a conditional model. The weights are copied to the host once.
    pub fn new(
        model: &CausalConv,
        batch: usize,
        condition: Option<&Condition>,
        _device: &Device,
    ) -> Self {
        // The first layer pads k₀ zeros and drops its last output: output t reads the k₀
        // steps before t, which is a queue of span k₀ holding x_{t−k₀} .. x_{t−1}.
        let input = StepConv::new(&model.input);
        let residual_channels = input.outputs;
        let input_queue = Queue::zeros(input.span(), batch * input.inputs);
        let queue = |conv: &StepConv| Queue::zeros(conv.span(), batch * residual_channels);
        let vectors = |map| host_vectors(condition_vectors(map, condition));
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
                        class: vectors(b.condition.as_ref()),
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
                        class_first: vectors(b.condition_first.as_ref()),
                        class_second: vectors(b.condition_second.as_ref()),
                        covariate_first: b.covariate_first.as_ref().map(StepConv::new),
                        covariate_second: b.covariate_second.as_ref().map(StepConv::new),
                    }
                }
            })
            .collect();
        let head_hidden = StepConv::new(&model.head_hidden);
        let head_out = StepConv::new(&model.head_out);
        let r = residual_channels;
        let scratch = Scratch {
            z: vec![0.0; batch * r],
            skips: vec![0.0; batch * r],
            pre: vec![0.0; batch * 2 * r],
            gated: vec![0.0; batch * r],
            hidden: vec![0.0; batch * head_hidden.outputs],
            features: vec![0.0; batch * head_out.outputs],
        };
        Self {
            batch,
            input,
            input_queue,
            input_class: vectors(model.input_condition.as_ref()),
            input_covariate: model.input_covariate.as_ref().map(StepConv::new),
            blocks,
            head_hidden,
            head_out,
            scratch,
        }
    }

    /// The number of sequences the cache generates.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Features per step of each sequence (P of [`Self::features`]).
    pub fn feature_width(&self) -> usize {
        self.head_out.outputs
    }

    /// The features [batch, P] (row-major) of p(x_t | x_<t, h) for the current step t. Call
    /// once per step, then [`Self::observe`] the step's value.
    pub fn features(&mut self) -> &[f32] {
        self.features_with(None)
    }

    /// [`Self::features`] for a model with covariates: `covariates` [batch, K] (row-major) is
    /// what the current step reads (c_t, and c_{t+1} when known ahead).
    pub fn features_with(&mut self, covariates: Option<&[f32]>) -> &[f32] {
        let n = self.batch;
        let s = &mut self.scratch;
        let r = self.input.outputs;
        self.input.apply(&self.input_queue, &mut s.z);
        plus(&mut s.z, &self.input_class);
        plus_covariates(&mut s.z, &self.input_covariate, covariates);
        let mut any_skip = false;
        s.skips.fill(0.0);
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
                    queue.push(&s.z);
                    let pre = &mut s.pre[..n * 2 * r];
                    dilated.apply(queue, pre);
                    plus(pre, class);
                    plus_covariates(pre, covariate, covariates);
                    // tanh(a) ⊙ σ(b), a and b the two halves of each sequence's 2R values.
                    for (x, y) in pre.chunks_exact(2 * r).zip(s.gated.chunks_exact_mut(r)) {
                        let (a, b) = x.split_at(r);
                        gate(a, b, y);
                    }
                    skip.add_to(&s.gated, &mut s.skips);
                    residual.add_to(&s.gated, &mut s.z);
                    any_skip = true;
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
                    first_queue.push(&s.z);
                    let y = &mut s.gated;
                    first.apply(first_queue, y);
                    plus(y, class_first);
                    plus_covariates(y, covariate_first, covariates);
                    relu(y);
                    second_queue.push(y);
                    let y = &mut s.pre[..n * r];
                    second.apply(second_queue, y);
                    plus(y, class_second);
                    plus_covariates(y, covariate_second, covariates);
                    relu(y);
                    add(&mut s.z, y);
                    relu(&mut s.z);
                }
            }
        }
        let features = if any_skip { &mut s.skips } else { &mut s.z };
        relu(features);
        self.head_hidden.apply_matrix(features, &mut s.hidden);
        relu(&mut s.hidden);
        self.head_out.apply_matrix(&s.hidden, &mut s.features);
        &s.features
    }

    /// Feeds the current step's encoded value x_t, [batch, C] row-major, and moves to step
    /// t + 1.
    pub fn observe(&mut self, x: &[f32]) {
        self.input_queue.push(x);
    }
}
