//! The GRU over a whole sequence as one operation with its own backward pass, instead of some
//! 20 tensor operations per step (burn's `Gru`), the same treatment as [`super::lstm`].
//!
//! The operation takes the inputs x [B, T, I], the input weight W_ih [I, 3H] and bias b [3H]
//! (the update and reset gates' recurrent biases folded in by [`gru_sequence`]), the recurrent
//! weight W [H, 3H], the new gate's recurrent bias b_n [H] (it sits inside the reset, so it
//! cannot be folded) and the start state. Each core takes its own sequences: their input
//! projections xp_t = x_t W_ih + b as one matrix product, then, for every step t (burn's
//! `reset_after` form, the default):
//!
//! ```text
//! p_t = h_{t−1} W                                   (gates in the order z, r, n)
//! z = σ(xp_z + p_z),  r = σ(xp_r + p_r),  m = p_n + b_n
//! n = tanh(xp_n + r ⊙ m)
//! h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
//! ```
//!
//! returning h_t for every step ([B, T, H]). Backward is backpropagation through time: from
//! the last step to the first, with dh carried from t + 1,
//!
//! ```text
//! da_n = dh ⊙ (1 − z) ⊙ (1 − n²),     da_z = dh ⊙ (h_{t−1} − n) ⊙ z(1 − z)
//! da_r = da_n ⊙ m ⊙ r(1 − r),        dm = da_n ⊙ r
//! dh_{t−1} = dh ⊙ z + [da_z, da_r, dm] Wᵀ
//! dW = Σ_t h_{t−1}ᵀ [da_z, da_r, dm],  db_n = Σ_t dm,  dxp_t = [da_z, da_r, da_n]
//! ```
//!
//! and from dxp: dx = dxp W_ihᵀ, dW_ih = xᵀ dxp, db = Σ dxp.
//!
//! The start state is an input without gradient (the boundary of truncated backpropagation
//! through time, or zeros); [`gru_sequence`] takes burn's path when it needs one.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::{Dispatch, Flex, TensorMetadata};
use burn::nn::Gru;
use burn::nn::activation::Activation;
use burn::prelude::*;

use super::packed::PackedWeight;
use super::recurrence::{
    recurrent_weight_gradient, register_projection_gradients, sequences_per_thread,
};
use super::step::gemm_add;
use super::{
    FusedOps, assume_init, dense_gradient, enabled, flex_f32, logistic, on_flex, tanh_approx,
    uninit, values_f32,
};

/// Runs `gru` (burn's module, its weights as they are) over `input` [B, T, I] from `state`
/// [B, H] (zeros when `None`); returns the hidden states [B, T, H]. On burn-flex, for the
/// standard GRU (σ gates, tanh candidate, reset after the product, no clipping) started from
/// a state without gradient, computed by the fused operation of this module; else by burn's
/// `Gru::forward`. Both give the same values and gradients (`tests/fused_ops.rs`).
pub fn gru_sequence(gru: &Gru, input: Tensor<3>, state: Option<Tensor<2>>) -> Tensor<3> {
    let standard = matches!(gru.gate_activation, Activation::Sigmoid(_))
        && matches!(gru.hidden_activation, Activation::Tanh(_))
        && gru.clip.is_none()
        && gru.reset_after;
    let untracked = state.as_ref().is_none_or(|s| !s.is_require_grad());
    if !standard || !untracked || !enabled() || !on_flex(&input) {
        return gru.forward(input, state);
    }
    let [batch, time, inputs] = input.dims();
    let hidden = gru.d_hidden;
    let device = input.device();
    let gates = [&gru.update_gate, &gru.reset_gate, &gru.new_gate];
    let zero = || Tensor::<1>::zeros([hidden], &device);
    let bias_of = |l: &burn::nn::Linear| l.bias.as_ref().map_or_else(zero, |b| b.val());
    let w_ih = Tensor::cat(
        gates
            .iter()
            .map(|g| dense_gradient(g.input_transform.weight.val()))
            .collect(),
        1,
    );
    let w_hh = Tensor::cat(
        gates
            .iter()
            .map(|g| dense_gradient(g.hidden_transform.weight.val()))
            .collect(),
        1,
    );
    // The input biases, with the update and reset gates' recurrent biases folded in.
    let bias = Tensor::cat(
        vec![
            bias_of(&gru.update_gate.input_transform) + bias_of(&gru.update_gate.hidden_transform),
            bias_of(&gru.reset_gate.input_transform) + bias_of(&gru.reset_gate.hidden_transform),
            bias_of(&gru.new_gate.input_transform),
        ],
        0,
    );
    let new_bias = bias_of(&gru.new_gate.hidden_transform);
    let h0 = state.unwrap_or_else(|| Tensor::zeros([batch, hidden], &device));
    Tensor::<3>::from_dispatch(<Dispatch as FusedOps>::gru(
        input.reshape([batch, time, inputs]).into_dispatch(),
        w_ih.into_dispatch(),
        bias.into_dispatch(),
        w_hh.into_dispatch(),
        new_bias.into_dispatch(),
        h0.into_dispatch(),
    ))
}

/// What the backward pass reads: z, r, n and m = p_n + b_n of every step, batch-major
/// ([b][t][4H]); the output h_t [B, T, H] and the start state; W.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    gates: Vec<f32>,
    states: Vec<f32>,
    start: Vec<f32>,
    weight: Vec<f32>,
    /// The inputs [B, T, I] (contiguous) and W_ih [I, 3H], for dW_ih and dx.
    inputs: FlexTensor,
    input_weight: FlexTensor,
    batch: usize,
    time: usize,
    hidden: usize,
}

impl Saved {
    /// h of sequence `b` before step `t`: the start state at t = 0.
    fn before(&self, b: usize, t: usize) -> &[f32] {
        let h = self.hidden;
        match t.checked_sub(1) {
            Some(t) => &self.states[(b * self.time + t) * h..(b * self.time + t + 1) * h],
            None => &self.start[b * h..(b + 1) * h],
        }
    }
}

/// The forward pass: h_t as [B, T, H] for the inputs `x` [B, T, I], `w_ih` [I, 3H], the
/// input bias [3H] (the update and reset gates' recurrent biases folded in), `w` [H, 3H], `bn`
/// [H] and the start state `h0` [B, H]; with `keep`, what the backward pass reads. The
/// sequences are split over the cores ([`sequences_per_thread`]), each thread projecting the
/// inputs of its own (xp = x W_ih + b, one product) and running all their steps.
pub(super) fn forward(
    [x, w_ih, bias, w, bn, h0]: [&FlexTensor; 6],
    keep: bool,
) -> (FlexTensor, Option<Saved>) {
    use rayon::prelude::*;
    let (x, w_ih, bias, w, bn, h0) = (
        values_f32(x),
        values_f32(w_ih),
        values_f32(bias),
        values_f32(w),
        values_f32(bn),
        values_f32(h0),
    );
    let dims = x.shape().to_vec();
    let (batch, time, inputs) = (dims[0], dims[1], dims[2]);
    let hidden = w.shape()[0];
    let inputs_all: &[f32] = x.as_slice().expect("contiguous");
    let w_ihs: &[f32] = w_ih.as_slice().expect("contiguous");
    let bs: &[f32] = bias.as_slice().expect("contiguous");
    let ws: &[f32] = w.as_slice().expect("contiguous");
    let bns: &[f32] = bn.as_slice().expect("contiguous");
    let width = 3 * hidden;
    let start: Vec<f32> = h0.as_slice::<f32>().expect("contiguous").to_vec();
    // Not zeroed: every row (b, t) is written below.
    let mut out = uninit(batch * time * hidden);
    // z, r, n, m of every step (kept for the backward pass), or of the current step only.
    let kept_per_row = if keep { time } else { 1 };
    let mut gates = vec![0f32; batch * kept_per_row * 4 * hidden];
    let chunk = sequences_per_thread(batch);
    // W packed once for every step's product h_{t−1} W.
    let w = PackedWeight::of(ws, width);
    out.par_chunks_mut(chunk * time * hidden)
        .zip(gates.par_chunks_mut(chunk * kept_per_row * 4 * hidden))
        .zip(inputs_all.par_chunks(chunk * time * inputs))
        .zip(start.par_chunks(chunk * hidden))
        .for_each(|(((out, gates), x_rows), h0)| {
            // This thread's input projections [rows·T, 3H].
            let rows_here = x_rows.len() / inputs.max(1);
            let mut xs: Vec<f32> = (bs.iter().copied().cycle())
                .take(rows_here * width)
                .collect();
            gemm_add(x_rows, w_ihs, width, &mut xs, gemm::Parallelism::None);
            let rows = h0.len() / hidden;
            let mut h = h0.to_vec();
            let mut p = vec![0f32; rows * width];
            for t in 0..time {
                p.fill(0.0);
                w.multiply_add((&h, hidden), rows, (&mut p, width));
                for (b, (h, p)) in h
                    .chunks_exact_mut(hidden)
                    .zip(p.chunks_exact(width))
                    .enumerate()
                {
                    let x = &xs[(b * time + t) * width..][..width];
                    let step = if keep { b * time + t } else { b };
                    let kept = &mut gates[step * 4 * hidden..][..4 * hidden];
                    with_wide_simd!(cell_step(x, p, bns, h, kept));
                    out[(b * time + t) * hidden..][..hidden].write_copy_of_slice(h);
                }
            }
        });
    // SAFETY: every row (b, t) was written above, by the thread of sequence b.
    let out = unsafe { assume_init(out) };
    let saved = keep.then(|| Saved {
        gates,
        states: out.clone(),
        start,
        weight: ws.to_vec(),
        inputs: x.clone(),
        input_weight: w_ih.clone(),
        batch,
        time,
        hidden,
    });
    (flex_f32(out, vec![batch, time, hidden]), saved)
}

/// One step of one sequence: from the input part `x` [3H] and the recurrent product `p` [3H],
/// the state `h` moves to the step's; `kept` [4H] receives z, r, n, m.
#[inline(always)]
fn cell_step(x: &[f32], p: &[f32], bn: &[f32], h: &mut [f32], kept: &mut [f32]) {
    let hidden = h.len();
    let (xz, rest) = x.split_at(hidden);
    let (xr, xn) = rest.split_at(hidden);
    let (pz, rest) = p.split_at(hidden);
    let (pr, pn) = rest.split_at(hidden);
    let (kz, rest) = kept.split_at_mut(hidden);
    let (kr, rest) = rest.split_at_mut(hidden);
    let (kn, km) = rest.split_at_mut(hidden);
    for j in 0..hidden {
        let z = logistic(xz[j] + pz[j]);
        let r = logistic(xr[j] + pr[j]);
        let m = pn[j] + bn[j];
        let n = tanh_approx(xn[j] + r * m);
        h[j] = (1.0 - z) * n + z * h[j];
        kz[j] = z;
        kr[j] = r;
        kn[j] = n;
        km[j] = m;
    }
}

/// The gradients at one step of one sequence from the incoming `dh`: `dx` [3H] receives
/// (da_z, da_r, da_n), `dp` [3H] (da_z, da_r, dm), and `dh` becomes dh ⊙ z (the direct part
/// of dh_{t−1}).
#[inline(always)]
fn gate_gradient(dx: &mut [f32], dp: &mut [f32], kept: &[f32], h_in: &[f32], dh: &mut [f32]) {
    let hidden = dh.len();
    let (z, rest) = kept.split_at(hidden);
    let (r, rest) = rest.split_at(hidden);
    let (n, m) = rest.split_at(hidden);
    let (dxz, rest) = dx.split_at_mut(hidden);
    let (dxr, dxn) = rest.split_at_mut(hidden);
    let (dpz, rest) = dp.split_at_mut(hidden);
    let (dpr, dpn) = rest.split_at_mut(hidden);
    for j in 0..hidden {
        let g = dh[j];
        let dan = g * (1.0 - z[j]) * (1.0 - n[j] * n[j]);
        let daz = g * (h_in[j] - n[j]) * z[j] * (1.0 - z[j]);
        let dar = dan * m[j] * r[j] * (1.0 - r[j]);
        dxz[j] = daz;
        dxr[j] = dar;
        dxn[j] = dan;
        dpz[j] = daz;
        dpr[j] = dar;
        dpn[j] = dan * r[j];
        dh[j] = g * z[j];
    }
}

#[derive(Debug)]
pub(super) struct GruBackward;

impl Backward<Flex, 5> for GruBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        use rayon::prelude::*;
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        let gs: &[f32] = grad.as_slice().expect("contiguous");
        let [x_node, w_ih_node, bias_node, w_node, bn_node] = ops.parents;
        let s = ops.state;
        let (batch, time, hidden) = (s.batch, s.time, s.hidden);
        let width = 3 * hidden;
        // Wᵀ [3H, H], for dh_{t−1} += dp_t Wᵀ.
        let wt = PackedWeight::transposed_rows_of(&s.weight, width, 0..hidden);
        // dxp and dp of every step, batch-major. Each thread carries dh of its own sequences
        // back through time.
        let mut dx = vec![0f32; batch * time * width];
        let mut dp = vec![0f32; batch * time * width];
        let chunk = sequences_per_thread(batch);
        dx.par_chunks_mut(chunk * time * width)
            .zip(dp.par_chunks_mut(chunk * time * width))
            .zip(gs.par_chunks(chunk * time * hidden))
            .enumerate()
            .for_each(|(part, ((dx, dp), gs))| {
                let rows = gs.len() / (time * hidden);
                let first = part * chunk;
                let mut dh = vec![0f32; rows * hidden];
                // This step's dp of the thread's sequences, side by side for the product.
                let mut dp_t = vec![0f32; rows * width];
                for t in (0..time).rev() {
                    for b in 0..rows {
                        let row = (b * time + t) * hidden;
                        let dh = &mut dh[b * hidden..(b + 1) * hidden];
                        for (d, g) in dh.iter_mut().zip(&gs[row..row + hidden]) {
                            *d += g;
                        }
                        let at = (b * time + t) * width;
                        let kept = ((first + b) * time + t) * 4 * hidden;
                        with_wide_simd!(gate_gradient(
                            &mut dx[at..at + width],
                            &mut dp[at..at + width],
                            &s.gates[kept..kept + 4 * hidden],
                            s.before(first + b, t),
                            dh
                        ));
                        dp_t[b * width..(b + 1) * width].copy_from_slice(&dp[at..at + width]);
                    }
                    wt.multiply_add((&dp_t, width), rows, (&mut dh, hidden));
                }
            });
        if let Some(node) = w_node {
            let dw =
                recurrent_weight_gradient(|r| s.before(r / time, r % time), &dp, (hidden, width));
            grads.register::<Flex>(node.id, flex_f32(dw, vec![hidden, width]));
        }
        if let Some(node) = bn_node {
            let mut dbn = vec![0f32; hidden];
            for row in dp.chunks_exact(width) {
                for (d, g) in dbn.iter_mut().zip(&row[2 * hidden..]) {
                    *d += g;
                }
            }
            grads.register::<Flex>(node.id, flex_f32(dbn, vec![hidden]));
        }
        // dx holds dxp [B·T, 3H]: through xp = x W_ih + b to the inputs, W_ih and b.
        let [x_id, w_ih_id, bias_id] = [x_node, w_ih_node, bias_node].map(|n| n.map(|n| n.id));
        register_projection_gradients(
            grads,
            (x_id, &[w_ih_id], bias_id),
            (&s.inputs, s.input_weight.as_slice().expect("contiguous")),
            &dx,
            (batch, time, width),
        );
    }
}
