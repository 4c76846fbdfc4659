//! The LSTM over a whole sequence as one operation with its own backward pass, instead of
//! some 25 tensor operations per step (burn's `Lstm`, whose fixed cost per operation set the
//! pace of argen's recurrent models).
//!
//! The operation takes the inputs x [B, T, I], the input weight W_ih [I, 4H] and bias b [4H],
//! the recurrent weight W [H, 4H] and the start state. Each core takes its own sequences: their
//! input projections xp_t = x_t W_ih + b as one matrix product, written straight into the
//! gates' buffer, then, for every step t,
//!
//! ```text
//! a_t = xp_t + h_{t−1} W                      (gates in the order i, f, g, o)
//! i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//! c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
//! ```
//!
//! returning [h_t | c_t] for every step ([B, T, 2H]). Backward is backpropagation through
//! time: from the last step to the first, with dh and dc carried from t + 1,
//!
//! ```text
//! dc   = ∂c_t + dc_{t+1} ⊙ f_{t+1} + dh ⊙ o ⊙ (1 − tanh²(c_t))
//! da_o = dh ⊙ tanh(c_t) ⊙ o(1 − o),  da_i = dc ⊙ g ⊙ i(1 − i)
//! da_g = dc ⊙ i ⊙ (1 − g²),          da_f = dc ⊙ c_{t−1} ⊙ f(1 − f)
//! dh_{t−1} += da_t Wᵀ,               dW = Σ_t h_{t−1}ᵀ da_t,   dxp_t = da_t
//! ```
//!
//! and from dxp: dx = dxp W_ihᵀ, dW_ih = xᵀ dxp, db = Σ dxp.
//!
//! The start state is an input without gradient (the boundary of truncated backpropagation
//! through time, or zeros); [`lstm_sequence`] takes burn's path when it needs one.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::{Dispatch, Flex, TensorMetadata};
use burn::nn::activation::Activation;
use burn::nn::{Lstm, LstmState};
use burn::prelude::*;

use super::recurrence::{
    recurrent_weight_gradient, register_projection_gradients, sequences_per_thread,
    strided_product, transpose,
};
use super::step::gemm_add;
use super::{
    FusedOps, assume_init, dense_gradient, enabled, flex_f32, initialised, logistic, on_flex,
    tanh_approx, uninit, values_f32,
};

/// Runs `lstm` (burn's module, its weights as they are) over `input` [B, T, I] from `state`
/// (zeros when `None`); returns the hidden states [B, T, H] and the final state. On burn-flex,
/// for the standard LSTM (σ gates, tanh cell and output, no cell clipping, not coupled, batch
/// first, forwards) started from a state without gradient, computed by the fused operation of
/// this module; else by burn's `Lstm::forward`. Both give the same values and gradients
/// (`tests/fused_ops.rs`).
pub fn lstm_sequence(
    lstm: &Lstm,
    input: Tensor<3>,
    state: Option<LstmState<2>>,
) -> (Tensor<3>, LstmState<2>) {
    let standard = matches!(lstm.gate_activation, Activation::Sigmoid(_))
        && matches!(lstm.cell_activation, Activation::Tanh(_))
        && matches!(lstm.hidden_activation, Activation::Tanh(_))
        && lstm.clip.is_none()
        && !lstm.input_forget
        && lstm.batch_first
        && !lstm.reverse;
    let untracked = state
        .as_ref()
        .is_none_or(|s| !s.cell.is_require_grad() && !s.hidden.is_require_grad());
    let Some(forget) = lstm.forget_gate.as_ref().filter(|_| standard && untracked) else {
        return lstm.forward(input, state);
    };
    if !enabled() || !on_flex(&input) {
        return lstm.forward(input, state);
    }
    let [batch, time, inputs] = input.dims();
    let hidden = lstm.d_hidden;
    let gates = [&lstm.input_gate, forget, &lstm.cell_gate, &lstm.output_gate];
    let cat = |part: fn(&burn::nn::GateController) -> &burn::nn::Linear| {
        let weights = (gates.iter())
            .map(|g| dense_gradient(part(g).weight.val()))
            .collect();
        Tensor::cat(weights, 1)
    };
    let w_ih = cat(|g| &g.input_transform);
    let w_hh = cat(|g| &g.hidden_transform);
    let biases: Vec<Tensor<1>> = gates
        .iter()
        .map(|g| {
            let zero = || Tensor::zeros([hidden], &input.device());
            let b = |l: &burn::nn::Linear| l.bias.as_ref().map_or_else(zero, |b| b.val());
            b(&g.input_transform) + b(&g.hidden_transform)
        })
        .collect();
    let bias = Tensor::cat(biases, 0);
    let (h0, c0) = match state {
        Some(s) => (s.hidden, s.cell),
        None => {
            let zeros = Tensor::<2>::zeros([batch, hidden], &input.device());
            (zeros.clone(), zeros)
        }
    };
    let out = Tensor::<3>::from_dispatch(<Dispatch as FusedOps>::lstm(
        input.reshape([batch, time, inputs]).into_dispatch(),
        w_ih.into_dispatch(),
        bias.into_dispatch(),
        w_hh.into_dispatch(),
        h0.into_dispatch(),
        c0.into_dispatch(),
    ));
    let hiddens = out.clone().narrow(2, 0, hidden);
    let last = out.narrow(1, time - 1, 1).reshape([batch, 2 * hidden]);
    let state = LstmState::new(
        last.clone().narrow(1, hidden, hidden),
        last.narrow(1, 0, hidden),
    );
    (hiddens, state)
}

/// What the backward pass reads: the activated gates (i, f, g, o) batch-major ([b][t][4H]),
/// the forward pass's output [B, T, 2H] (h_t | c_t after every step) and start state
/// ([b][h | c]), W, and the inputs and W_ih.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    gates: Vec<f32>,
    states: Vec<f32>,
    start: Vec<f32>,
    weight: Vec<f32>,
    /// The inputs [B, T, I] (contiguous) and W_ih [I, 4H], for dW_ih and dx.
    inputs: FlexTensor,
    input_weight: FlexTensor,
    batch: usize,
    time: usize,
    hidden: usize,
}

impl Saved {
    /// (h, c) of sequence `b` after step `t`.
    fn after(&self, b: usize, t: usize) -> (&[f32], &[f32]) {
        let row = (b * self.time + t) * 2 * self.hidden;
        self.states[row..row + 2 * self.hidden].split_at(self.hidden)
    }

    /// (h, c) of sequence `b` before step `t`: the start state at t = 0.
    fn before(&self, b: usize, t: usize) -> (&[f32], &[f32]) {
        match t.checked_sub(1) {
            Some(t) => self.after(b, t),
            None => {
                self.start[b * 2 * self.hidden..(b + 1) * 2 * self.hidden].split_at(self.hidden)
            }
        }
    }
}

/// The forward pass: [h_t | c_t] as [B, T, 2H] for the inputs `x` [B, T, I], `w_ih` [I, 4H],
/// `bias` [4H], `w` [H, 4H] and the start state `h0`, `c0` [B, H]; with `keep`, what the
/// backward pass reads. The sequences are split over the cores ([`sequences_per_thread`]),
/// each thread projecting the inputs of its own and running all their steps.
pub(super) fn forward(
    [x, w_ih, bias, w, h0, c0]: [&FlexTensor; 6],
    keep: bool,
) -> (FlexTensor, Option<Saved>) {
    use rayon::prelude::*;
    let (x, w_ih, bias, w, h0, c0) = (
        values_f32(x),
        values_f32(w_ih),
        values_f32(bias),
        values_f32(w),
        values_f32(h0),
        values_f32(c0),
    );
    let dims = x.shape().to_vec();
    let (batch, time, inputs) = (dims[0], dims[1], dims[2]);
    let hidden = w.shape()[0];
    let ws: &[f32] = w.as_slice().expect("contiguous");
    let (xs, w_ihs, bs): (&[f32], &[f32], &[f32]) = (
        x.as_slice().expect("contiguous"),
        w_ih.as_slice().expect("contiguous"),
        bias.as_slice().expect("contiguous"),
    );
    let (h0s, c0s): (&[f32], &[f32]) = (
        h0.as_slice().expect("contiguous"),
        c0.as_slice().expect("contiguous"),
    );
    let width = 4 * hidden;
    // The gates' pre-activations: each thread fills its sequences' rows with the bias and
    // adds their input projections (one product), then each step adds its recurrent product
    // and activates them in place.
    // Neither buffer is zeroed: every value is written below (the gates by the bias, the
    // output row by row), so they start uninitialised.
    let mut gates = uninit(batch * time * width);
    let mut out = uninit(batch * time * 2 * hidden);
    let chunk = sequences_per_thread(batch);
    gates
        .par_chunks_mut(chunk * time * width)
        .zip(out.par_chunks_mut(chunk * time * 2 * hidden))
        .zip(xs.par_chunks(chunk * time * inputs))
        .zip(
            h0s.par_chunks(chunk * hidden)
                .zip(c0s.par_chunks(chunk * hidden)),
        )
        .for_each(|(((gates, out), xs), (h0, c0))| {
            for row in gates.chunks_exact_mut(width) {
                row.write_copy_of_slice(bs);
            }
            // SAFETY: every value was just initialised.
            let gates = unsafe { initialised(gates) };
            gemm_add(xs, w_ihs, width, gates, gemm::Parallelism::None);
            let (mut h, mut c) = (h0.to_vec(), c0.to_vec());
            for t in 0..time {
                // a_t = xp_t + h_{t−1} W for this thread's sequences (rows T·4H apart).
                strided_product(&h, ws, width, &mut gates[t * width..], time * width);
                for (b, (h, c)) in h
                    .chunks_exact_mut(hidden)
                    .zip(c.chunks_exact_mut(hidden))
                    .enumerate()
                {
                    let a = &mut gates[(b * time + t) * width..][..width];
                    with_wide_simd!(cell_step(a, h, c, hidden));
                    let row = &mut out[(b * time + t) * 2 * hidden..][..2 * hidden];
                    let (h_out, c_out) = row.split_at_mut(hidden);
                    h_out.write_copy_of_slice(h);
                    c_out.write_copy_of_slice(c);
                }
            }
        });
    // SAFETY: every row (b, t) of both was written above, by the thread of sequence b.
    let (gates, out) = unsafe { (assume_init(gates), assume_init(out)) };
    let saved = keep.then(|| Saved {
        gates,
        states: out.clone(),
        start: h0s
            .chunks(hidden)
            .zip(c0s.chunks(hidden))
            .flat_map(|(h, c)| h.iter().chain(c).copied())
            .collect(),
        weight: ws.to_vec(),
        inputs: x.clone(),
        input_weight: w_ih.clone(),
        batch,
        time,
        hidden,
    });
    (flex_f32(out, vec![batch, time, 2 * hidden]), saved)
}

/// One step of one sequence: the gates' pre-activations `a` [4H] become i, f, g, o in place,
/// and the state (h, c) moves to the step's.
#[inline(always)]
fn cell_step(a: &mut [f32], h: &mut [f32], c: &mut [f32], hidden: usize) {
    let (i, rest) = a.split_at_mut(hidden);
    let (f, rest) = rest.split_at_mut(hidden);
    let (g, o) = rest.split_at_mut(hidden);
    for ((((i, f), g), o), (h, c)) in i
        .iter_mut()
        .zip(f.iter_mut())
        .zip(g.iter_mut())
        .zip(o.iter_mut())
        .zip(h.iter_mut().zip(c.iter_mut()))
    {
        *i = logistic(*i);
        *f = logistic(*f);
        *g = tanh_approx(*g);
        *o = logistic(*o);
        *c = *f * *c + *i * *g;
        *h = *o * tanh_approx(*c);
    }
}

/// The gradients of the gates' pre-activations at one step of one sequence from the
/// incoming dh (already including dh_{t+1}) and dc (including ∂c_t and dc_{t+1} ⊙ f_{t+1});
/// leaves dc ⊙ f in `dc` for the step before.
#[inline(always)]
fn gate_gradient(
    da: &mut [f32],
    gates: &[f32],
    c: &[f32],
    c_in: &[f32],
    dh: &[f32],
    dc: &mut [f32],
) {
    let hidden = dh.len();
    let (dai, rest) = da.split_at_mut(hidden);
    let (daf, rest) = rest.split_at_mut(hidden);
    let (dag, dao) = rest.split_at_mut(hidden);
    let (i, rest) = gates.split_at(hidden);
    let (f, rest) = rest.split_at(hidden);
    let (g, o) = rest.split_at(hidden);
    for j in 0..hidden {
        let th = tanh_approx(c[j]);
        let d = dc[j] + dh[j] * o[j] * (1.0 - th * th);
        dao[j] = dh[j] * th * o[j] * (1.0 - o[j]);
        dai[j] = d * g[j] * i[j] * (1.0 - i[j]);
        dag[j] = d * i[j] * (1.0 - g[j] * g[j]);
        daf[j] = d * c_in[j] * f[j] * (1.0 - f[j]);
        dc[j] = d * f[j];
    }
}

#[derive(Debug)]
pub(super) struct LstmBackward;

impl Backward<Flex, 4> for LstmBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        use rayon::prelude::*;
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        let gs: &[f32] = grad.as_slice().expect("contiguous");
        let [x_node, w_ih_node, bias_node, w_node] = ops.parents;
        let s = ops.state;
        let (batch, time, hidden) = (s.batch, s.time, s.hidden);
        let width = 4 * hidden;
        // Wᵀ [4H, H], for dh_{t−1} = da_t Wᵀ.
        let wt = transpose(&s.weight, hidden, width);
        // da of every step, batch-major: dxp itself. Each thread carries dh and dc of its
        // own sequences back through time.
        let mut da = vec![0f32; batch * time * width];
        let chunk = sequences_per_thread(batch);
        da.par_chunks_mut(chunk * time * width)
            .zip(gs.par_chunks(chunk * time * 2 * hidden))
            .enumerate()
            .for_each(|(part, (da, gs))| {
                let rows = gs.len() / (time * 2 * hidden);
                let first = part * chunk;
                let mut dh = vec![0f32; rows * hidden];
                let mut dc = vec![0f32; rows * hidden];
                // This step's da of the thread's sequences, side by side for the product.
                let mut da_t = vec![0f32; rows * width];
                for t in (0..time).rev() {
                    for b in 0..rows {
                        let row = (b * time + t) * 2 * hidden;
                        let at = b * hidden..(b + 1) * hidden;
                        for (j, (dh, dc)) in dh[at.clone()]
                            .iter_mut()
                            .zip(&mut dc[at.clone()])
                            .enumerate()
                        {
                            *dh += gs[row + j];
                            *dc += gs[row + hidden + j];
                        }
                        let gate_at = (b * time + t) * width;
                        let da = &mut da[gate_at..gate_at + width];
                        with_wide_simd!(gate_gradient(
                            da,
                            &s.gates[(first * time) * width + gate_at..][..width],
                            s.after(first + b, t).1,
                            s.before(first + b, t).1,
                            &dh[at.clone()],
                            &mut dc[at]
                        ));
                        da_t[b * width..(b + 1) * width].copy_from_slice(da);
                    }
                    dh.fill(0.0);
                    strided_product(&da_t, &wt, hidden, &mut dh, hidden);
                }
            });
        if let Some(node) = w_node {
            let dw =
                recurrent_weight_gradient(|r| s.before(r / time, r % time).0, &da, (hidden, width));
            grads.register::<Flex>(node.id, flex_f32(dw, vec![hidden, width]));
        }
        register_projection_gradients(
            grads,
            [x_node, w_ih_node, bias_node].map(|node| node.map(|n| n.id)),
            (&s.inputs, &s.input_weight),
            &da,
            (batch, time, width),
        );
    }
}
