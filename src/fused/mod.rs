//! Fused operations: the hot spots of training, each computed in as few passes over its data
//! as possible, with its own backward pass, instead of a chain of standard tensor operations.
//!
//! - [`gated_activation`]: y = tanh(a) ⊙ σ(b), where a and b are the two halves of the
//!   channel axis (the gate of the Gated PixelCNN and of WaveNet). Forward keeps tanh(a) and
//!   σ(b); backward is ∂y/∂a = σ(b)(1 − tanh²(a)), ∂y/∂b = tanh(a) σ(b)(1 − σ(b)), no exp.
//! - [`level_log_prob`]: log softmax over the level axis, picked at the observed level:
//!   log p(x) = z_x − log Σ_l exp(z_l). Backward is ∂/∂z_l = g·([l = x] − p_l).
//! - [`head_log_prob`]: the image models' output head (relu, 1×1, relu, 1×1) and the
//!   categorical log-likelihood of the observed levels, in tiles of pixels that stay in cache,
//!   forwards and backwards, without forming the logits ([`head`]).
//! - [`conv2d`]: 2-D convolution, forward and both gradients, as one well-shaped matrix
//!   product per example ([`conv`]).
//! - [`lstm::lstm_sequence`]: an LSTM layer over a whole sequence, forward and
//!   backpropagation through time, as one operation ([`lstm`]);
//! - [`gru::gru_sequence`]: the same for a GRU layer ([`gru`]).
//! - [`step`]: the per-step loops of cached sequence generation (no backward pass).
//!
//! Each matches the composition of standard burn operations it replaces (tested, values and
//! gradients), which stays available: [`set_enabled`]`(false)` (the `--plain-ops` option)
//! makes every function here use the standard operations. The kernels run on burn-flex's CPU
//! tensors through burn's backend extension; with `--features gpu`, the gate and the
//! log-likelihood also run as GPU kernels on burn's cubecl backend ([`gpu`]); elsewhere the
//! standard operations run.

pub mod conv;
pub mod dropout;
#[cfg(feature = "gpu")]
pub mod gpu;

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Autodiff, Bytes, DType, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::prelude::*;
use burn::tensor::activation::{log_softmax, sigmoid};
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the fused kernels on (the default) or off (standard burn operations everywhere).
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// Whether the fused kernels are in use.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether `t` lives on the flex CPU backend (with or without autodiff), where the kernels run.
fn on_flex<const D: usize>(t: &Tensor<D>) -> bool {
    is_flex(&t.device())
}

/// Whether `device` is the flex CPU backend (with or without autodiff).
pub(crate) fn is_flex(device: &Device) -> bool {
    *device == Device::flex() || *device == Device::flex().autodiff()
}

/// tanh(a) ⊙ σ(b) for `x` of shape [batch, 2C, ...], a = channels 0..C, b = channels C..2C;
/// the result has shape [batch, C, ...].
pub fn gated_activation<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if enabled() && on_flex(&x) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::gated_activation(x.into_dispatch()));
    }
    #[cfg(feature = "gpu")]
    if enabled() && gpu::is_cube(&x.device()) {
        return gpu::gated_activation(x);
    }
    gated_activation_plain(x)
}

/// [`gated_activation`] from standard operations (the reference).
pub fn gated_activation_plain<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let [a, b] = x.chunk(2, 1).try_into().expect("two halves");
    a.tanh() * sigmoid(b)
}

/// log p(x) at every position: `logits` [batch, L, P] and levels `x` [batch, P] in 0..L give
/// [batch, P] = z_x − log Σ_l exp(z_l).
pub fn level_log_prob(logits: Tensor<3>, x: Tensor<2, Int>) -> Tensor<2> {
    if enabled() && on_flex(&logits) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::level_log_prob(
            logits.into_dispatch(),
            x.into_dispatch(),
        ));
    }
    #[cfg(feature = "gpu")]
    if enabled() && gpu::is_cube(&logits.device()) {
        return gpu::level_log_prob(logits, x);
    }
    level_log_prob_plain(logits, x)
}

/// [`level_log_prob`] from standard operations (the reference).
pub fn level_log_prob_plain(logits: Tensor<3>, x: Tensor<2, Int>) -> Tensor<2> {
    let [batch, positions] = x.dims();
    log_softmax(logits, 1)
        .gather(1, x.reshape([batch, 1, positions]))
        .reshape([batch, positions])
}

/// Element-wise Bernoulli log p(x) = x z + ln σ(−z) for logits `z` and `x` in {0, 1} of the
/// same shape, with ln σ(−z) = −(max(z, 0) + ln(1 + e^−|z|)) computed without a library call
/// (so that the loop vectorises); backward ∂/∂z = g·(x − σ(z)). Standard operations
/// elsewhere, or when the shapes differ.
pub fn bernoulli_log_prob<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    if enabled() && on_flex(&logits) && logits.dims() == x.dims() {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::bernoulli_log_prob(
            logits.into_dispatch(),
            x.into_dispatch(),
        ));
    }
    bernoulli_log_prob_plain(logits, x)
}

/// [`bernoulli_log_prob`] from standard operations (the reference).
pub fn bernoulli_log_prob_plain<const D: usize>(logits: Tensor<D>, x: Tensor<D>) -> Tensor<D> {
    logits.clone() * x + burn::tensor::activation::log_sigmoid(logits.neg())
}

/// 2-D convolution of `x` [batch, C_in, H, W] with `weight` [C_out, C_in, kh, kw] and `bias`
/// [C_out], as [`burn::tensor::module::conv2d`]; on burn-flex, with stride 1 and
/// one group, computed by argen's kernels (see [`conv`]); elsewhere a 1×1 convolution is a
/// matrix product ([`pointwise_conv`], also with `--plain-ops`: it avoids a wrong burn
/// kernel), any other by burn's.
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    conv2d_then(x, weight, bias, options, false)
}

/// `relu(conv2d(x, weight, bias, options))`: on burn-flex the ReLU is applied as the
/// product's output is written (no pass of its own), and the backward pass keeps the
/// output's gradient where y > 0 before the convolution's. NaN stays NaN, as in burn's ReLU.
pub fn conv2d_relu(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    conv2d_then(x, weight, bias, options, true)
}

/// [`conv2d`], followed by a ReLU when `relu`.
fn conv2d_then(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    relu: bool,
) -> Tensor<4> {
    let on_cpu = on_flex(&x);
    let [_, _, kh, kw] = weight.dims();
    if !on_cpu && is_pointwise([kh, kw], &options) {
        return relu_if(relu, pointwise_conv(x, weight, bias));
    }
    match bias {
        Some(bias) if argen_conv_takes(on_cpu, &options) => {
            Tensor::from_dispatch(<Dispatch as FusedOps>::conv2d(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                options,
                relu,
            ))
        }
        bias => relu_if(relu, burn::tensor::module::conv2d(x, weight, bias, options)),
    }
}

/// `conv2d(x, weight, bias, options) + addend`, with `addend` of the output's shape: on
/// burn-flex (where [`conv2d`] runs argen's kernels) the sum is written as the product is, so
/// no separate addition reads both maps again, and the addend's gradient is the output's.
pub fn conv2d_add(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    addend: Tensor<4>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    match bias {
        Some(bias) if argen_conv_takes(on_flex(&x), &options) => {
            Tensor::from_dispatch(<Dispatch as FusedOps>::conv2d_add(
                x.into_dispatch(),
                weight.into_dispatch(),
                bias.into_dispatch(),
                addend.into_dispatch(),
                options,
            ))
        }
        bias => conv2d(x, weight, bias, options) + addend,
    }
}

/// Whether argen's convolution kernels ([`conv`]) compute a convolution with a bias: on
/// burn-flex (`on_cpu`), fused operations on, and options they cover.
fn argen_conv_takes(on_cpu: bool, options: &ConvOptions<2>) -> bool {
    enabled() && on_cpu && conv::supported(options)
}

/// `relu(y)` when `relu`, else `y`.
fn relu_if<const D: usize>(relu: bool, y: Tensor<D>) -> Tensor<D> {
    if relu {
        burn::tensor::activation::relu(y)
    } else {
        y
    }
}

/// Whether a `kernel` (height, width) and `options` make a 1×1 convolution with stride 1, no
/// padding and one group (dilation changes nothing then): a matrix product over the channels.
fn is_pointwise([kh, kw]: [usize; 2], options: &ConvOptions<2>) -> bool {
    kh == 1
        && kw == 1
        && options.stride == [1, 1]
        && options.padding == [(0, 0), (0, 0)]
        && options.groups == 1
}

/// A 1×1 convolution as one matrix product per example, y[b] = W · x[b] + bias, with `x`
/// [batch, C_in, H, W] seen as [batch, C_in, H·W] and `weight` [C_out, C_in, 1, 1] as
/// [C_out, C_in]. Used off the CPU, where burn's tuned 1×1 convolution kernels
/// (`conv_im2col_1x1`, `wgrad_im2col_1x1_split`) read an input narrowed along the height
/// (the strict vertical stack's output, a view) as if it were contiguous and give wrong
/// values from the second image on (BENCHMARKS.md, "The GPU path without a GPU"); a matrix
/// product, tuned as well, is what a GPU does best anyway.
fn pointwise_conv(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, c_in, height, width] = x.dims();
    let c_out = weight.dims()[0];
    let y = weight
        .reshape([1, c_out, c_in])
        .matmul(x.reshape([batch, c_in, height * width]));
    let y = match bias {
        Some(bias) => y + bias.reshape([1, c_out, 1]),
        None => y,
    };
    y.reshape([batch, c_out, height, width])
}

/// 1-D convolution of `x` [batch, C_in, T] with `weight` [C_out, C_in, k] and `bias` [C_out],
/// as [`burn::tensor::module::conv1d`]: the same as [`conv2d`] of a 1 × T image with a 1 × k
/// kernel, which is how it runs on burn-flex (stride 1, one group, any dilation: WaveNet's and
/// the TCN's causal convolutions) and, elsewhere, for k = 1 (a matrix product, as in
/// [`conv2d`]); else by burn's.
pub fn conv1d(
    x: Tensor<3>,
    weight: Tensor<3>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<1>,
) -> Tensor<3> {
    conv1d_then(x, weight, bias, options, false)
}

/// `relu(conv1d(x, weight, bias, options))`, the ReLU fused into the convolution where
/// [`conv2d_relu`] fuses it.
pub fn conv1d_relu(
    x: Tensor<3>,
    weight: Tensor<3>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<1>,
) -> Tensor<3> {
    conv1d_then(x, weight, bias, options, true)
}

/// [`conv1d`], followed by a ReLU when `relu`.
fn conv1d_then(
    x: Tensor<3>,
    weight: Tensor<3>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<1>,
    relu: bool,
) -> Tensor<3> {
    let plane = ConvOptions::new_with_padding(
        [1, options.stride[0]],
        [(0, 0), options.padding[0]],
        [1, options.dilation[0]],
        options.groups,
    );
    let [c_out, _, kernel] = weight.dims();
    // Whether conv2d takes it: argen's kernels on the CPU, the matrix product elsewhere.
    let as_plane = if on_flex(&x) {
        bias.is_some() && argen_conv_takes(true, &plane)
    } else {
        is_pointwise([1, kernel], &plane)
    };
    if !as_plane {
        return relu_if(relu, burn::tensor::module::conv1d(x, weight, bias, options));
    }
    let [batch, c_in, time] = x.dims();
    let (x, weight) = (
        x.reshape([batch, c_in, 1, time]),
        weight.reshape([c_out, c_in, 1, kernel]),
    );
    let y = conv2d_then(x, weight, bias, plane, relu);
    let [_, _, _, out] = y.dims();
    y.reshape([batch, c_out, out])
}

/// log p(x | h) of each example under the image models' output head: features `h`
/// [N, C, H, W] → relu → 1×1 convolution `w1` [D, C] + `b1` → relu → 1×1 convolution `w2`
/// [c·L, D] + `b2` → logits (channel c·L + l is level l of colour c) → Σ over pixels and
/// colours of the categorical log-probability of the levels `x` [N, c, H, W]; shape [N], in
/// nats. On burn-flex one operation in tiles of pixels ([`head`]); elsewhere (and with
/// `--plain-ops`) the composition of [`conv2d`] and [`level_log_prob`].
pub fn head_log_prob(
    h: Tensor<4>,
    w1: Tensor<2>,
    b1: Tensor<1>,
    w2: Tensor<2>,
    b2: Tensor<1>,
    x: Tensor<4, Int>,
) -> Tensor<1> {
    if enabled() && on_flex(&h) {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::head_log_prob(
            h.into_dispatch(),
            w1.into_dispatch(),
            b1.into_dispatch(),
            w2.into_dispatch(),
            b2.into_dispatch(),
            x.into_dispatch(),
        ));
    }
    head_log_prob_composed((h, w1, b1, w2, b2), x, false)
}

/// [`head_log_prob`] from standard burn operations (the reference).
pub fn head_log_prob_plain(
    h: Tensor<4>,
    w1: Tensor<2>,
    b1: Tensor<1>,
    w2: Tensor<2>,
    b2: Tensor<1>,
    x: Tensor<4, Int>,
) -> Tensor<1> {
    head_log_prob_composed((h, w1, b1, w2, b2), x, true)
}

/// [`head_log_prob`] op by op: with `plain`, burn's convolution and log-softmax; otherwise
/// [`conv2d`] and [`level_log_prob`] (argen's kernels where they run).
fn head_log_prob_composed(
    (h, w1, b1, w2, b2): (Tensor<4>, Tensor<2>, Tensor<1>, Tensor<2>, Tensor<1>),
    x: Tensor<4, Int>,
    plain: bool,
) -> Tensor<1> {
    let [n, colours, height, width] = x.dims();
    let positions = colours * height * width;
    let pointwise = |input: Tensor<4>, w: Tensor<2>, b: Tensor<1>| {
        let [c_out, c_in] = w.dims();
        let w = w.reshape([c_out, c_in, 1, 1]);
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        if plain {
            burn::tensor::module::conv2d(input, w, Some(b), options)
        } else {
            conv2d(input, w, Some(b), options)
        }
    };
    let levels = w2.dims()[0] / colours;
    let hidden =
        burn::tensor::activation::relu(pointwise(burn::tensor::activation::relu(h), w1, b1));
    let logits = pointwise(hidden, w2, b2)
        .reshape([n, colours, levels, height * width])
        .swap_dims(1, 2)
        .reshape([n, levels, positions]);
    let x = x.reshape([n, positions]);
    let log_p = if plain {
        level_log_prob_plain(logits, x)
    } else {
        level_log_prob(logits, x)
    };
    log_p.sum_dim(1).reshape([n])
}

/// The fused operations as a backend extension of burn-flex, with and without autodiff.
#[backend_extension(Autodiff, Flex)]
pub trait FusedOps: burn::backend::Backend {
    /// See [`gated_activation`].
    fn gated_activation(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// See [`level_log_prob`].
    fn level_log_prob(logits: FloatTensor<Self>, x: IntTensor<Self>) -> FloatTensor<Self>;
    /// See [`bernoulli_log_prob`].
    fn bernoulli_log_prob(logits: FloatTensor<Self>, x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// See [`conv2d`], and [`conv2d_relu`] when `relu`.
    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self>;
    /// See [`conv2d_add`].
    fn conv2d_add(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        addend: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self>;
    /// See [`lstm::lstm_sequence`]: [h_t | c_t] for every step from the inputs `x` [B, T, I],
    /// the input weights of the gates i, f, g, o (`w_ii` .. `w_io`, each [I, H]), the bias
    /// [4H], the gates' recurrent weights (`w_hi` .. `w_ho`, each [H, H]) and the start state
    /// `h0`, `c0`.
    #[allow(clippy::too_many_arguments)]
    fn lstm(
        x: FloatTensor<Self>,
        w_ii: FloatTensor<Self>,
        w_if: FloatTensor<Self>,
        w_ig: FloatTensor<Self>,
        w_io: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        w_hi: FloatTensor<Self>,
        w_hf: FloatTensor<Self>,
        w_hg: FloatTensor<Self>,
        w_ho: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// See [`gru::gru_sequence`]: h_t for every step from the inputs `x` [B, T, I], the input
    /// weight `w_ih` [I, 3H] and bias [3H], the recurrent weight `w` [H, 3H], the new gate's
    /// recurrent bias `bn` [H] and the start state `h0`.
    fn gru(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bn: FloatTensor<Self>,
        h0: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
    /// See [`dense_gradient`].
    fn dense_gradient(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// See [`head_log_prob`].
    fn head_log_prob(
        h: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
        x: IntTensor<Self>,
    ) -> FloatTensor<Self>;
}

impl FusedOps for Flex {
    fn gated_activation(x: FlexTensor) -> FlexTensor {
        gate_forward(&x, false).0
    }

    fn level_log_prob(logits: FlexTensor, x: FlexTensor) -> FlexTensor {
        log_prob_forward(&logits, &x).0
    }

    fn bernoulli_log_prob(logits: FlexTensor, x: FlexTensor) -> FlexTensor {
        bernoulli_forward(&logits, &x)
    }

    fn conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FlexTensor {
        conv::forward(&x, &weight, &bias, None, relu, &options)
    }

    fn conv2d_add(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        addend: FlexTensor,
        options: ConvOptions<2>,
    ) -> FlexTensor {
        conv::forward(&x, &weight, &bias, Some(&addend), false, &options)
    }

    fn lstm(
        x: FlexTensor,
        w_ii: FlexTensor,
        w_if: FlexTensor,
        w_ig: FlexTensor,
        w_io: FlexTensor,
        bias: FlexTensor,
        w_hi: FlexTensor,
        w_hf: FlexTensor,
        w_hg: FlexTensor,
        w_ho: FlexTensor,
        h0: FlexTensor,
        c0: FlexTensor,
    ) -> FlexTensor {
        let weights = (
            [&w_ii, &w_if, &w_ig, &w_io],
            &bias,
            [&w_hi, &w_hf, &w_hg, &w_ho],
        );
        lstm::forward(&x, weights, (&h0, &c0), false).0
    }

    fn gru(
        x: FlexTensor,
        w_ih: FlexTensor,
        bias: FlexTensor,
        w: FlexTensor,
        bn: FlexTensor,
        h0: FlexTensor,
    ) -> FlexTensor {
        gru::forward([&x, &w_ih, &bias, &w, &bn, &h0], false).0
    }

    fn dense_gradient(x: FlexTensor) -> FlexTensor {
        x
    }

    fn head_log_prob(
        h: FlexTensor,
        w1: FlexTensor,
        b1: FlexTensor,
        w2: FlexTensor,
        b2: FlexTensor,
        x: FlexTensor,
    ) -> FlexTensor {
        head::pass([&h, &w1, &b1, &w2, &b2], &x, None).0
    }
}

impl<C: CheckpointStrategy> FusedOps for Autodiff<Flex, C> {
    fn gated_activation(x: FloatTensor<Self>) -> FloatTensor<Self> {
        match GateBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, saved) = gate_forward(x.primitive(), true);
                prep.finish(saved.expect("kept"), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(gate_forward(x.primitive(), false).0),
        }
    }

    fn level_log_prob(logits: FloatTensor<Self>, x: IntTensor<Self>) -> FloatTensor<Self> {
        match LogProbBackward
            .prepare::<C>([logits.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let z = logits.primitive().clone();
                let (out, lse) = log_prob_forward(&z, &x);
                prep.finish((z, lse, x), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(log_prob_forward(logits.primitive(), &x).0),
        }
    }

    fn bernoulli_log_prob(logits: FloatTensor<Self>, x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (z, xv) = (logits.primitive().clone(), x.primitive().clone());
        match BernoulliBackward
            .prepare::<C>([logits.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let out = bernoulli_forward(&z, &xv);
                prep.finish((z, xv), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(bernoulli_forward(&z, &xv)),
        }
    }

    fn conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        let [xp, wp, bp] = [&x, &weight, &bias].map(|t| t.primitive().clone());
        let y = conv::forward(&xp, &wp, &bp, None, relu, &options);
        match conv::ConvBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            // After a ReLU the backward pass reads the output for its mask.
            OpsKind::Tracked(prep) => prep.finish(((xp, wp, options), relu.then(|| y.clone())), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn conv2d_add(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        addend: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        let [xp, wp, bp, ap] = [&x, &weight, &bias, &addend].map(|t| t.primitive().clone());
        let y = conv::forward(&xp, &wp, &bp, Some(&ap), false, &options);
        match conv::ConvAddBackward
            .prepare::<C>([x.node(), weight.node(), bias.node(), addend.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((xp, wp, options), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn lstm(
        x: FloatTensor<Self>,
        w_ii: FloatTensor<Self>,
        w_if: FloatTensor<Self>,
        w_ig: FloatTensor<Self>,
        w_io: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        w_hi: FloatTensor<Self>,
        w_hf: FloatTensor<Self>,
        w_hg: FloatTensor<Self>,
        w_ho: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let parents = [
            &x, &w_ii, &w_if, &w_ig, &w_io, &bias, &w_hi, &w_hf, &w_hg, &w_ho,
        ];
        let [x, w_ii, w_if, w_ig, w_io, bias, w_hi, w_hf, w_hg, w_ho] =
            parents.map(|t| t.primitive().clone());
        let (h0, c0) = (h0.primitive().clone(), c0.primitive().clone());
        let run = |keep| {
            let weights = (
                [&w_ii, &w_if, &w_ig, &w_io],
                &bias,
                [&w_hi, &w_hf, &w_hg, &w_ho],
            );
            lstm::forward(&x, weights, (&h0, &c0), keep)
        };
        match lstm::LstmBackward
            .prepare::<C>(parents.map(|t| t.node()))
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, saved) = run(true);
                prep.finish(saved.expect("kept"), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(run(false).0),
        }
    }

    fn gru(
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        w: FloatTensor<Self>,
        bn: FloatTensor<Self>,
        h0: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let values = [&x, &w_ih, &bias, &w, &bn, &h0].map(|t| t.primitive().clone());
        let args = values.each_ref();
        match gru::GruBackward
            .prepare::<C>([x.node(), w_ih.node(), bias.node(), w.node(), bn.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, saved) = gru::forward(args, true);
                prep.finish(saved.expect("kept"), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(gru::forward(args, false).0),
        }
    }

    fn dense_gradient(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let value = x.primitive().clone();
        DenseGradientBackward
            .prepare::<C>([x.node()])
            .compute_bound()
            .stateless(value)
    }

    fn head_log_prob(
        h: FloatTensor<Self>,
        w1: FloatTensor<Self>,
        b1: FloatTensor<Self>,
        w2: FloatTensor<Self>,
        b2: FloatTensor<Self>,
        x: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        let values = [&h, &w1, &b1, &w2, &b2].map(|t| t.primitive().clone());
        match head::HeadBackward
            .prepare::<C>([h.node(), w1.node(), b1.node(), w2.node(), b2.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                // The gradients for a weight of 1 on every example, scaled in the backward pass.
                let ones = vec![1f32; values[0].shape()[0]];
                let (log_p, unit) = head::pass(values.each_ref(), &x, Some(&ones));
                prep.finish((values, x, unit.expect("asked for")), log_p)
            }
            OpsKind::UnTracked(prep) => prep.finish(head::pass(values.each_ref(), &x, None).0),
        }
    }
}

/// A contiguous f32 tensor of the given shape.
fn flex_f32(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(burn::tensor::Shape::from(shape)),
        DType::F32,
    )
}

/// A buffer of `len` values that are not initialised: for outputs whose every value a kernel
/// writes, so that they are not zeroed first (glibc's calloc zeroes reused memory with a
/// memset).
pub(super) fn uninit(len: usize) -> Vec<MaybeUninit<f32>> {
    let mut values = Vec::with_capacity(len);
    // SAFETY: MaybeUninit values need no initialisation; the capacity is `len`.
    unsafe { values.set_len(len) };
    values
}

/// `values` as f32, once the caller has initialised every one.
///
/// # Safety
/// Every value of `values` must be initialised.
pub(super) unsafe fn initialised(values: &mut [MaybeUninit<f32>]) -> &mut [f32] {
    // SAFETY: every value is initialised (the caller's promise); MaybeUninit<f32> has f32's
    // layout.
    unsafe { &mut *(std::ptr::from_mut(values) as *mut [f32]) }
}

/// The values of a buffer whose every value the caller initialised.
///
/// # Safety
/// Every value of `values` must be initialised.
pub(super) unsafe fn assume_init(values: Vec<MaybeUninit<f32>>) -> Vec<f32> {
    let mut values = std::mem::ManuallyDrop::new(values);
    // SAFETY: every value is initialised (the caller's promise); same allocation, length and
    // capacity, and MaybeUninit<f32> has f32's layout.
    unsafe {
        Vec::from_raw_parts(
            values.as_mut_ptr().cast::<f32>(),
            values.len(),
            values.capacity(),
        )
    }
}

/// The f32 values of `t` in row-major order (copied only when `t` is not contiguous).
fn values_f32(t: &FlexTensor) -> FlexTensor {
    assert_eq!(t.dtype(), DType::F32, "the fused kernels run in f32");
    t.to_contiguous()
}

/// Calls `kernel(args...)`, a function with `#[inline(always)]` element loops, compiled for
/// AVX-512 (16 lanes) or AVX2 and FMA (8 lanes) where the processor has them, else for the
/// baseline (4 lanes). All compute the same values: the loops use no fused multiply-add, so
/// each lane does the same operations in the same order whatever the width.
macro_rules! with_wide_simd {
    ($kernel:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
            unsafe fn widest(f: impl FnOnce()) {
                f()
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn wide(f: impl FnOnce()) {
                f()
            }
            if std::is_x86_feature_detected!("avx512f")
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq")
                && std::is_x86_feature_detected!("avx512vl")
                && std::is_x86_feature_detected!("fma")
            {
                // SAFETY: the processor has AVX-512 F/BW/DQ/VL and FMA (checked just above).
                unsafe { widest(|| $kernel($($arg),*)) }
            } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                // SAFETY: the processor has AVX2 and FMA (checked just above).
                unsafe { wide(|| $kernel($($arg),*)) }
            } else {
                $kernel($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        $kernel($($arg),*)
    }};
}

pub mod gru;
pub mod head;
pub mod lstm;
pub mod matmul;
mod packed;
mod recurrence;

pub mod step;
mod transpose;

/// y = tanh(a)·σ(b), element by element.
#[inline(always)]
fn gate(a: &[f32], b: &[f32], y: &mut [MaybeUninit<f32>]) {
    for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
        let p = GateParts::of(a, b);
        // tanh(a)·σ(b) as one quotient (a division costs as much as the two exponentials).
        y.write(if p.small {
            p.tanh_small / p.one_plus_eb
        } else {
            p.tanh_numerator / (p.one_plus_ea * p.one_plus_eb)
        });
    }
}

/// What tanh(a) and σ(b) are made of: tanh(a) = ±(1 − e^−2|a|)/(1 + e^−2|a|) (or its odd
/// Taylor polynomial where |a| < 1/16, as in [`tanh_approx`]) and σ(b) = 1/(1 + e^−b), kept
/// apart so that the gate divides once for both.
struct GateParts {
    /// Whether |a| < 1/16, where tanh(a) is `tanh_small`.
    small: bool,
    tanh_small: f32,
    /// 1 − e^−2|a| with the sign of a.
    tanh_numerator: f32,
    /// 1 + e^−2|a| (at most 2, so its product with `one_plus_eb` stays finite).
    one_plus_ea: f32,
    /// 1 + e^−b.
    one_plus_eb: f32,
}

impl GateParts {
    #[inline(always)]
    fn of(a: f32, b: f32) -> Self {
        let ea = exp_approx(-2.0 * a.abs());
        GateParts {
            small: a.abs() < 0.0625,
            tanh_small: tanh_series(a),
            tanh_numerator: (1.0 - ea).copysign(a),
            one_plus_ea: 1.0 + ea,
            one_plus_eb: 1.0 + exp_approx(-b),
        }
    }
}

/// [`gate`], keeping t = tanh(a) and s = σ(b) for the backward pass.
#[inline(always)]
fn gate_keeping(
    a: &[f32],
    b: &[f32],
    y: &mut [MaybeUninit<f32>],
    t_out: &mut [MaybeUninit<f32>],
    s_out: &mut [MaybeUninit<f32>],
) {
    for ((((y, t_out), s_out), &a), &b) in y.iter_mut().zip(t_out).zip(s_out).zip(a).zip(b) {
        // One division for both: r = 1/((1 + e^−2|a|)(1 + e^−b)).
        let p = GateParts::of(a, b);
        let r = 1.0 / (p.one_plus_ea * p.one_plus_eb);
        let s = p.one_plus_ea * r;
        let t = if p.small {
            p.tanh_small
        } else {
            p.tanh_numerator * p.one_plus_eb * r
        };
        t_out.write(t);
        s_out.write(s);
        y.write(t * s);
    }
}

/// Returns tanh(a)·σ(b) and, when `keep`, the tensor [tanh(a) | σ(b)] of x's shape that the
/// backward pass reads.
fn gate_forward(x: &FlexTensor, keep: bool) -> (FlexTensor, Option<FlexTensor>) {
    let x = values_f32(x);
    let dims = x.shape().to_vec();
    let xs: &[f32] = x.as_slice().expect("contiguous");
    let batch = dims[0];
    let half = xs.len() / batch / 2; // a and b of one example are consecutive blocks
    // Every value of both is written below.
    let mut y = uninit(batch * half);
    let mut saved = uninit(if keep { xs.len() } else { 0 });
    let gate_example = |(x, y): (&[f32], &mut [MaybeUninit<f32>]),
                        saved: Option<&mut [MaybeUninit<f32>]>| {
        let (a, b) = x.split_at(half);
        match saved {
            Some(saved) => {
                let (t_out, s_out) = saved.split_at_mut(half);
                with_wide_simd!(gate_keeping(a, b, y, t_out, s_out));
            }
            None => with_wide_simd!(gate(a, b, y)),
        }
    };
    if keep {
        xs.par_chunks(2 * half)
            .zip(y.par_chunks_mut(half))
            .zip(saved.par_chunks_mut(2 * half))
            .for_each(|(pair, s)| gate_example(pair, Some(s)));
    } else {
        xs.par_chunks(2 * half)
            .zip(y.par_chunks_mut(half))
            .for_each(|pair| gate_example(pair, None));
    }
    let mut out_dims = dims.clone();
    out_dims[1] /= 2;
    // SAFETY: the kernels wrote every value of y and, when kept, of saved.
    let (y, saved) = unsafe { (assume_init(y), assume_init(saved)) };
    (flex_f32(y, out_dims), keep.then(|| flex_f32(saved, dims)))
}

/// σ(v) = 1 / (1 + e^−v).
#[inline(always)]
fn logistic(v: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-v))
}

/// e^x in f32 without a library call, so that loops over it vectorise: x = n·ln 2 + r with
/// n an integer and |r| ≤ ln 2 / 2 (ln 2 split in two parts so that r is exact), e^r from its
/// Taylor polynomial of degree 7 (truncation below 2e-9 relative), times 2^n built from
/// the exponent bits. Within a few ulp of `f32::exp` (tested); NaN stays NaN; the
/// argument is clamped to [−87, 88], where e^x is a normal f32.
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2^23: adding it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    // The integer n read from the bits of n + 1.5·2^23 (its low mantissa bits), not by a
    // saturating float-to-int conversion, which keeps the loops from vectorising.
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let r = (x - n * LN2_HIGH) - n * LN2_LOW;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits((n_int.wrapping_add(127) as u32) << 23)
}

/// tanh(x) without a library call: (1 − e^−2|x|) / (1 + e^−2|x|) with the sign of x, and
/// its odd Taylor polynomial for |x| < 1/16, where the subtraction would lose digits.
#[inline(always)]
fn tanh_approx(x: f32) -> f32 {
    let e = exp_approx(-2.0 * x.abs());
    let large = ((1.0 - e) / (1.0 + e)).copysign(x);
    if x.abs() < 0.0625 {
        tanh_series(x)
    } else {
        large
    }
}

/// tanh(x) from its odd Taylor polynomial x − x³/3 + 2x⁵/15 − 17x⁷/315, used where
/// |x| < 1/16 (error below 1e-10 relative there).
#[inline(always)]
fn tanh_series(x: f32) -> f32 {
    let x2 = x * x;
    x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0))))
}

/// The gate's gradient from the kept t = tanh(a) and s = σ(b): ∂/∂a = g·s·(1 − t²),
/// ∂/∂b = g·t·s·(1 − s).
#[inline(always)]
fn gate_gradient(
    da: &mut [MaybeUninit<f32>],
    db: &mut [MaybeUninit<f32>],
    g: &[f32],
    t: &[f32],
    s: &[f32],
) {
    for ((((da, db), &g), &t), &s) in da.iter_mut().zip(db).zip(g).zip(t).zip(s) {
        da.write(g * s * (1.0 - t * t));
        db.write(g * t * s * (1.0 - s));
    }
}

/// `x` itself; in the backward pass, its gradient is handed on as one contiguous block.
///
/// The fused recurrent layers concatenate their gates' weights along the columns; burn's
/// concatenation hands each weight a strided view of the concatenated gradient, and every
/// later operation on such a gradient (clipping, Adam's moments) walks it value by value
/// (a seventh of an LSTM training step). Applied to each weight before the concatenation,
/// this op copies its gradient once into rows of its own.
pub fn dense_gradient<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if enabled() && on_flex(&x) && x.is_require_grad() {
        return Tensor::from_dispatch(<Dispatch as FusedOps>::dense_gradient(x.into_dispatch()));
    }
    x
}

#[derive(Debug)]
struct DenseGradientBackward;

impl Backward<Flex, 1> for DenseGradientBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        if let [Some(parent)] = ops.parents {
            grads.register::<Flex>(parent.id, grad);
        }
    }
}

#[derive(Debug)]
struct GateBackward;

impl Backward<Flex, 1> for GateBackward {
    /// [tanh(a) | σ(b)], shaped like the input.
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        let [Some(parent)] = ops.parents else {
            return;
        };
        let saved = ops.state;
        let dims = saved.shape().to_vec();
        let ts: &[f32] = saved.as_slice().expect("contiguous");
        let g: &[f32] = grad.as_slice().expect("contiguous");
        let half = g.len() / dims[0];
        // Every value is written below.
        let mut dx = uninit(ts.len());
        dx.par_chunks_mut(2 * half)
            .zip(ts.par_chunks(2 * half))
            .zip(g.par_chunks(half))
            .for_each(|((dx, ts), g)| {
                let (t, s) = ts.split_at(half);
                let (da, db) = dx.split_at_mut(half);
                with_wide_simd!(gate_gradient(da, db, g, t, s));
            });
        // SAFETY: gate_gradient wrote every value.
        let dx = unsafe { assume_init(dx) };
        grads.register::<Flex>(parent.id, flex_f32(dx, dims));
    }
}

/// The scalars of one Adam step (see [`crate::train::adam`]): the decays β₁ and β₂, the
/// bias-correction factor √(1 − β₂ᵗ)/(1 − β₁ᵗ), ε·√(1 − β₂ᵗ) and the learning rate.
#[derive(Debug, Clone, Copy)]
pub struct AdamConstants {
    /// β₁, the decay of the gradient's running mean m.
    pub beta_1: f32,
    /// β₂, the decay of the squared gradient's running mean v.
    pub beta_2: f32,
    /// √(1 − β₂ᵗ) / (1 − β₁ᵗ): both bias corrections of step t in one factor on m.
    pub factor: f32,
    /// ε·√(1 − β₂ᵗ), added to √v.
    pub epsilon: f32,
    /// The learning rate.
    pub lr: f32,
}

/// One Adam step in place, element by element, with burn's operations in burn's order:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − (m·factor / (√v + ε'))·lr. Blocks of the
/// parameter run on all threads.
pub fn adam_update(theta: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: AdamConstants) {
    assert!(
        theta.len() == m.len() && m.len() == v.len() && v.len() == g.len(),
        "a parameter, its moments and its gradient of one size"
    );
    const BLOCK: usize = 1 << 14;
    theta
        .par_chunks_mut(BLOCK)
        .zip(m.par_chunks_mut(BLOCK))
        .zip(v.par_chunks_mut(BLOCK))
        .zip(g.par_chunks(BLOCK))
        .for_each(|(((theta, m), v), g)| with_wide_simd!(adam_values(theta, m, v, g, k)));
}

#[inline(always)]
fn adam_values(theta: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: AdamConstants) {
    let (keep_1, keep_2) = (1.0 - k.beta_1, 1.0 - k.beta_2);
    for (((theta, m), v), &g) in theta.iter_mut().zip(m).zip(v).zip(g) {
        *m = *m * k.beta_1 + g * keep_1;
        *v = *v * k.beta_2 + g * g * keep_2;
        let step = *m * k.factor / (v.sqrt() + k.epsilon);
        *theta -= step * k.lr;
    }
}

/// The levels of `x` as usize, whatever its integer type.
fn levels_of(x: &FlexTensor) -> Vec<usize> {
    let x = x.to_contiguous();
    match x.dtype() {
        DType::I64 => x
            .as_slice::<i64>()
            .expect("contiguous")
            .iter()
            .map(|&v| v as usize)
            .collect(),
        DType::I32 => x
            .as_slice::<i32>()
            .expect("contiguous")
            .iter()
            .map(|&v| v as usize)
            .collect(),
        other => panic!("levels must be integers, got {other:?}"),
    }
}

/// Returns log p(x) [batch, P] and log Σ_l exp(z_l) [batch·P] (kept for the backward pass).
fn log_prob_forward(logits: &FlexTensor, x: &FlexTensor) -> (FlexTensor, Vec<f32>) {
    let z = values_f32(logits);
    let dims = z.shape().to_vec();
    let (batch, levels) = (dims[0], dims[1]);
    let positions: usize = dims[2..].iter().product();
    let zs: &[f32] = z.as_slice().expect("contiguous");
    let xs = levels_of(x);
    assert_eq!(xs.len(), batch * positions, "one level per position");
    let mut out = vec![0f32; batch * positions];
    let mut lse = vec![0f32; batch * positions];
    out.par_chunks_mut(positions)
        .zip(lse.par_chunks_mut(positions))
        .zip(zs.par_chunks(levels * positions))
        .zip(xs.par_chunks(positions))
        .for_each(|(((out, lse), z), x)| {
            let mut max = vec![0f32; positions];
            with_wide_simd!(log_sum_exp(z, positions, &mut max, lse));
            for p in 0..positions {
                assert!(x[p] < levels, "level {} out of range 0..{levels}", x[p]);
                out[p] = z[x[p] * positions + p] - lse[p];
            }
        });
    (flex_f32(out, vec![batch, positions]), lse)
}

/// log Σ_l exp(z_l) of every column of `rows` (L rows of `width` values, levels outer so that
/// every pass reads contiguous rows) into `lse`, with `max` as scratch:
/// max_l z_l + ln Σ_l e^(z_l − max).
#[inline(always)]
fn log_sum_exp(rows: &[f32], width: usize, max: &mut [f32], lse: &mut [f32]) {
    max.copy_from_slice(&rows[..width]);
    for row in rows.chunks(width).skip(1) {
        for (m, &v) in max.iter_mut().zip(row) {
            *m = m.max(v);
        }
    }
    lse.fill(0.0);
    for row in rows.chunks(width) {
        add_exps(lse, row, max);
    }
    for (l, &m) in lse.iter_mut().zip(max.iter()) {
        *l = m + l.ln();
    }
}

/// sum += e^(row − max), element by element.
#[inline(always)]
fn add_exps(sum: &mut [f32], row: &[f32], max: &[f32]) {
    for ((s, &v), &m) in sum.iter_mut().zip(row).zip(max) {
        *s += exp_approx(v - m);
    }
}

/// ∂/∂z at level `l` of every position: g·([x = l] − e^(z − lse)).
#[inline(always)]
fn level_gradient(dz: &mut [f32], z: &[f32], g: &[f32], lse: &[f32], x: &[usize], l: usize) {
    for ((((dz, &z), &g), &lse), &x) in dz.iter_mut().zip(z).zip(g).zip(lse).zip(x) {
        let hit = if x == l { 1.0 } else { 0.0 };
        *dz = g * (hit - exp_approx(z - lse));
    }
}

#[derive(Debug)]
struct LogProbBackward;

impl Backward<Flex, 1> for LogProbBackward {
    /// The logits, log Σ exp per position, and the levels.
    type State = (FlexTensor, Vec<f32>, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        let [Some(parent)] = ops.parents else {
            return;
        };
        let (z, lse, x) = ops.state;
        let z = values_f32(&z);
        let dims = z.shape().to_vec();
        let levels = dims[1];
        let positions: usize = dims[2..].iter().product();
        let zs: &[f32] = z.as_slice().expect("contiguous");
        let g: &[f32] = grad.as_slice().expect("contiguous");
        let xs = levels_of(&x);
        let mut dz = vec![0f32; zs.len()];
        dz.par_chunks_mut(levels * positions)
            .zip(zs.par_chunks(levels * positions))
            .zip(g.par_chunks(positions).zip(lse.par_chunks(positions)))
            .zip(xs.par_chunks(positions))
            .for_each(|(((dz, z), (g, lse)), x)| {
                for (l, (dz_row, z_row)) in dz
                    .chunks_mut(positions)
                    .zip(z.chunks(positions))
                    .enumerate()
                {
                    with_wide_simd!(level_gradient(dz_row, z_row, g, lse, x, l));
                }
            });
        grads.register::<Flex>(parent.id, flex_f32(dz, dims));
    }
}

/// ln(1 + u) for u in [0, 1] without a library call: 2·atanh(s) with s = u / (2 + u) ≤ 1/3,
/// from its odd series to s^15 (truncation below 1e-8 relative).
#[inline(always)]
fn ln_1p_unit(u: f32) -> f32 {
    let s = u / (2.0 + u);
    let s2 = s * s;
    let series = 1.0
        + s2 * (1.0 / 3.0
            + s2 * (1.0 / 5.0
                + s2 * (1.0 / 7.0
                    + s2 * (1.0 / 9.0 + s2 * (1.0 / 11.0 + s2 * (1.0 / 13.0 + s2 / 15.0))))));
    2.0 * s * series
}

/// x z + ln σ(−z) = x z − max(z, 0) − ln(1 + e^−|z|), value by value.
#[inline(always)]
fn bernoulli_values(z: &[f32], x: &[f32], out: &mut [f32]) {
    for ((o, &z), &x) in out.iter_mut().zip(z).zip(x) {
        *o = x * z - z.max(0.0) - ln_1p_unit(exp_approx(-z.abs()));
    }
}

/// ∂/∂z = g·(x − σ(z)), value by value.
#[inline(always)]
fn bernoulli_gradient(dz: &mut [f32], z: &[f32], x: &[f32], g: &[f32]) {
    for (((d, &z), &x), &g) in dz.iter_mut().zip(z).zip(x).zip(g) {
        *d = g * (x - logistic(z));
    }
}

/// Values per thread of the Bernoulli kernels.
const BERNOULLI_CHUNK: usize = 1 << 16;

fn bernoulli_forward(logits: &FlexTensor, x: &FlexTensor) -> FlexTensor {
    let (z, x) = (values_f32(logits), values_f32(x));
    let dims = z.shape().to_vec();
    assert_eq!(dims, x.shape().to_vec(), "logits and x of one shape");
    let zs: &[f32] = z.as_slice().expect("contiguous");
    let xs: &[f32] = x.as_slice().expect("contiguous");
    let mut out = vec![0f32; zs.len()];
    out.par_chunks_mut(BERNOULLI_CHUNK)
        .zip(
            zs.par_chunks(BERNOULLI_CHUNK)
                .zip(xs.par_chunks(BERNOULLI_CHUNK)),
        )
        .for_each(|(out, (z, x))| with_wide_simd!(bernoulli_values(z, x, out)));
    flex_f32(out, dims)
}

#[derive(Debug)]
struct BernoulliBackward;

impl Backward<Flex, 1> for BernoulliBackward {
    /// The logits z and the observations x.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        let [Some(parent)] = ops.parents else {
            return;
        };
        let (z, x) = ops.state;
        let (z, x) = (values_f32(&z), values_f32(&x));
        let dims = z.shape().to_vec();
        let zs: &[f32] = z.as_slice().expect("contiguous");
        let xs: &[f32] = x.as_slice().expect("contiguous");
        let g: &[f32] = grad.as_slice().expect("contiguous");
        let mut dz = vec![0f32; zs.len()];
        dz.par_chunks_mut(BERNOULLI_CHUNK)
            .zip(zs.par_chunks(BERNOULLI_CHUNK))
            .zip(
                xs.par_chunks(BERNOULLI_CHUNK)
                    .zip(g.par_chunks(BERNOULLI_CHUNK)),
            )
            .for_each(|((dz, z), (x, g))| with_wide_simd!(bernoulli_gradient(dz, z, x, g)));
        grads.register::<Flex>(parent.id, flex_f32(dz, dims));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_1p_on_the_unit_interval_matches_the_library() {
        let mut worst = 0f64;
        for i in 0..=100_000 {
            let u = i as f32 / 100_000.0;
            let exact = f64::from(u).ln_1p();
            let err = (f64::from(ln_1p_unit(u)) - exact).abs() / exact.max(1e-30);
            worst = worst.max(if u == 0.0 {
                f64::from(ln_1p_unit(u)).abs()
            } else {
                err
            });
        }
        // Tiny u (where ln(1 + u) ≈ u) keeps its relative precision too.
        for u in [1e-30f32, 1e-20, 1e-10, 1e-5] {
            let err = (f64::from(ln_1p_unit(u)) - f64::from(u).ln_1p()).abs() / f64::from(u);
            worst = worst.max(err);
        }
        assert!(worst < 1e-6, "ln(1 + u): relative error {worst}");
    }

    #[test]
    fn the_approximations_match_the_library_functions() {
        let mut worst_exp = 0f32;
        let mut worst_tanh = 0f32;
        let mut worst_logistic = 0f32;
        for i in -200_000..=200_000 {
            let x = i as f32 * 4.3e-4; // -86 .. 86
            let e = exp_approx(x);
            worst_exp = worst_exp.max((e - x.exp()).abs() / x.exp());
            let y = x / 8.0; // -10.75 .. 10.75, densely around 0
            worst_tanh = worst_tanh.max((tanh_approx(y) - y.tanh()).abs());
            let exact = 1.0 / (1.0 + (-f64::from(y)).exp());
            worst_logistic = worst_logistic.max((f64::from(logistic(y)) - exact).abs() as f32);
        }
        assert!(worst_exp < 1e-6, "exp: relative error {worst_exp}");
        assert!(worst_tanh < 1e-6, "tanh: absolute error {worst_tanh}");
        assert!(
            worst_logistic < 1e-6,
            "logistic: absolute error {worst_logistic}"
        );
        assert!(exp_approx(f32::NAN).is_nan() && tanh_approx(f32::NAN).is_nan());
        assert_eq!(exp_approx(0.0), 1.0);
        assert_eq!(tanh_approx(0.0), 0.0);
        assert!(exp_approx(-1000.0) > 0.0 && exp_approx(1000.0).is_finite());
    }

    /// The gate's single quotient, with and without the kept tanh(a) and σ(b), against
    /// tanh(a)·σ(b) in f64: a from −10 to 10 (densely around the series' edge at 1/16), b out
    /// to ±100 (past the exponential's clamp), NaN kept NaN.
    #[test]
    fn the_gate_divides_once_and_stays_within_a_few_ulp() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        for i in -400i32..=400 {
            for j in -50i32..=50 {
                a.push(i as f32 / 40.0 + if i.abs() < 8 { 0.0621 } else { 0.0 });
                b.push(j as f32 * 2.0);
            }
        }
        a.push(f32::NAN);
        b.push(0.0);
        let n = a.len();
        let (mut y, mut y_kept, mut t, mut s) = (uninit(n), uninit(n), uninit(n), uninit(n));
        gate(&a, &b, &mut y);
        gate_keeping(&a, &b, &mut y_kept, &mut t, &mut s);
        // SAFETY: both kernels write every value.
        let [y, y_kept, t, s] = [y, y_kept, t, s].map(|v| unsafe { assume_init(v) });
        for i in 0..n - 1 {
            let (ta, sb) = (
                f64::from(a[i]).tanh(),
                1.0 / (1.0 + (-f64::from(b[i])).exp()),
            );
            let close =
                |got: f32, want: f64| (f64::from(got) - want).abs() <= 1e-6 * want.abs() + 1e-30;
            assert!(close(y[i], ta * sb), "gate({}, {}) = {}", a[i], b[i], y[i]);
            assert!(close(y_kept[i], ta * sb), "kept gate({}, {})", a[i], b[i]);
            assert!(
                close(t[i], ta) && close(s[i], sb),
                "tanh({}), σ({})",
                a[i],
                b[i]
            );
        }
        assert!(y[n - 1].is_nan() && y_kept[n - 1].is_nan());
    }
}
