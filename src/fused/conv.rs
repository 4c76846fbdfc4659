//! 2-D convolution (stride 1, any dilation, one group) as one well-shaped matrix product per
//! example, in the forward pass and for both gradients. The dilated causal 1-D convolutions
//! of WaveNet and the TCN run here too, as 1 × k kernels over 1 × T images
//! ([`super::conv1d`]).
//!
//! With cols_n[(c, a, b), p] the input pixel that kernel tap (a, b) of channel c reads for
//! output pixel p (at rows and columns a·d_h and b·d_w from its corner under dilation d),
//! output pixel p (im2col; the input itself for a 1x1 kernel without padding), a
//! (C_in·kh·kw) × (H'·W') matrix per example n:
//!
//! - forward: y[n] = bias + W · cols_n, written in place in the output's [C_out, H', W'];
//! - input gradient: ∂L/∂x[n] = col2im(Wᵀ · ∂L/∂y[n]) (direct for a 1x1 kernel);
//! - weight gradient: ∂L/∂W += ∂L/∂y[n] · cols_nᵀ, a C_out × (C_in·kh·kw) × (H'·W') product;
//! - bias gradient: Σ_{n,p} ∂L/∂y[n, o, p].
//!
//! The products run in the precision [`super::matmul::set_precision`] chose (f32, or bf16 on
//! AMX). The examples are split over the threads (each with its own weight-gradient sum). This
//! replaces burn-flex's path (BENCHMARKS.md, "Where argen's training step spends its time"):
//! its forward scatters each result back value by value, its input gradient is a transposed
//! convolution, and burn's generic weight gradient is a convolution of the inputs with the
//! output gradient as an image-sized kernel, which burn-flex runs as C_in matrix-*vector*
//! products that each read the whole gradient again.

use std::mem::MaybeUninit;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::flex::FlexTensor;
use burn::backend::{Flex, TensorMetadata};
use burn::tensor::ops::ConvOptions;
use rayon::prelude::*;

use super::matmul::{Lhs, Operand, Precision, add_outer_products, precision};
use super::{assume_init, flex_f32, initialised, uninit, values_f32};

/// Whether these options are covered (otherwise burn's convolution runs).
pub(super) fn supported(options: &ConvOptions<2>) -> bool {
    options.stride == [1, 1] && options.groups == 1 && options.dilation.iter().all(|&d| d >= 1)
}

/// What the backward pass needs: the input, the weights and the options.
pub(super) type ConvState = (FlexTensor, FlexTensor, ConvOptions<2>);

/// The backward pass of [`forward`]: the convolution's three gradients, and after a ReLU
/// (its output kept in the state) first the output's gradient kept where y > 0.
#[derive(Debug)]
pub(super) struct ConvBackward;

impl Backward<Flex, 3> for ConvBackward {
    type State = (ConvState, Option<FlexTensor>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let (state, relu_output) = ops.state;
        let grad = match relu_output {
            Some(y) => relu_mask(&grad, &y),
            None => grad,
        };
        let ids = ops.parents.map(|node| node.map(|node| node.id));
        register_gradients(&grad, ids, state, grads);
    }
}

/// ∂L/∂y_pre of a ReLU from ∂L/∂y and its output y: the gradient where y > 0, else 0.
fn relu_mask(grad: &FlexTensor, y: &FlexTensor) -> FlexTensor {
    let (grad, y) = (values_f32(grad), values_f32(y));
    let g: &[f32] = grad.as_slice().expect("contiguous");
    let ys: &[f32] = y.as_slice().expect("contiguous");
    const CHUNK: usize = 1 << 14;
    let mut masked = uninit(g.len());
    masked
        .par_chunks_mut(CHUNK)
        .zip(g.par_chunks(CHUNK).zip(ys.par_chunks(CHUNK)))
        .for_each(|(m, (g, y))| {
            for ((m, &g), &y) in m.iter_mut().zip(g).zip(y) {
                m.write(if y > 0.0 { g } else { 0.0 });
            }
        });
    // SAFETY: every value was written above.
    flex_f32(unsafe { assume_init(masked) }, grad.shape().to_vec())
}

/// Registers the gradients of a convolution's input, weight and bias, for those of the
/// three `parents` that are tracked, from the output's gradient `grad`.
fn register_gradients(
    grad: &FlexTensor,
    [x_id, weight_id, bias_id]: [Option<NodeId>; 3],
    (x, weight, options): ConvState,
    grads: &mut Gradients,
) {
    match (weight_id, bias_id) {
        (Some(weight_id), bias_id) => {
            let (dw, db) = parameter_gradients(&x, &weight, grad, &options);
            grads.register::<Flex>(weight_id, dw);
            if let Some(id) = bias_id {
                grads.register::<Flex>(id, db);
            }
        }
        (None, Some(id)) => grads.register::<Flex>(id, bias_gradient(grad)),
        (None, None) => {}
    }
    if let Some(id) = x_id {
        grads.register::<Flex>(id, input_gradient(&x, &weight, grad, &options));
    }
}

/// The backward pass of [`forward`] with an addend: the convolution's three gradients as
/// [`ConvBackward`]'s (without a ReLU), and the addend's, the output's gradient itself.
#[derive(Debug)]
pub(super) struct ConvAddBackward;

impl Backward<Flex, 4> for ConvAddBackward {
    type State = ConvState;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<Flex>(&ops.node);
        let [x_id, weight_id, bias_id, addend_id] =
            ops.parents.map(|node| node.map(|node| node.id));
        register_gradients(&grad, [x_id, weight_id, bias_id], ops.state, grads);
        if let Some(id) = addend_id {
            grads.register::<Flex>(id, grad);
        }
    }
}

/// y [N, C_out, H', W'] for `x` [N, C_in, H, W], `weight` [C_out, C_in, kh, kw] and `bias`
/// [C_out] (stride 1, dilation d, one group; H' = H + top + bottom − (kh − 1)·d_h, W'
/// likewise), plus `addend` [N, C_out, H', W'] if given, through a ReLU if `relu`:
/// per example, y[n] = W · cols_n (C_out × (C_in·kh·kw) × (H'·W')) + bias (+ addend[n]),
/// written in place in the output's layout (for a 1x1 kernel without padding, cols_n is x[n]
/// itself).
pub(super) fn forward(
    x: &FlexTensor,
    weight: &FlexTensor,
    bias: &FlexTensor,
    addend: Option<&FlexTensor>,
    relu: bool,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let addend = addend.map(values_f32);
    let x = values_f32(x);
    let weight = values_f32(weight);
    let bias = values_f32(bias);
    let xd = x.shape().to_vec();
    let [(top, bottom), (left, right)] = options.padding;
    let [dh, dw] = options.dilation;
    let out_height = (xd[2] + top + bottom)
        .checked_sub((weight.shape()[2] - 1) * dh)
        .expect("kernel taller than the padded input");
    let out_width = (xd[3] + left + right)
        .checked_sub((weight.shape()[3] - 1) * dw)
        .expect("kernel wider than the padded input");
    let g = Geometry::new(&x, &weight, [out_height, out_width], options);
    let Geometry {
        n,
        c_in,
        height,
        width,
        c_out,
        ..
    } = g;
    let (taps, pixels) = (g.taps(), g.pixels());
    let xs: &[f32] = x.as_slice().expect("contiguous");
    let ws: &[f32] = weight.as_slice().expect("contiguous");
    let bs: &[f32] = bias.as_slice().expect("contiguous");
    let plane = c_in * height * width;
    let out_plane = c_out * pixels;
    let addend: Option<&[f32]> = addend.as_ref().map(|a| {
        assert_eq!(
            a.shape().to_vec(),
            [n, c_out, out_height, out_width],
            "the addend has the output's shape"
        );
        a.as_slice().expect("contiguous")
    });
    // Every value of y is written by the product below, so it is not zeroed when allocated.
    let mut y = uninit(n * out_plane);
    let threads = rayon::current_num_threads().clamp(1, n.max(1));
    let per_thread = n.div_ceil(threads).max(1);
    y.par_chunks_mut(per_thread * out_plane)
        .zip(xs.par_chunks(per_thread * plane))
        .enumerate()
        .for_each(|(chunk, (y, xs))| {
            let mut cols = Columns::new(&g);
            // SAFETY: W [C_out × taps] is row-major in ws, which outlives `weights`.
            let weights = unsafe { Lhs::new(c_out, taps, Operand::row_major(ws.as_ptr(), taps)) };
            let examples = y.chunks_mut(out_plane).zip(xs.chunks(plane));
            for (i, (y, input)) in examples.enumerate() {
                let rhs = cols.of(input);
                // y [C_out × pixels] = W [C_out × taps] · cols [taps × pixels], every value
                // written (y is not read), then the bias and the addend added while y is in
                // cache.
                // SAFETY: cols holds taps × pixels values and y C_out × pixels; y overlaps
                // neither cols nor W.
                unsafe {
                    weights.times(
                        pixels,
                        Operand::row_major(rhs.as_ptr(), pixels),
                        y.as_mut_ptr().cast(),
                        pixels as isize,
                        false,
                    );
                }
                // SAFETY: the product wrote every value.
                let y = unsafe { initialised(y) };
                let example = chunk * per_thread + i;
                // max(v, 0) that keeps NaN (as burn's ReLU does).
                let activate = |v: f32| if relu && v < 0.0 { 0.0 } else { v };
                match addend {
                    Some(a) => {
                        let a = &a[example * out_plane..][..out_plane];
                        let rows = y.chunks_mut(pixels).zip(a.chunks(pixels));
                        for ((row, add), &b) in rows.zip(bs) {
                            for (v, &r) in row.iter_mut().zip(add) {
                                // (W · cols + b) + r: the sum's order without the fusion.
                                *v = activate((*v + b) + r);
                            }
                        }
                    }
                    None => {
                        for (row, &b) in y.chunks_mut(pixels).zip(bs) {
                            for v in row {
                                *v = activate(*v + b);
                            }
                        }
                    }
                }
            }
        });
    // SAFETY: the product wrote every value.
    flex_f32(
        unsafe { assume_init(y) },
        vec![n, c_out, out_height, out_width],
    )
}

/// Σ over examples and pixels of `dy` [N, C_out, H', W'], shape [C_out].
pub(super) fn bias_gradient(dy: &FlexTensor) -> FlexTensor {
    let dy = values_f32(dy);
    let dims = dy.shape().to_vec();
    let (n, c_out) = (dims[0], dims[1]);
    let pixels: usize = dims[2..].iter().product();
    let g: &[f32] = dy.as_slice().expect("contiguous");
    let mut db = vec![0f64; c_out];
    for example in g.chunks(c_out * pixels).take(n) {
        for (o, row) in example.chunks(pixels).enumerate() {
            db[o] += f64::from(row_sum(row));
        }
    }
    flex_f32(db.into_iter().map(|v| v as f32).collect(), vec![c_out])
}

/// Σ row, in 16 interleaved partial sums (so that the loop vectorises).
pub(super) fn row_sum(row: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = row.chunks_exact(16);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

/// ∂L/∂W [C_out, C_in, kh, kw] (the shape of `weight`) and ∂L/∂b [C_out] from the input `x`
/// [N, C_in, H, W] and the output gradient `dy` [N, C_out, H', W'] (stride 1, dilation d, one
/// group), in one pass over the examples split over the threads: ∂W += dy[n] · cols_nᵀ and
/// ∂b += Σ_p dy[n, :, p] per example.
pub(super) fn parameter_gradients(
    x: &FlexTensor,
    weight: &FlexTensor,
    dy: &FlexTensor,
    options: &ConvOptions<2>,
) -> (FlexTensor, FlexTensor) {
    let x = values_f32(x);
    let dy = values_f32(dy);
    let gd = dy.shape().to_vec();
    let g = Geometry::new(&x, weight, [gd[2], gd[3]], options);
    assert_eq!(gd[1], g.c_out, "output channels");
    let Geometry {
        n,
        c_in,
        height,
        width,
        c_out,
        kh,
        kw,
        ..
    } = g;
    let (taps, pixels) = (g.taps(), g.pixels());
    let xs: &[f32] = x.as_slice().expect("contiguous");
    let gs: &[f32] = dy.as_slice().expect("contiguous");
    let threads = rayon::current_num_threads().clamp(1, n.max(1));
    let per_thread = n.div_ceil(threads).max(1);
    // add_outer_products transposes its right factor before gemm packs it: the smaller of
    // dy [C_out × pixels] and cols [taps × pixels] (in f32; the bf16 tiles convert either in
    // place), so with fewer outputs than taps each thread sums ∂Wᵀ = cols · dyᵀ instead.
    let transposed = precision() == Precision::F32 && c_out < taps;
    let examples: Vec<usize> = (0..n).collect();
    let partial_sums: Vec<(Vec<f32>, Vec<f64>)> = examples
        .par_chunks(per_thread)
        .map(|chunk| {
            let mut sum = vec![0f32; c_out * taps];
            let mut db = vec![0f64; c_out];
            let mut cols = Columns::new(&g);
            for &e in chunk {
                let input = &xs[e * c_in * height * width..][..c_in * height * width];
                let rhs = cols.of(input);
                let dy = &gs[e * c_out * pixels..][..c_out * pixels];
                for (d, row) in db.iter_mut().zip(dy.chunks(pixels)) {
                    *d += f64::from(row_sum(row));
                }
                if transposed {
                    // sum [taps × C_out] += cols [taps × pixels] · dyᵀ [pixels × C_out].
                    add_outer_products(&mut sum, (taps, c_out, pixels), rhs, dy);
                } else {
                    // sum [C_out × taps] += dy [C_out × pixels] · colsᵀ [pixels × taps].
                    add_outer_products(&mut sum, (c_out, taps, pixels), dy, rhs);
                }
            }
            (sum, db)
        })
        .collect();
    let mut dw = vec![0f32; c_out * taps];
    let mut db = vec![0f64; c_out];
    for (partial, partial_db) in &partial_sums {
        for (d, &p) in db.iter_mut().zip(partial_db) {
            *d += p;
        }
        if transposed {
            for (tap, row) in partial.chunks(c_out).enumerate() {
                for (o, &p) in row.iter().enumerate() {
                    dw[o * taps + tap] += p;
                }
            }
        } else {
            for (d, &p) in dw.iter_mut().zip(partial) {
                *d += p;
            }
        }
    }
    (
        flex_f32(dw, vec![c_out, c_in, kh, kw]),
        flex_f32(db.into_iter().map(|v| v as f32).collect(), vec![c_out]),
    )
}

/// ∂L/∂x [N, C_in, H, W] (the shape of `x`) from the weights [C_out, C_in, kh, kw] and the
/// output gradient
/// `dy` [N, C_out, H', W']: per example, cols = Wᵀ · dy[n] ((C_in·kh·kw) × C_out × (H'·W')),
/// then each tap's column added back to the input pixel it read (col2im; for a 1x1 kernel
/// without padding, cols is the gradient itself). The examples are split over the threads.
pub(super) fn input_gradient(
    x: &FlexTensor,
    weight: &FlexTensor,
    dy: &FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let weight = values_f32(weight);
    let dy = values_f32(dy);
    let gd = dy.shape().to_vec();
    let g = Geometry::new(x, &weight, [gd[2], gd[3]], options);
    let Geometry {
        n,
        c_in,
        height,
        width,
        c_out,
        ..
    } = g;
    let (taps, pixels, direct) = (g.taps(), g.pixels(), g.direct());
    let ws: &[f32] = weight.as_slice().expect("contiguous");
    let gs: &[f32] = dy.as_slice().expect("contiguous");
    let plane = c_in * height * width;
    // Every value of dx is written below (by the matrix product, or zeroed before col2im adds
    // into it), so it is not zeroed when allocated.
    let mut dx = uninit(n * plane);
    let threads = rayon::current_num_threads().clamp(1, n.max(1));
    let per_thread = n.div_ceil(threads).max(1);
    dx.par_chunks_mut(per_thread * plane)
        .zip(gs.par_chunks(per_thread * c_out * pixels))
        .for_each(|(dx, gs)| {
            // SAFETY: W [C_out × taps] is row-major in ws (read transposed: Wᵀ), which
            // outlives `weights_t`.
            let weights_t =
                unsafe { Lhs::new(taps, c_out, Operand::transposed(ws.as_ptr(), taps)) };
            let mut cols = if direct {
                Vec::new()
            } else {
                vec![0f32; taps * pixels]
            };
            for (dx, dy) in dx.chunks_mut(plane).zip(gs.chunks(c_out * pixels)) {
                let dst: *mut f32 = if direct {
                    dx.as_mut_ptr().cast()
                } else {
                    cols.as_mut_ptr()
                };
                // dst [taps × pixels] = Wᵀ [taps × C_out] · g [C_out × pixels], every value
                // written (dst is not read).
                // SAFETY: each pointer spans the matrix its strides describe (W is row-major
                // C_out × taps, read transposed); the buffers do not overlap.
                unsafe {
                    weights_t.times(
                        pixels,
                        Operand::row_major(dy.as_ptr(), pixels),
                        dst,
                        pixels as isize,
                        false,
                    );
                }
                if !direct {
                    dx.fill(MaybeUninit::new(0.0));
                    // SAFETY: every value was just initialised.
                    let dx = unsafe { initialised(dx) };
                    col2im(&cols, dx, &g);
                }
            }
        });
    // SAFETY: every value was written above.
    let dx = unsafe { assume_init(dx) };
    flex_f32(dx, vec![n, c_in, height, width])
}

/// The adjoint of [`im2col`]: x[c, i + a − top, j + b − left] += cols[(c, a, b), (i, j)] for
/// the pixels inside the image.
fn col2im(cols: &[f32], x: &mut [f32], g: &Geometry) {
    tap_rows(g, |start, span| {
        if let Some((x_start, first, last)) = span {
            let line = &mut x[x_start..][..last - first];
            for (v, &c) in line.iter_mut().zip(&cols[start + first..][..last - first]) {
                *v += c;
            }
        }
    });
}

/// The sizes of one convolution (stride 1, one group): input [N, C_in, H, W], weights
/// [C_out, C_in, kh, kw], the dilation, padding before the first row and column, and output
/// [N, C_out, H', W'].
#[derive(Debug, Clone, Copy)]
struct Geometry {
    n: usize,
    c_in: usize,
    height: usize,
    width: usize,
    c_out: usize,
    kh: usize,
    kw: usize,
    /// Rows and columns between the kernel's taps (1: adjacent).
    dilation: [usize; 2],
    top: usize,
    left: usize,
    out_height: usize,
    out_width: usize,
}

impl Geometry {
    /// From the input, the weights, the output's [H', W'] and the padding of `options`.
    fn new(
        x: &FlexTensor,
        weight: &FlexTensor,
        [out_height, out_width]: [usize; 2],
        options: &ConvOptions<2>,
    ) -> Self {
        let (xd, wd) = (x.shape(), weight.shape());
        assert_eq!(wd[1], xd[1], "weight input channels");
        let [(top, _), (left, _)] = options.padding;
        Self {
            n: xd[0],
            c_in: xd[1],
            height: xd[2],
            width: xd[3],
            c_out: wd[0],
            kh: wd[2],
            kw: wd[3],
            dilation: options.dilation,
            top,
            left,
            out_height,
            out_width,
        }
    }

    /// C_in·kh·kw: the rows of an example's im2col matrix.
    fn taps(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// H'·W': its columns.
    fn pixels(&self) -> usize {
        self.out_height * self.out_width
    }

    /// Whether the input is its own im2col matrix: a 1x1 kernel without padding.
    fn direct(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.top == 0
            && self.left == 0
            && self.pixels() == self.height * self.width
    }
}

/// One example's im2col matrix at a time, in a buffer reused from example to example (none
/// when the input is its own matrix).
struct Columns {
    buffer: Vec<f32>,
    geometry: Geometry,
}

impl Columns {
    fn new(geometry: &Geometry) -> Self {
        let size = if geometry.direct() {
            0
        } else {
            geometry.taps() * geometry.pixels()
        };
        Self {
            buffer: vec![0f32; size],
            geometry: *geometry,
        }
    }

    /// cols_n [(C_in·kh·kw) × (H'·W')] of the example `input` [C_in, H, W].
    fn of<'a>(&'a mut self, input: &'a [f32]) -> &'a [f32] {
        let g = &self.geometry;
        if g.direct() {
            return input;
        }
        im2col(input, &mut self.buffer, g);
        &self.buffer
    }
}

/// cols[(c, a, b), (i, j)] = x[c, i + a·d_h − top, j + b·d_w − left] (0 outside the image), for
/// output pixels (i, j) of an out_height × out_width grid.
fn im2col(x: &[f32], cols: &mut [f32], g: &Geometry) {
    tap_rows(g, |start, span| {
        let out = &mut cols[start..][..g.out_width];
        match span {
            None => out.fill(0.0),
            Some((x_start, first, last)) => {
                out[..first].fill(0.0);
                out[first..last].copy_from_slice(&x[x_start..][..last - first]);
                out[last..].fill(0.0);
            }
        }
    });
}

/// The traversal that [`im2col`] and [`col2im`] share: for every row (c, a, b) of the im2col
/// matrix and every output row i, `visit(start, span)` with `start` the index of column
/// (i, 0) in that row, and `span` Some((x_start, first, last)) when output columns
/// first..last read input pixels x[x_start..x_start + last − first] (the row's other columns
/// read the padding), None when the whole row reads padding.
#[inline(always)]
fn tap_rows(g: &Geometry, mut visit: impl FnMut(usize, Option<(usize, usize, usize)>)) {
    let (height, width, out_width) = (g.height, g.width, g.out_width);
    let pixels = g.pixels();
    let [dh, dw] = g.dilation;
    for c in 0..g.c_in {
        for a in 0..g.kh {
            for b in 0..g.kw {
                let row = ((c * g.kh + a) * g.kw + b) * pixels;
                // The tap's offset from the window's corner.
                let (down, right) = (a * dh, b * dw);
                for i in 0..g.out_height {
                    let r = (i + down).wrapping_sub(g.top);
                    // Columns j with 0 <= j + right − left < width read the image.
                    let first = g.left.saturating_sub(right).min(out_width);
                    let last = (width + g.left).saturating_sub(right).min(out_width);
                    let span = (r < height && first < last).then(|| {
                        (
                            (c * height + r) * width + first + right - g.left,
                            first,
                            last,
                        )
                    });
                    visit(row + i * out_width, span);
                }
            }
        }
    }
}
