//! The per-step arithmetic of cached sequence generation on plain f32 slices: one column of
//! a convolution, the gate, ReLU. A generated step is a few hundred thousand multiply-adds
//! on vectors of 64 to 256 values, too little work for tensor operations, whose fixed cost
//! per call would set the pace ([`crate::generate::conv_cache`] calls these instead).
//!
//! Like the other kernels of this module, the loops are compiled for AVX2 where the
//! processor has it and use no fused multiply-add, so every machine computes the same
//! values.

/// y[i, :] += Σ_c x[i, c] · w[c, :] for every row i of a batch: x is [n, C_in], w is
/// [C_in, C_out] and y is [n, C_out], all row-major. Zero inputs are skipped (a one-hot
/// input costs one row of w).
pub fn accumulate(x: &[f32], w: &[f32], outputs: usize, y: &mut [f32]) {
    assert_eq!(w.len() % outputs, 0, "w holds whole rows");
    assert_eq!(y.len() % outputs, 0, "y holds whole rows");
    let inputs = w.len() / outputs;
    assert_eq!(
        x.len(),
        y.len() / outputs * inputs,
        "x has a row per row of y"
    );
    if y.len() / outputs <= FEW_ROWS {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            // 32 vector registers: twice the block, twice the independent sums.
            return with_wide_simd!(accumulate_blocked_wide(x, w, inputs, outputs, y));
        }
        with_wide_simd!(accumulate_blocked(x, w, inputs, outputs, y))
    } else {
        with_wide_simd!(accumulate_rows(x, w, inputs, outputs, y))
    }
}

/// Up to this many rows, [`accumulate`] keeps blocks of each row of y in registers.
pub(super) const FEW_ROWS: usize = 4;

/// Outputs per register block (eight AVX2 registers).
const BLOCK: usize = 64;

/// [`accumulate_rows`] for a few rows: each block of [`BLOCK`] outputs of a row is summed
/// in registers over all inputs, then stored once. The same sums in the same order (input
/// channel by input channel), so the same values.
#[inline(always)]
fn accumulate_blocked(x: &[f32], w: &[f32], inputs: usize, outputs: usize, y: &mut [f32]) {
    accumulate_in_blocks::<BLOCK>(x, w, inputs, outputs, y)
}

/// [`accumulate_blocked`] in blocks of 2·[`BLOCK`] outputs (eight AVX-512 registers); the same
/// sums in the same order, so the same values.
#[inline(always)]
fn accumulate_blocked_wide(x: &[f32], w: &[f32], inputs: usize, outputs: usize, y: &mut [f32]) {
    accumulate_in_blocks::<{ 2 * BLOCK }>(x, w, inputs, outputs, y)
}

#[inline(always)]
fn accumulate_in_blocks<const BLOCK: usize>(
    x: &[f32],
    w: &[f32],
    inputs: usize,
    outputs: usize,
    y: &mut [f32],
) {
    for (x_row, y_row) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
        let blocks = outputs / BLOCK;
        for b in 0..blocks {
            let at = b * BLOCK;
            let mut sums = [0f32; BLOCK];
            sums.copy_from_slice(&y_row[at..at + BLOCK]);
            for (c, &a) in x_row.iter().enumerate() {
                if a != 0.0 {
                    let row = &w[c * outputs + at..c * outputs + at + BLOCK];
                    for (s, &w) in sums.iter_mut().zip(row) {
                        *s += a * w;
                    }
                }
            }
            y_row[at..at + BLOCK].copy_from_slice(&sums);
        }
        let tail = blocks * BLOCK;
        for (c, &a) in x_row.iter().enumerate() {
            if a != 0.0 {
                let row = &w[c * outputs + tail..(c + 1) * outputs];
                for (y, &w) in y_row[tail..].iter_mut().zip(row) {
                    *y += a * w;
                }
            }
        }
    }
}

#[inline(always)]
fn accumulate_rows(x: &[f32], w: &[f32], inputs: usize, outputs: usize, y: &mut [f32]) {
    // Input channel by input channel, so that a row of w is read once for the whole batch.
    for (c, row) in w.chunks_exact(outputs).enumerate() {
        for (x_row, y_row) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
            let a = x_row[c];
            if a != 0.0 {
                for (y, &w) in y_row.iter_mut().zip(row) {
                    *y += a * w;
                }
            }
        }
    }
}

/// y = tanh(a) · σ(b), element by element (the gate of WaveNet).
pub fn gate(a: &[f32], b: &[f32], y: &mut [f32]) {
    assert!(
        a.len() == b.len() && b.len() == y.len(),
        "a, b and y of one length"
    );
    with_wide_simd!(gate_values(a, b, y))
}

#[inline(always)]
fn gate_values(a: &[f32], b: &[f32], y: &mut [f32]) {
    // SAFETY: MaybeUninit<f32> has f32's layout, and the gate writes an initialised value
    // into every one (never an uninitialised one), so y stays initialised.
    let y = unsafe { &mut *(std::ptr::from_mut(y) as *mut [std::mem::MaybeUninit<f32>]) };
    super::gate(a, b, y)
}

/// y += v, element by element.
pub fn add(y: &mut [f32], v: &[f32]) {
    assert_eq!(y.len(), v.len(), "y and v of one length");
    with_wide_simd!(add_values(y, v))
}

#[inline(always)]
fn add_values(y: &mut [f32], v: &[f32]) {
    for (y, &v) in y.iter_mut().zip(v) {
        *y += v;
    }
}

/// y = max(y, 0), element by element.
pub fn relu(y: &mut [f32]) {
    for y in y.iter_mut() {
        *y = y.max(0.0);
    }
}

/// [`accumulate`] for products of any size: y [n, C_out] += x [n, C_in] · w [C_in, C_out]
/// (row-major); products of more than [`LARGE_PRODUCT`] multiply-adds go to the `gemm`
/// crate on all cores, smaller ones to [`accumulate`].
pub fn multiply_add(x: &[f32], w: &[f32], outputs: usize, y: &mut [f32]) {
    let inputs = w.len() / outputs.max(1);
    let rows = y.len() / outputs.max(1);
    if rows * inputs * outputs <= LARGE_PRODUCT {
        return accumulate(x, w, outputs, y);
    }
    gemm_add(x, w, outputs, y, gemm::Parallelism::Rayon(0));
}

/// y [n, C_out] += x [n, C_in] · w [C_in, C_out] (row-major) through the `gemm` crate, on
/// the cores `parallelism` gives it: what [`multiply_add`], the GRU's input projection and
/// the benches share ([`gemm_rows`] with contiguous rows).
pub fn gemm_add(
    x: &[f32],
    w: &[f32],
    outputs: usize,
    y: &mut [f32],
    parallelism: gemm::Parallelism,
) {
    let rows = y.len() / outputs.max(1);
    assert_eq!(y.len(), rows * outputs, "y holds whole rows");
    assert_eq!(
        x.len(),
        rows * (w.len() / outputs.max(1)),
        "x has a row per row of y"
    );
    gemm_rows(x, w, outputs, y, outputs, parallelism);
}

/// Rows of y += x [n, C_in] · w [C_in, C_out] (row-major) where y's rows lie `row_stride`
/// values apart (≥ C_out): the one checked call of `gemm`.
pub fn gemm_rows(
    x: &[f32],
    w: &[f32],
    outputs: usize,
    y: &mut [f32],
    row_stride: usize,
    parallelism: gemm::Parallelism,
) {
    let inputs = w.len() / outputs.max(1);
    let rows = x.len() / inputs.max(1);
    assert_eq!(x.len(), rows * inputs, "x holds whole rows");
    assert_eq!(w.len(), inputs * outputs, "w holds whole rows");
    if rows == 0 || outputs == 0 {
        return;
    }
    assert!(
        row_stride >= outputs && y.len() >= (rows - 1) * row_stride + outputs,
        "y holds a row per row of x"
    );
    // SAFETY: x and w are the row-major matrices their lengths describe, y spans rows − 1
    // strides and a row (checked above), and y does not overlap x or w (a &mut borrow).
    unsafe {
        add_strided_product(
            (rows, outputs, inputs),
            (y.as_mut_ptr(), row_stride),
            (x.as_ptr(), inputs, 1),
            (w.as_ptr(), outputs, 1),
            parallelism,
        )
    }
}

/// y [m × n] += aᵀ b for a [k × m] and b [k × n], row-major, through `gemm` on all cores,
/// reading a in place (no transposed copy): the weight gradients xᵀ dy.
pub fn transposed_times_add(a: &[f32], b: &[f32], (m, n): (usize, usize), y: &mut [f32]) {
    let k = a.len() / m.max(1);
    assert!(
        a.len() == k * m && b.len() == k * n && y.len() == m * n,
        "a [k, m], b [k, n], y [m, n]"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: a, b and y are the row-major matrices their lengths describe (checked above);
    // A's value (i, l) is a[l·m + i]; y does not overlap a or b (a &mut borrow).
    unsafe {
        add_strided_product(
            (m, n, k),
            (y.as_mut_ptr(), n),
            (a.as_ptr(), 1, m),
            (b.as_ptr(), n, 1),
            gemm::Parallelism::Rayon(0),
        )
    }
}

/// y [m × n] += a bᵀ for a [m × k] and b [n × k], row-major, through `gemm` on all cores,
/// reading b in place (no transposed copy): the input gradients dy Wᵀ.
pub fn times_transposed_add(a: &[f32], b: &[f32], n: usize, y: &mut [f32]) {
    let m = y.len() / n.max(1);
    let k = a.len() / m.max(1);
    assert!(
        a.len() == m * k && b.len() == n * k && y.len() == m * n,
        "a [m, k], b [n, k], y [m, n]"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: as in `transposed_times_add`; B's value (l, j) is b[j·k + l].
    unsafe {
        add_strided_product(
            (m, n, k),
            (y.as_mut_ptr(), n),
            (a.as_ptr(), k, 1),
            (b.as_ptr(), 1, k),
            gemm::Parallelism::Rayon(0),
        )
    }
}

/// y [m × n] += A [m × k] · B [k × n] through `gemm`, y's value (i, j) at `y + i·y_row + j`,
/// A's (i, l) at `a + i·a_row + l·a_col`, B's (l, j) at `b + l·b_row + j·b_col`: the one call
/// of `gemm` behind [`gemm_rows`], [`transposed_times_add`] and [`times_transposed_add`].
///
/// # Safety
/// Every value the shapes and strides describe must be readable (A, B) or writable (y), and
/// y must not overlap A or B.
unsafe fn add_strided_product(
    (m, n, k): (usize, usize, usize),
    (y, y_row): (*mut f32, usize),
    (a, a_row, a_col): (*const f32, usize, usize),
    (b, b_row, b_col): (*const f32, usize, usize),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's promise. gemm takes each matrix's column stride, then its row
    // stride; alpha = 1 keeps y, beta = 1 adds the product.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            y,
            1,
            y_row as isize,
            true,
            a,
            a_col as isize,
            a_row as isize,
            b,
            b_col as isize,
            b_row as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Multiply-adds above which [`multiply_add`] hands a product to `gemm` on all cores.
pub const LARGE_PRODUCT: usize = 1 << 20;
