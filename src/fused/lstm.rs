//! The LSTM over a whole sequence as one operation with its own backward pass, instead of
//! some 25 tensor operations per step (burn's `Lstm`, whose fixed cost per operation set the
//! pace of argen's recurrent models).
//!
//! The operation takes the inputs x [B, T, I], the input weight W_ih [I, 4H] and bias b [4H],
//! the recurrent weight W [H, 4H] and the start state, and computes, for every step t,
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
//! The cores share the work in one of two ways. With several sequences per core (evaluation,
//! large batches) each core runs the whole recurrence of its own sequences
//! (`forward_by_sequences`, `backward_by_sequences`). With a sequence or two per core (a
//! training batch of 2, say) each core takes a chunk of the units instead, for every sequence,
//! and the cores meet once per step (`forward_by_units`, `backward_by_units`): each then
//! reads only its own columns of W. Either way the per-step products go through weights
//! packed once per pass (`packed.rs`).
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

use super::packed::PackedWeight;
use super::recurrence::{
    SharedBuffer, chunk_units, column_blocks, recurrent_weight_gradient,
    register_projection_gradients, sequences_per_thread, side_by_side, split_by_units,
    steps_in_chunks,
};
use super::{
    FusedOps, assume_init, enabled, flex_f32, logistic, on_flex, tanh_approx, uninit, values_f32,
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
    // Each gate's weights go to the operation on their own, so that their gradients come
    // back contiguous, with no concatenation to cut apart again.
    let weights = |part: fn(&burn::nn::GateController) -> &burn::nn::Linear| {
        gates.map(|g| part(g).weight.val().into_dispatch())
    };
    let [w_ii, w_if, w_ig, w_io] = weights(|g| &g.input_transform);
    let [w_hi, w_hf, w_hg, w_ho] = weights(|g| &g.hidden_transform);
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
        w_ii,
        w_if,
        w_ig,
        w_io,
        bias.into_dispatch(),
        w_hi,
        w_hf,
        w_hg,
        w_ho,
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
    input_weight: Vec<f32>,
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

/// The forward pass: [h_t | c_t] as [B, T, 2H] for the inputs `x` [B, T, I], the gates'
/// input weights `w_ih` (i, f, g, o, each [I, H]), `bias` [4H], the gates' recurrent weights
/// `w` (each [H, H]) and the start state `h0`, `c0` [B, H]; with `keep`, what the backward
/// pass reads. Split over the cores by units when there are few sequences per core
/// ([`split_by_units`]), else by sequences.
pub(super) fn forward(
    x: &FlexTensor,
    (w_ih, bias, w): ([&FlexTensor; 4], &FlexTensor, [&FlexTensor; 4]),
    (h0, c0): (&FlexTensor, &FlexTensor),
    keep: bool,
) -> (FlexTensor, Option<Saved>) {
    let (x, bias, h0, c0) = (
        values_f32(x),
        values_f32(bias),
        values_f32(h0),
        values_f32(c0),
    );
    let dims = x.shape().to_vec();
    let (batch, time) = (dims[0], dims[1]);
    let w = w.map(values_f32);
    let hidden = w[0].shape()[0];
    // W_ih [I, 4H] and W [H, 4H]: the gates side by side.
    let side_by_side_of = |parts: [FlexTensor; 4]| {
        let slices = parts
            .each_ref()
            .map(|p| p.as_slice::<f32>().expect("contiguous"));
        side_by_side(&slices, hidden)
    };
    let (w_ihs, ws) = (side_by_side_of(w_ih.map(values_f32)), side_by_side_of(w));
    let (xs, bs): (&[f32], &[f32]) = (
        x.as_slice().expect("contiguous"),
        bias.as_slice().expect("contiguous"),
    );
    let (h0s, c0s): (&[f32], &[f32]) = (
        h0.as_slice().expect("contiguous"),
        c0.as_slice().expect("contiguous"),
    );
    let (gates, out) = if split_by_units(batch, hidden) {
        forward_by_units(xs, (&w_ihs, bs, &ws), (h0s, c0s), (batch, time, hidden))
    } else {
        forward_by_sequences(
            xs,
            (&w_ihs, bs, &ws),
            (h0s, c0s),
            (batch, time, hidden),
            keep,
        )
    };
    let saved = keep.then(|| Saved {
        gates,
        states: out.clone(),
        start: h0s
            .chunks(hidden)
            .zip(c0s.chunks(hidden))
            .flat_map(|(h, c)| h.iter().chain(c).copied())
            .collect(),
        weight: ws,
        inputs: x.clone(),
        input_weight: w_ihs,
        batch,
        time,
        hidden,
    });
    (flex_f32(out, vec![batch, time, 2 * hidden]), saved)
}

/// The recurrence split by sequences ([`sequences_per_thread`]): each thread runs all the
/// steps of its own sequences, with [W_ih; W] packed once for all. At each step a thread
/// computes its sequences' pre-activations b + [x_t | h_{t−1}] · [W_ih; W] as one product
/// into a buffer of its own and activates them there. Returns the activated gates
/// [B, T, 4H] (only with `keep`: in evaluation they are never stored) and the output
/// [B, T, 2H].
fn forward_by_sequences(
    xs: &[f32],
    (w_ih, bias, w): (&[f32], &[f32], &[f32]),
    (h0, c0): (&[f32], &[f32]),
    (batch, time, hidden): (usize, usize, usize),
    keep: bool,
) -> (Vec<f32>, Vec<f32>) {
    use rayon::prelude::*;
    let width = 4 * hidden;
    let inputs = xs.len() / (batch * time).max(1);
    let w = PackedWeight::stacked_of(&[w_ih, w], width);
    // Neither buffer is zeroed: every value is written below, row (b, t) by the thread of
    // sequence b at step t.
    let mut gates = uninit(if keep { batch * time * width } else { 0 });
    let mut out = uninit(batch * time * 2 * hidden);
    let chunk = sequences_per_thread(batch);
    let threads = batch.div_ceil(chunk);
    let gate_parts: Vec<&mut [_]> = match keep {
        true => gates.chunks_mut(chunk * time * width).collect(),
        false => (0..threads).map(|_| &mut [][..]).collect(),
    };
    out.par_chunks_mut(chunk * time * 2 * hidden)
        .zip(gate_parts)
        .zip(xs.par_chunks((chunk * time * inputs).max(1)))
        .zip(
            h0.par_chunks(chunk * hidden)
                .zip(c0.par_chunks(chunk * hidden)),
        )
        .for_each(|(((out, gates), xs), (h0, c0))| {
            let rows = h0.len() / hidden;
            // [x_t | h_{t−1}] of each sequence, side by side; the cell writes h_t in place.
            let k = inputs + hidden;
            let mut xh = vec![0f32; rows * k];
            for (xh, h) in xh.chunks_exact_mut(k).zip(h0.chunks_exact(hidden)) {
                xh[inputs..].copy_from_slice(h);
            }
            let mut c = c0.to_vec();
            let mut a = vec![0f32; rows * width];
            for t in 0..time {
                for (b, xh) in xh.chunks_exact_mut(k).enumerate() {
                    xh[..inputs].copy_from_slice(&xs[(b * time + t) * inputs..][..inputs]);
                }
                w.bias_plus_product(bias, (&xh, k), rows, (&mut a, width));
                for (b, ((xh, c), a)) in xh
                    .chunks_exact_mut(k)
                    .zip(c.chunks_exact_mut(hidden))
                    .zip(a.chunks_exact_mut(width))
                    .enumerate()
                {
                    let h = &mut xh[inputs..];
                    with_wide_simd!(cell_step(a, h, c));
                    let row = &mut out[(b * time + t) * 2 * hidden..][..2 * hidden];
                    let (h_out, c_out) = row.split_at_mut(hidden);
                    h_out.write_copy_of_slice(h);
                    c_out.write_copy_of_slice(c);
                    if keep {
                        gates[(b * time + t) * width..][..width].write_copy_of_slice(a);
                    }
                }
            }
        });
    // SAFETY: every row (b, t) of both was written above, by the thread of sequence b (of
    // the gates, with `keep`; else they hold none).
    unsafe { (assume_init(gates), assume_init(out)) }
}

/// The recurrence split by units ([`split_by_units`]): the input projections of all
/// sequences as one product on all cores, then at every step each chunk of units
/// ([`steps_in_chunks`]) computes its gates and states for every sequence from the whole of
/// h_{t−1}, with its columns of W (the i, f, g and o columns of its units) packed once.
/// Returns the activated gates [B, T, 4H] and the output [B, T, 2H].
fn forward_by_units(
    xs: &[f32],
    (w_ih, bias, w): (&[f32], &[f32], &[f32]),
    (h0, c0): (&[f32], &[f32]),
    (batch, time, hidden): (usize, usize, usize),
) -> (Vec<f32>, Vec<f32>) {
    use rayon::prelude::*;
    let width = 4 * hidden;
    let mut gates = uninit(batch * time * width);
    for row in gates.chunks_exact_mut(width) {
        row.write_copy_of_slice(bias);
    }
    // SAFETY: every value was just initialised.
    let mut gates = unsafe { assume_init(gates) };
    let inputs = xs.len() / (batch * time).max(1);
    let w_ih = PackedWeight::of(w_ih, width);
    let rows = (batch * time).div_ceil(rayon::current_num_threads()).max(1);
    gates
        .par_chunks_mut(rows * width)
        .zip(xs.par_chunks((rows * inputs).max(1)))
        .for_each(|(gates, xs)| {
            w_ih.multiply_add((xs, inputs), xs.len() / inputs, (gates, width));
        });
    let mut out = vec![0f32; batch * time * 2 * hidden];
    let chunks = rayon::current_num_threads().min(hidden).max(1);
    let parts: Vec<_> = (0..chunks)
        .map(|chunk| {
            let units = chunk_units(hidden, chunks, chunk);
            let columns: Vec<usize> = (0..4)
                .flat_map(|g| units.clone().map(move |u| g * hidden + u))
                .collect();
            (units, PackedWeight::columns_of(w, width, &columns))
        })
        .collect();
    let (gate_values, states) = (SharedBuffer::new(&mut gates), SharedBuffer::new(&mut out));
    steps_in_chunks(time, chunks, |t, chunk| {
        let (units, w) = &parts[chunk];
        let n = units.len();
        // h_{t−1} of every sequence, and this chunk's xp_t (gate by gate).
        let mut h = vec![0f32; batch * hidden];
        let mut a = vec![0f32; batch * 4 * n];
        for b in 0..batch {
            let row = (b * time + t) * width;
            // SAFETY: step t − 1's tasks are done and no task of step t writes its states;
            // the gates of (b, t) at this chunk's units are this task's alone.
            unsafe {
                let before = match t {
                    0 => &h0[b * hidden..][..hidden],
                    _ => states.read((b * time + t - 1) * 2 * hidden, hidden),
                };
                h[b * hidden..][..hidden].copy_from_slice(before);
                for g in 0..4 {
                    a[(b * 4 + g) * n..][..n]
                        .copy_from_slice(gate_values.read(row + g * hidden + units.start, n));
                }
            }
        }
        w.multiply_add((&h, hidden), batch, (&mut a, 4 * n));
        for (b, a) in a.chunks_exact_mut(4 * n).enumerate() {
            let row = (b * time + t) * width;
            let at = (b * time + t) * 2 * hidden;
            // SAFETY: as above; h_t and c_t of (b, t) at this chunk's units are this task's
            // alone.
            let (h, c) = unsafe {
                let before = match t {
                    0 => &c0[b * hidden + units.start..][..n],
                    _ => states.read((b * time + t - 1) * 2 * hidden + hidden + units.start, n),
                };
                let c = states.write(at + hidden + units.start, n);
                c.copy_from_slice(before);
                (states.write(at + units.start, n), c)
            };
            with_wide_simd!(cell_step(a, h, c));
            for g in 0..4 {
                // SAFETY: as above.
                unsafe { gate_values.write(row + g * hidden + units.start, n) }
                    .copy_from_slice(&a[g * n..][..n]);
            }
        }
    });
    (gates, out)
}

/// One step of one sequence: the gates' pre-activations `a` [4H] become i, f, g, o in place,
/// and the state (h, c) moves to the step's.
#[inline(always)]
fn cell_step(a: &mut [f32], h: &mut [f32], c: &mut [f32]) {
    let [i, f, g, o] = four_mut(a);
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

/// The gradients of the gates' pre-activations `da` (i, f, g, o, each over the same units)
/// at one step of one sequence from the activated gates, the cell state after and before the
/// step, the incoming dh (already including dh_{t+1}) and dc (including ∂c_t and
/// dc_{t+1} ⊙ f_{t+1}); leaves dc ⊙ f in `dc` for the step before.
#[inline(always)]
fn gate_gradient(
    [dai, daf, dag, dao]: [&mut [f32]; 4],
    [i, f, g, o]: [&[f32]; 4],
    (c, c_in): (&[f32], &[f32]),
    dh: &[f32],
    dc: &mut [f32],
) {
    let n = dh.len();
    let lengths = [dai.len(), daf.len(), dag.len(), dao.len(), i.len(), f.len()];
    assert!(
        lengths
            .iter()
            .chain(&[g.len(), o.len(), c.len(), c_in.len(), dc.len()])
            .all(|&l| l == n)
    );
    for j in 0..n {
        let th = tanh_approx(c[j]);
        let d = dc[j] + dh[j] * o[j] * (1.0 - th * th);
        dao[j] = dh[j] * th * o[j] * (1.0 - o[j]);
        dai[j] = d * g[j] * i[j] * (1.0 - i[j]);
        dag[j] = d * i[j] * (1.0 - g[j] * g[j]);
        daf[j] = d * c_in[j] * f[j] * (1.0 - f[j]);
        dc[j] = d * f[j];
    }
}

/// A row of the four gates (i, f, g, o) split gate by gate.
fn four<T>(row: &[T]) -> [&[T]; 4] {
    let n = row.len() / 4;
    [0, 1, 2, 3].map(|g| &row[g * n..(g + 1) * n])
}

/// [`four`] of a row to write.
fn four_mut<T>(row: &mut [T]) -> [&mut [T]; 4] {
    let n = row.len() / 4;
    let (i, rest) = row.split_at_mut(n);
    let (f, rest) = rest.split_at_mut(n);
    let (g, o) = rest.split_at_mut(n);
    [i, f, g, o]
}

/// Backpropagation through time split by sequences ([`sequences_per_thread`]): each thread
/// carries dh and dc of its own sequences back through time, with Wᵀ packed once for all;
/// fills `da` [B, T, 4H] (batch-major), the gradients of the gates' pre-activations.
fn backward_by_sequences(s: &Saved, gs: &[f32], da: &mut [f32]) {
    use rayon::prelude::*;
    let (batch, time, hidden) = (s.batch, s.time, s.hidden);
    let width = 4 * hidden;
    // Wᵀ [4H, H], for dh_{t−1} = da_t Wᵀ.
    let wt = PackedWeight::transposed_rows_of(&s.weight, width, 0..hidden);
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
                    let (global, after) = ((first + b) * time + t, s.after(first + b, t).1);
                    with_wide_simd!(gate_gradient(
                        four_mut(da),
                        four(&s.gates[global * width..][..width]),
                        (after, s.before(first + b, t).1),
                        &dh[at.clone()],
                        &mut dc[at]
                    ));
                    da_t[b * width..(b + 1) * width].copy_from_slice(da);
                }
                dh.fill(0.0);
                wt.multiply_add((&da_t, width), rows, (&mut dh, hidden));
            }
        });
}

/// Backpropagation through time split by units ([`split_by_units`]): at every step, from the
/// last to the first, each chunk of units ([`steps_in_chunks`]) computes its part of dh from
/// the whole of da_{t+1} (with its columns of Wᵀ packed once), then its part of da_t for
/// every sequence; fills `da` [B, T, 4H] (batch-major).
fn backward_by_units(s: &Saved, gs: &[f32], da: &mut [f32]) {
    let (batch, time, hidden) = (s.batch, s.time, s.hidden);
    let width = 4 * hidden;
    let chunks = rayon::current_num_threads().min(hidden).max(1);
    let parts: Vec<_> = (0..chunks)
        .map(|chunk| {
            let units = chunk_units(hidden, chunks, chunk);
            let wt = PackedWeight::transposed_rows_of(&s.weight, width, units.clone());
            (units, wt)
        })
        .collect();
    let mut dc = vec![0f32; batch * hidden];
    let (da, dc) = (SharedBuffer::new(da), SharedBuffer::new(&mut dc));
    steps_in_chunks(time, chunks, |step, chunk| {
        let t = time - 1 - step;
        let (units, wt) = &parts[chunk];
        let n = units.len();
        // dh_t at this chunk's units: ∂h_t, plus da_{t+1} Wᵀ after the last step.
        let mut dh = vec![0f32; batch * n];
        for (b, dh) in dh.chunks_exact_mut(n).enumerate() {
            dh.copy_from_slice(&gs[(b * time + t) * 2 * hidden + units.start..][..n]);
        }
        if t + 1 < time {
            let mut next = vec![0f32; batch * width];
            for (b, next) in next.chunks_exact_mut(width).enumerate() {
                // SAFETY: step t + 1's tasks are done, and no task of step t writes its da.
                next.copy_from_slice(unsafe { da.read((b * time + t + 1) * width, width) });
            }
            wt.multiply_add((&next, width), batch, (&mut dh, n));
        }
        for (b, dh) in dh.chunks_exact(n).enumerate() {
            let (row, at) = ((b * time + t) * width, (b * time + t) * 2 * hidden);
            let (after, before) = (s.after(b, t).1, s.before(b, t).1);
            let gates = four(&s.gates[row..row + width]).map(|g| &g[units.clone()]);
            // SAFETY: da of (b, t) and dc of b at this chunk's units are this task's alone.
            let (da_parts, dc) = unsafe {
                (
                    [0, 1, 2, 3].map(|g| da.write(row + g * hidden + units.start, n)),
                    dc.write(b * hidden + units.start, n),
                )
            };
            for (dc, g) in dc.iter_mut().zip(&gs[at + hidden + units.start..][..n]) {
                *dc += g;
            }
            with_wide_simd!(gate_gradient(
                da_parts,
                gates,
                (&after[units.clone()], &before[units.clone()]),
                dh,
                dc
            ));
        }
    });
}

#[derive(Debug)]
pub(super) struct LstmBackward;

impl Backward<Flex, 10> for LstmBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Self::State, 10>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = values_f32(&grads.consume::<Flex>(&ops.node));
        let gs: &[f32] = grad.as_slice().expect("contiguous");
        let [x_node, w_i, w_f, w_g, w_o, bias_node, r_i, r_f, r_g, r_o] =
            ops.parents.map(|n| n.map(|n| n.id));
        let s = ops.state;
        let (batch, time, hidden) = (s.batch, s.time, s.hidden);
        let width = 4 * hidden;
        let mut da = vec![0f32; batch * time * width];
        if split_by_units(batch, hidden) {
            backward_by_units(&s, gs, &mut da);
        } else {
            backward_by_sequences(&s, gs, &mut da);
        }
        let recurrent = [r_i, r_f, r_g, r_o];
        if recurrent.iter().any(Option::is_some) {
            let dw =
                recurrent_weight_gradient(|r| s.before(r / time, r % time).0, &da, (hidden, width));
            for (node, dw) in recurrent.into_iter().zip(column_blocks(dw, width, 4)) {
                if let Some(node) = node {
                    grads.register::<Flex>(node, flex_f32(dw, vec![hidden, hidden]));
                }
            }
        }
        register_projection_gradients(
            grads,
            (x_node, &[w_i, w_f, w_g, w_o], bias_node),
            (&s.inputs, &s.input_weight),
            &da,
            (batch, time, width),
        );
    }
}
