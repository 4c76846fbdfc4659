//! What the fused recurrent layers ([`super::lstm`], [`super::gru`]) share: the layout
//! changes, the per-step products and the one product of their backward passes that do not
//! depend on the cell. The operations' inputs and outputs are batch-major ([b][t][·], as burn
//! lays out [B, T, ·]).

use burn::backend::Flex;
use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::flex::FlexTensor;

use super::flex_f32;
use super::step::{FEW_ROWS, accumulate, gemm_rows, multiply_add};

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

/// Sequences per thread: the batch split evenly over the cores. Sequences are independent in
/// the forward pass and in backpropagation through time, so each thread runs the whole
/// recurrence of its own sequences, with no join per step.
pub(super) fn sequences_per_thread(batch: usize) -> usize {
    let threads = rayon::current_num_threads().clamp(1, batch.max(1));
    batch.div_ceil(threads).max(1)
}

/// dW = Σ_t h_{t−1}ᵀ da_t [hidden, width] as one product Hᵀ dA over the rows of `da`
/// ([rows, width], any order of (b, t)), with `before(r)` the state h_{t−1} that row r's step
/// read.
pub(super) fn recurrent_weight_gradient<'a>(
    before: impl Fn(usize) -> &'a [f32],
    da: &[f32],
    (hidden, width): (usize, usize),
) -> Vec<f32> {
    let rows = da.len() / width.max(1);
    let mut ht = vec![0f32; hidden * rows];
    for r in 0..rows {
        for (j, &h) in before(r).iter().enumerate() {
            ht[j * rows + r] = h;
        }
    }
    let mut dw = vec![0f32; hidden * width];
    multiply_add(&ht, da, width, &mut dw);
    dw
}

/// Rows of y += h [n, inputs] · W [inputs, outputs] where y's rows lie `row_stride` values
/// apart (one step's rows of a batch-major [b][t][outputs] buffer, or `outputs` for
/// contiguous rows), on the calling core: the per-step product of the recurrent layers,
/// forwards (h_{t−1} W) and backwards (da_t Wᵀ).
pub(super) fn strided_product(
    h: &[f32],
    w: &[f32],
    outputs: usize,
    y: &mut [f32],
    row_stride: usize,
) {
    let inputs = w.len() / outputs.max(1);
    let rows = h.len() / inputs.max(1);
    assert_eq!(h.len(), rows * inputs, "h holds whole rows");
    if rows <= FEW_ROWS {
        // One or two sequences per core (training batches): gemm would pack all of W again
        // for every step's product, which costs more than the product itself.
        for (r, h) in h.chunks_exact(inputs).enumerate() {
            accumulate(
                h,
                w,
                outputs,
                &mut y[r * row_stride..r * row_stride + outputs],
            );
        }
        return;
    }
    gemm_rows(h, w, outputs, y, row_stride, gemm::Parallelism::None);
}

/// Registers the gradients of the input projection xp = x W_ih + b from dxp [B·T, width]
/// (batch-major): dW_ih = xᵀ dxp, db = Σ dxp over the rows, dx = dxp W_ihᵀ [B, T, I], each for
/// the parents that want one (by their node ids). `x` holds [B, T, I] and `w_ih`
/// [I, width], both contiguous.
pub(super) fn register_projection_gradients(
    grads: &mut Gradients,
    [x_node, w_ih_node, bias_node]: [Option<NodeId>; 3],
    (x, w_ih): (&FlexTensor, &FlexTensor),
    dxp: &[f32],
    (batch, time, width): (usize, usize, usize),
) {
    let xs: &[f32] = x.as_slice().expect("contiguous");
    let rows = batch * time;
    let inputs = xs.len() / rows.max(1);
    if let Some(node) = w_ih_node {
        let mut dw = vec![0f32; inputs * width];
        multiply_add(&transpose(xs, rows, inputs), dxp, width, &mut dw);
        grads.register::<Flex>(node, flex_f32(dw, vec![inputs, width]));
    }
    if let Some(node) = bias_node {
        let mut db = vec![0f32; width];
        for row in dxp.chunks_exact(width) {
            for (d, g) in db.iter_mut().zip(row) {
                *d += g;
            }
        }
        grads.register::<Flex>(node, flex_f32(db, vec![width]));
    }
    if let Some(node) = x_node {
        let w: &[f32] = w_ih.as_slice().expect("contiguous");
        let mut dx = vec![0f32; rows * inputs];
        multiply_add(dxp, &transpose(w, inputs, width), inputs, &mut dx);
        grads.register::<Flex>(node, flex_f32(dx, vec![batch, time, inputs]));
    }
}
