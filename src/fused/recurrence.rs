//! What the fused recurrent layers ([`super::lstm`], [`super::gru`]) share: the layout
//! changes and the one product of their backward passes that do not depend on the cell.
//! Gate values and their gradients are kept time-major ([t][b][·]: one step's rows side by
//! side, for the per-step products); the operations' inputs and outputs are batch-major
//! ([b][t][·], as burn lays out [B, T, ·]).

use super::step::{LARGE_PRODUCT, gemm_add, multiply_add};

/// The transpose [cols, rows] of a row-major `rows` × `cols` matrix (Wᵀ, for
/// dh_{t−1} += da_t Wᵀ).
pub(super) fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0f32; rows * cols];
    for r in 0..rows {
        for k in 0..cols {
            t[k * rows + r] = m[r * cols + k];
        }
    }
    t
}

/// Time-major rows ([t][b][width]) in batch-major order ([b][t][width]).
pub(super) fn batch_major(rows: &[f32], batch: usize, time: usize, width: usize) -> Vec<f32> {
    let mut out = vec![0f32; batch * time * width];
    for t in 0..time {
        for b in 0..batch {
            let from = (t * batch + b) * width;
            let to = (b * time + t) * width;
            out[to..to + width].copy_from_slice(&rows[from..from + width]);
        }
    }
    out
}

/// dW = Σ_t h_{t−1}ᵀ da_t [hidden, width] as one product Hᵀ dA over the (t, b) rows, with
/// `before(b, t)` the state h_{t−1} of sequence b that step t read and `da` time-major.
pub(super) fn recurrent_weight_gradient<'a>(
    before: impl Fn(usize, usize) -> &'a [f32],
    da: &[f32],
    (batch, time, hidden, width): (usize, usize, usize, usize),
) -> Vec<f32> {
    let rows = time * batch;
    let mut ht = vec![0f32; hidden * rows];
    for t in 0..time {
        for b in 0..batch {
            let r = t * batch + b;
            for (j, &h) in before(b, t).iter().enumerate() {
                ht[j * rows + r] = h;
            }
        }
    }
    let mut dw = vec![0f32; hidden * width];
    multiply_add(&ht, da, width, &mut dw);
    dw
}

/// y [n, outputs] += h [n, inputs] · W [inputs, outputs]: the forward pass's per-step
/// recurrent product. A few rows against a wide W (the gates of every unit: outputs of 3H or
/// 4H) go to `gemm` on the calling core, whose fused multiply-adds and register tiles beat
/// [`multiply_add`]'s few-row loop there ([2, 200] × [200, 800]: 8.7 against 13.4–16.3 µs,
/// `cargo bench --bench gemm_peak`); everything else goes to [`multiply_add`], which wins
/// for a narrow W (the backward pass's [2, 800] × [800, 200]: 16.1 against 22.8 µs).
pub(super) fn recurrent_product(h: &[f32], w: &[f32], outputs: usize, y: &mut [f32]) {
    let inputs = w.len() / outputs.max(1);
    let rows = y.len() / outputs.max(1);
    if rows > 4 || outputs < 2 * inputs || rows * inputs * outputs > LARGE_PRODUCT {
        return multiply_add(h, w, outputs, y);
    }
    gemm_add(h, w, outputs, y, gemm::Parallelism::None);
}
