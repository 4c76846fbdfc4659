//! The image models' output head and its categorical log-likelihood as one operation, computed
//! in tiles of pixels that stay in cache, forwards and backwards:
//!
//! ```text
//! a = relu(h)                      features of a tile of pixels   [C × T]
//! u = relu(W₁ a + b₁)              hidden layer                   [D × T]
//! z = W₂ u + b₂                    logits, row c·L + l            [c·L × T]
//! log p(x) = Σ_{pixels, colours} z_x − log Σ_l exp(z_l)           per example
//! ```
//!
//! The composition of standard operations writes the hidden layer, the logits (L = 256 values
//! per pixel and colour: 25 MB for a batch of 32 Fashion-MNIST images) and their gradients
//! to memory and reads them back, op by op; here each tile of T ≤ [`TILE`] pixels goes from
//! the features to the log-likelihood and, in training, back to the features' gradient,
//! without leaving the core's cache.
//!
//! The gradient is computed in the same pass as the values, for per-example weights g:
//! with p = softmax(z), ∂z = g([l = x] − p), then ∂W₂ += ∂z uᵀ, ∂u = (W₂ᵀ ∂z) ⊙ [u > 0],
//! ∂W₁ += ∂u aᵀ, ∂h = (W₁ᵀ ∂u) ⊙ [h > 0], and the biases' gradients are the row sums of ∂z
//! and ∂u. Under autodiff the forward pass computes them for g = 1; the backward pass scales
//! them by the upstream gradient when it is the same for every example (a loss that sums or
//! averages the log-likelihoods, as training does) and runs the pass again with its g
//! otherwise. The products run in the precision [`super::matmul::set_precision`] chose.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};
use rayon::prelude::*;

use super::matmul::{Lhs, Operand, add_outer_products};
use super::{exp_approx, flex_f32, levels_of, log_sum_exp, values_f32};

/// The most pixels of one example a tile holds: its hidden layer and logits (256 values per
/// pixel each in the Fashion-MNIST configuration) then take 256 KB each.
pub const TILE: usize = 256;

/// The head's parameters as f32 slices: W₁ [D × C], b₁ [D], W₂ [c·L × D], b₂ [c·L].
struct Weights<'a> {
    w1: &'a [f32],
    b1: &'a [f32],
    w2: &'a [f32],
    b2: &'a [f32],
}

/// Gradients of Σ_n g_n log p(x_n) with respect to the features and the four parameters
/// (shapes as the tensors they belong to).
#[derive(Debug, Clone)]
pub(super) struct HeadGradients {
    dh: Vec<f32>,
    dw1: Vec<f32>,
    db1: Vec<f32>,
    dw2: Vec<f32>,
    db2: Vec<f32>,
}

impl HeadGradients {
    fn zeros(c: usize, d: usize, o: usize) -> Self {
        HeadGradients {
            dh: Vec::new(),
            dw1: vec![0.0; d * c],
            db1: vec![0.0; d],
            dw2: vec![0.0; o * d],
            db2: vec![0.0; o],
        }
    }

    /// The parameter gradients of another share of the examples added to these.
    fn add(&mut self, other: &Self) {
        for (sum, part) in [
            (&mut self.dw1, &other.dw1),
            (&mut self.db1, &other.db1),
            (&mut self.dw2, &other.dw2),
            (&mut self.db2, &other.db2),
        ] {
            for (s, &p) in sum.iter_mut().zip(part) {
                *s += p;
            }
        }
    }

    /// Every gradient times `g`.
    fn scaled(mut self, g: f32) -> Self {
        for values in [
            &mut self.dh,
            &mut self.dw1,
            &mut self.db1,
            &mut self.dw2,
            &mut self.db2,
        ] {
            for v in values.iter_mut() {
                *v *= g;
            }
        }
        self
    }
}

/// log p(x_n) [N] of each example for the features `h` [N, C, H, W], the parameters `w1`
/// [D, C], `b1` [D], `w2` [c·L, D], `b2` [c·L] and the levels `x` [N, c, H, W] in 0..L; with
/// per-example `weights` g [N], also the gradients of Σ_n g_n log p(x_n). The examples are
/// split over the threads.
pub(super) fn pass(
    [h, w1, b1, w2, b2]: [&FlexTensor; 5],
    x: &FlexTensor,
    weights: Option<&[f32]>,
) -> (FlexTensor, Option<HeadGradients>) {
    let h = values_f32(h);
    let (w1, b1, w2, b2) = (
        values_f32(w1),
        values_f32(b1),
        values_f32(w2),
        values_f32(b2),
    );
    let dims = h.shape().to_vec();
    let (n, c) = (dims[0], dims[1]);
    let pixels: usize = dims[2..].iter().product();
    let (d, o) = (w1.shape()[0], w2.shape()[0]);
    assert_eq!(w1.shape()[1], c, "W₁ reads the features' channels");
    assert_eq!(w2.shape()[1], d, "W₂ reads the hidden layer");
    let xs = levels_of(x);
    // x is [N, colours, H, W].
    let colours = x.shape()[1];
    assert_eq!(
        xs.len(),
        n * colours * pixels,
        "one level per pixel and colour"
    );
    assert!(
        colours > 0 && o.is_multiple_of(colours),
        "{o} logits per pixel for {colours} colours"
    );
    let levels = o / colours;
    let sizes = Sizes {
        c,
        d,
        o,
        pixels,
        colours,
        levels,
    };
    let params = Weights {
        w1: w1.as_slice().expect("contiguous"),
        b1: b1.as_slice().expect("contiguous"),
        w2: w2.as_slice().expect("contiguous"),
        b2: b2.as_slice().expect("contiguous"),
    };
    let hs: &[f32] = h.as_slice().expect("contiguous");
    let mut log_p = vec![0f32; n];
    let mut dh = weights.map(|_| vec![0f32; n * c * pixels]);
    let threads = rayon::current_num_threads().clamp(1, n.max(1));
    let per_thread = n.div_ceil(threads).max(1);
    let plane = c * pixels;
    // Each thread's share of ∂h (none without a backward pass).
    let dh_shares: Vec<Option<&mut [f32]>> = match &mut dh {
        Some(dh) => dh.chunks_mut(per_thread * plane).map(Some).collect(),
        None => (0..n.div_ceil(per_thread)).map(|_| None).collect(),
    };
    let shares: Vec<Option<HeadGradients>> = log_p
        .par_chunks_mut(per_thread)
        .zip(hs.par_chunks(per_thread * plane))
        .zip(xs.par_chunks(per_thread * colours * pixels))
        .zip(dh_shares)
        .enumerate()
        .map(|(chunk, (((log_p, hs), xs), dh))| {
            let g = weights.map(|g| &g[chunk * per_thread..][..log_p.len()]);
            share(&sizes, &params, hs, xs, log_p, g.zip(dh))
        })
        .collect();
    let grads = dh.map(|dh| {
        let mut total = HeadGradients::zeros(c, d, o);
        for part in shares.iter().flatten() {
            total.add(part);
        }
        total.dh = dh;
        total
    });
    (flex_f32(log_p, vec![n]), grads)
}

/// The sizes of one pass: C feature channels, D hidden units, o = c·L logits per pixel, the
/// pixels per example, the colours c and the levels L.
struct Sizes {
    c: usize,
    d: usize,
    o: usize,
    pixels: usize,
    colours: usize,
    levels: usize,
}

/// One thread's examples: their log p into `log_p`, and with (g, ∂h) given, ∂h of these
/// examples written and the parameter gradients of their share returned.
fn share(
    s: &Sizes,
    p: &Weights,
    hs: &[f32],
    xs: &[usize],
    log_p: &mut [f32],
    backward: Option<(&[f32], &mut [f32])>,
) -> Option<HeadGradients> {
    let Sizes {
        c,
        d,
        o,
        pixels,
        colours,
        levels,
    } = *s;
    let tiles = pixels.div_ceil(TILE).max(1);
    let width = pixels.div_ceil(tiles).max(1);
    // SAFETY (all four): the weights are row-major in slices that outlive these factors.
    let w1 = unsafe { Lhs::new(d, c, Operand::row_major(p.w1.as_ptr(), c)) };
    let w2 = unsafe { Lhs::new(o, d, Operand::row_major(p.w2.as_ptr(), d)) };
    let mut a = vec![0f32; c * width];
    let mut u = vec![0f32; d * width];
    let mut z = vec![0f32; o * width];
    let mut lse = vec![0f32; width];
    let mut max = vec![0f32; width];
    let mut backward = backward.map(|(g, dh)| {
        let w2t = unsafe { Lhs::new(d, o, Operand::transposed(p.w2.as_ptr(), d)) };
        let w1t = unsafe { Lhs::new(c, d, Operand::transposed(p.w1.as_ptr(), c)) };
        let buffers = (vec![0f32; d * width], vec![0f32; c * width]);
        (g, dh, w2t, w1t, buffers, HeadGradients::zeros(c, d, o))
    });
    let plane = c * pixels;
    for (e, (h, x)) in hs
        .chunks(plane)
        .zip(xs.chunks(colours * pixels))
        .enumerate()
    {
        let mut total = 0f64;
        for start in (0..pixels).step_by(width) {
            let t = width.min(pixels - start);
            // a = relu(h) over the tile's pixels, one row per channel.
            for (row, channel) in a.chunks_mut(t).zip(h.chunks(pixels)) {
                for (a, &v) in row.iter_mut().zip(&channel[start..start + t]) {
                    *a = v.max(0.0);
                }
            }
            // u = relu(b₁ + W₁ a), z = b₂ + W₂ u.
            fill_rows(&mut u[..d * t], p.b1, t);
            w1.times_rows(t, &a, &mut u, true);
            for v in &mut u[..d * t] {
                *v = v.max(0.0);
            }
            fill_rows(&mut z[..o * t], p.b2, t);
            w2.times_rows(t, &u, &mut z, true);
            for colour in 0..colours {
                let rows = &mut z[colour * levels * t..][..levels * t];
                let x = &x[colour * pixels + start..][..t];
                with_wide_simd!(log_sum_exp(rows, t, &mut max[..t], &mut lse[..t]));
                for (j, &level) in x.iter().enumerate() {
                    assert!(level < levels, "level {level} out of range 0..{levels}");
                    total += f64::from(rows[level * t + j] - lse[j]);
                }
                if let Some((g, ..)) = &backward {
                    with_wide_simd!(softmax_gradient(rows, t, g[e], &lse[..t], x));
                }
            }
            let Some((_, dh, w2t, w1t, (du, da), sums)) = &mut backward else {
                continue;
            };
            // z now holds ∂z. ∂b₂ += row sums, ∂W₂ [o × D] += ∂z [o × t] · uᵀ [t × D].
            add_row_sums(&mut sums.db2, &z[..o * t], t);
            add_outer_products(&mut sums.dw2, (o, d, t), &z, &u);
            // ∂u = (W₂ᵀ ∂z) ⊙ [u > 0].
            w2t.times_rows(t, &z, du, false);
            for (g, &u) in du[..d * t].iter_mut().zip(&u[..d * t]) {
                if u <= 0.0 {
                    *g = 0.0;
                }
            }
            add_row_sums(&mut sums.db1, &du[..d * t], t);
            // ∂W₁ [D × C] += ∂u [D × t] · aᵀ [t × C].
            add_outer_products(&mut sums.dw1, (d, c, t), du, &a);
            // ∂h = (W₁ᵀ ∂u) ⊙ [h > 0], written into the tile's columns of this example.
            w1t.times_rows(t, du, da, false);
            let dh = &mut dh[e * plane..][..plane];
            for ((out, channel), grad) in dh
                .chunks_mut(pixels)
                .zip(h.chunks(pixels))
                .zip(da.chunks(t))
            {
                for ((out, &v), &g) in out[start..start + t]
                    .iter_mut()
                    .zip(&channel[start..start + t])
                    .zip(grad)
                {
                    *out = if v > 0.0 { g } else { 0.0 };
                }
            }
        }
        log_p[e] = total as f32;
    }
    backward.map(|(.., sums)| sums)
}

/// Every row of `m` (rows of `width` values) set to its value of `bias`.
fn fill_rows(m: &mut [f32], bias: &[f32], width: usize) {
    for (row, &b) in m.chunks_mut(width).zip(bias) {
        row.fill(b);
    }
}

/// sums[r] += Σ row r of `m` (rows of `width` values).
fn add_row_sums(sums: &mut [f32], m: &[f32], width: usize) {
    for (s, row) in sums.iter_mut().zip(m.chunks(width)) {
        *s += super::conv::row_sum(row);
    }
}

/// The logits `rows` (L rows of `width` values) replaced by ∂(g log p(x))/∂z =
/// g([l = x] − e^(z − lse)) column by column.
#[inline(always)]
fn softmax_gradient(rows: &mut [f32], width: usize, g: f32, lse: &[f32], x: &[usize]) {
    for (l, row) in rows.chunks_mut(width).enumerate() {
        for ((z, &lse), &x) in row.iter_mut().zip(lse).zip(x) {
            let hit = if x == l { 1.0 } else { 0.0 };
            *z = g * (hit - exp_approx(*z - lse));
        }
    }
}

/// What the backward pass needs: the features, the four parameters, the levels, and the
/// gradients the forward pass computed for g = 1.
pub(super) type HeadState = ([FlexTensor; 5], FlexTensor, HeadGradients);

#[derive(Debug)]
pub(super) struct HeadBackward;

impl Backward<Flex, 5> for HeadBackward {
    type State = HeadState;

    fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
        let upstream = values_f32(&grads.consume::<Flex>(&ops.node));
        let g: &[f32] = upstream.as_slice().expect("contiguous");
        let (inputs, x, unit) = ops.state;
        let found = match g.first() {
            Some(&first) if g.iter().all(|&v| v == first) => unit.scaled(first),
            _ => pass(inputs.each_ref(), &x, Some(g)).1.expect("asked for"),
        };
        let HeadGradients {
            dh,
            dw1,
            db1,
            dw2,
            db2,
        } = found;
        let values = [dh, dw1, db1, dw2, db2];
        for ((node, values), input) in ops.parents.into_iter().zip(values).zip(&inputs) {
            if let Some(node) = node {
                grads.register::<Flex>(node.id, flex_f32(values, input.shape().to_vec()));
            }
        }
    }
}
