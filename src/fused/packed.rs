//! A weight matrix packed once for the many small products y += x · W of a recurrence: one
//! per step, each with a few rows of x (the sequences of a training batch) to a few hundred
//! (an evaluation batch). `gemm` packs W again on every call, which for a few rows costs as
//! much as the product itself; here W is laid out once per forward or backward pass, in
//! panels of 16 columns (one AVX-512 register wide), each panel k rows of 16 values:
//!
//! ```text
//! panel p, row i  =  W[i, 16p .. 16p + 16]     (zeros past the last column)
//! ```
//!
//! A block of R rows of y by C panels is summed in R·C registers over all k, reading each
//! panel row once for all R rows: W streams through the core once per block of rows, and
//! its rows are contiguous, so the prefetcher keeps up.

/// Columns per panel: one AVX-512 register of f32.
const LANES: usize = 16;

/// Rows of y per block of the many-row products (with [`panels_for`] panels, 24
/// accumulators of the 32 vector registers).
const ROW_BLOCK: usize = 8;

/// Rows of W per slice of the many-row products: 3 panels of 208 rows are 39 KB, which stay
/// in a 48 KB L1 cache beside a block's rows of x.
const DEPTH: usize = 208;
const _: () = assert!(
    panels_for(ROW_BLOCK) == 3,
    "multiply_add's match covers 1 to 3 panels"
);

/// W [k × n] in panels of [`LANES`] columns (see the module's documentation).
#[derive(Debug, Clone)]
pub(super) struct PackedWeight {
    k: usize,
    n: usize,
    panels: Vec<f32>,
}

impl PackedWeight {
    /// The row-major matrix `w` with rows of `width` values, packed whole.
    pub(super) fn of(w: &[f32], width: usize) -> Self {
        Self::stacked_of(&[w], width)
    }

    /// The matrices `parts` stacked one above the other, packed whole: [`Self::of`] of
    /// [W_ih; W], so that one product [x_t | h_{t−1}] · [W_ih; W] sums both.
    pub(super) fn stacked_of(parts: &[&[f32]], width: usize) -> Self {
        Self::stacked_columns_of(parts, width, &(0..width).collect::<Vec<_>>())
    }

    /// The columns `columns` of the row-major matrix `w` with rows of `width` values, packed:
    /// column j of the packed matrix is column `columns[j]` of w.
    pub(super) fn columns_of(w: &[f32], width: usize, columns: &[usize]) -> Self {
        Self::stacked_columns_of(&[w], width, columns)
    }

    /// [`Self::columns_of`] the matrices `parts` stacked one above the other (all with rows of
    /// `width` values). A panel whose 16 columns are consecutive is copied 16 values at a time.
    pub(super) fn stacked_columns_of(parts: &[&[f32]], width: usize, columns: &[usize]) -> Self {
        assert!(
            parts.iter().all(|w| w.len() % width.max(1) == 0),
            "whole rows"
        );
        assert!(columns.iter().all(|&c| c < width), "columns of w");
        let k = parts.iter().map(|w| w.len() / width.max(1)).sum();
        let n = columns.len();
        let mut panels = vec![0f32; n.div_ceil(LANES) * k * LANES];
        for (panel, columns) in panels
            .chunks_exact_mut(k * LANES)
            .zip(columns.chunks(LANES))
        {
            let first = columns[0];
            let consecutive = columns.len() == LANES
                && columns
                    .iter()
                    .enumerate()
                    .all(|(lane, &c)| c == first + lane);
            let rows = parts.iter().flat_map(|w| w.chunks_exact(width));
            for (row, w) in panel.chunks_exact_mut(LANES).zip(rows) {
                if consecutive {
                    row.copy_from_slice(&w[first..first + LANES]);
                } else {
                    for (v, &c) in row.iter_mut().zip(columns) {
                        *v = w[c];
                    }
                }
            }
        }
        PackedWeight { k, n, panels }
    }

    /// The rows `rows` of the row-major matrix `w` with rows of `width` values, transposed
    /// and packed: the packed matrix is [width × rows.len()], its column j row `rows.start + j`
    /// of w (Wᵀ's columns, for the products da Wᵀ of backpropagation).
    pub(super) fn transposed_rows_of(
        w: &[f32],
        width: usize,
        rows: std::ops::Range<usize>,
    ) -> Self {
        let (k, n, start) = (width, rows.len(), rows.start);
        assert!(rows.end * width <= w.len(), "rows of w");
        let mut panels = vec![0f32; n.div_ceil(LANES) * k * LANES];
        for (panel, first) in panels.chunks_exact_mut(k * LANES).zip(rows.step_by(LANES)) {
            let count = LANES.min(n - (first - start));
            for lane in 0..count {
                let w = &w[(first + lane) * width..(first + lane + 1) * width];
                for (i, &v) in w.iter().enumerate() {
                    panel[i * LANES + lane] = v;
                }
            }
        }
        PackedWeight { k, n, panels }
    }

    /// y[r, j] += Σ_i x[r, i] · W[i, j] for r < `rows`, with x's rows `x_stride` values apart
    /// and y's rows `y_stride` apart (each at least as long as a row).
    pub(super) fn multiply_add(&self, x: (&[f32], usize), rows: usize, y: (&mut [f32], usize)) {
        self.product(x, rows, y, None)
    }

    /// y[r, j] = bias[j] + Σ_i x[r, i] · W[i, j]: [`Self::multiply_add`] onto the bias
    /// instead of onto y (whose values before are never read).
    pub(super) fn bias_plus_product(
        &self,
        bias: &[f32],
        x: (&[f32], usize),
        rows: usize,
        y: (&mut [f32], usize),
    ) {
        assert_eq!(bias.len(), self.n, "a bias per column");
        self.product(x, rows, y, Some(bias))
    }

    fn product(
        &self,
        (x, x_stride): (&[f32], usize),
        rows: usize,
        (y, y_stride): (&mut [f32], usize),
        bias: Option<&[f32]>,
    ) {
        if rows == 0 || self.n == 0 {
            return;
        }
        assert!(
            x_stride >= self.k && x.len() >= (rows - 1) * x_stride + self.k,
            "x holds {rows} rows of {} values {x_stride} apart",
            self.k
        );
        assert!(
            y_stride >= self.n && y.len() >= (rows - 1) * y_stride + self.n,
            "y holds {rows} rows of {} values {y_stride} apart",
            self.n
        );
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            let bias = bias.map_or(std::ptr::null(), <[f32]>::as_ptr);
            let (x, y) = ((x.as_ptr(), x_stride), (y.as_mut_ptr(), y_stride));
            // SAFETY: the processor has AVX-512 F; x and y span the rows checked above, y
            // does not overlap x (a &mut borrow), and the bias is null or n values.
            return unsafe { avx512::multiply_add(self, x, rows, y, bias) };
        }
        if let Some(bias) = bias {
            for r in 0..rows {
                y[r * y_stride..r * y_stride + self.n].copy_from_slice(bias);
            }
        }
        with_wide_simd!(multiply_add_portable(self, x, x_stride, rows, y, y_stride))
    }
}

/// Panels per block for blocks of `rows` rows: 24 accumulators at most, 8 panels at most.
const fn panels_for(rows: usize) -> usize {
    let p = 24 / rows;
    if p > 8 { 8 } else { p }
}

/// [`PackedWeight::multiply_add`] without intrinsics: row by row, panel by panel.
#[inline(always)]
fn multiply_add_portable(
    w: &PackedWeight,
    x: &[f32],
    x_stride: usize,
    rows: usize,
    y: &mut [f32],
    y_stride: usize,
) {
    for r in 0..rows {
        let x = &x[r * x_stride..r * x_stride + w.k];
        let y = &mut y[r * y_stride..r * y_stride + w.n];
        for (p, panel) in w.panels.chunks_exact(w.k * LANES).enumerate() {
            let mut sums = [0f32; LANES];
            for (&a, row) in x.iter().zip(panel.chunks_exact(LANES)) {
                for (s, &w) in sums.iter_mut().zip(row) {
                    *s += a * w;
                }
            }
            let at = p * LANES;
            let end = w.n.min(at + LANES);
            for (y, s) in y[at..end].iter_mut().zip(sums) {
                *y += s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{DEPTH, LANES, PackedWeight, ROW_BLOCK, panels_for};
    use std::arch::x86_64::*;

    /// Blocks of [`ROW_BLOCK`] rows, each group of [`panels_for`] panels (a few tens of KB)
    /// staying in the L1 cache while it meets every block; then the rows left over, in one
    /// smaller block.
    ///
    /// y = (y or the bias) + x·W.
    ///
    /// # Safety
    /// AVX-512 F; x holds `rows` rows of w.k values `x_stride` apart, y `rows` rows of w.n
    /// values `y_stride` apart, not overlapping x; `bias` is null or w.n values.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn multiply_add(
        w: &PackedWeight,
        (x, x_stride): (*const f32, usize),
        rows: usize,
        (y, y_stride): (*mut f32, usize),
        bias: *const f32,
    ) {
        const GROUP: usize = panels_for(ROW_BLOCK);
        let count = w.n.div_ceil(LANES);
        let full = rows / ROW_BLOCK * ROW_BLOCK;
        let mut p = 0;
        while full > 0 && p < count {
            let here = (count - p).min(GROUP);
            // The group's rows of W in slices of at most DEPTH (38 KB of panels), each
            // meeting every block of rows while it stays in the L1 cache; the first slice
            // starts from the bias (or y), the others from y.
            let slices = w.k.div_ceil(DEPTH).max(1);
            let depth = w.k.div_ceil(slices);
            for (s, first) in (0..w.k.max(1)).step_by(depth.max(1)).enumerate() {
                let (rows_of_w, start) = (
                    first..(first + depth).min(w.k),
                    if s == 0 { bias } else { std::ptr::null() },
                );
                for r in (0..full).step_by(ROW_BLOCK) {
                    // SAFETY: rows r .. r + ROW_BLOCK of x and y (the caller's promise);
                    // panels p .. p + here exist.
                    unsafe {
                        let (x, y) = (x.add(r * x_stride), y.add(r * y_stride));
                        let (x, y, rows_of_w) = ((x, x_stride), (y, y_stride), rows_of_w.clone());
                        match here {
                            1 => block::<ROW_BLOCK, 1>(w, p, rows_of_w, x, y, start),
                            2 => block::<ROW_BLOCK, 2>(w, p, rows_of_w, x, y, start),
                            _ => block::<ROW_BLOCK, GROUP>(w, p, rows_of_w, x, y, start),
                        }
                    }
                }
            }
            p += here;
        }
        // SAFETY: rows full .. rows of x and y (the caller's promise).
        unsafe {
            let (x, y) = (x.add(full * x_stride), y.add(full * y_stride));
            match rows - full {
                0 => {}
                1 => row_block::<1>(w, x, x_stride, y, y_stride, bias),
                2 => row_block::<2>(w, x, x_stride, y, y_stride, bias),
                3 => row_block::<3>(w, x, x_stride, y, y_stride, bias),
                4 => row_block::<4>(w, x, x_stride, y, y_stride, bias),
                5 => row_block::<5>(w, x, x_stride, y, y_stride, bias),
                6 => row_block::<6>(w, x, x_stride, y, y_stride, bias),
                _ => row_block::<7>(w, x, x_stride, y, y_stride, bias),
            }
        }
    }

    /// R rows of y over all panels, [`panels_for`]`(R)` at a time.
    ///
    /// # Safety
    /// As [`multiply_add`], for R rows.
    #[target_feature(enable = "avx512f")]
    unsafe fn row_block<const R: usize>(
        w: &PackedWeight,
        x: *const f32,
        x_stride: usize,
        y: *mut f32,
        y_stride: usize,
        bias: *const f32,
    ) {
        let count = w.n.div_ceil(LANES);
        let group = panels_for(R);
        let mut p = 0;
        while p < count {
            let here = (count - p).min(group);
            // SAFETY: panels p .. p + here exist; the caller's promise for x and y.
            unsafe {
                match here {
                    1 => block::<R, 1>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    2 => block::<R, 2>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    3 => block::<R, 3>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    4 => block::<R, 4>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    5 => block::<R, 5>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    6 => block::<R, 6>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    7 => block::<R, 7>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                    _ => block::<R, 8>(w, p, 0..w.k, (x, x_stride), (y, y_stride), bias),
                }
            }
            p += here;
        }
    }

    /// y[R rows, panels first .. first + C] = (y or the bias) + x[R rows, rows_of_w] · those
    /// panels' rows `rows_of_w`, summed in R·C
    /// registers over all k; the last panel's columns past w.n are neither read nor written
    /// in y.
    ///
    /// # Safety
    /// As [`multiply_add`], for R rows; panels first .. first + C exist.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn block<const R: usize, const C: usize>(
        w: &PackedWeight,
        first: usize,
        rows_of_w: std::ops::Range<usize>,
        (x, x_stride): (*const f32, usize),
        (y, y_stride): (*mut f32, usize),
        bias: *const f32,
    ) {
        let panel_len = w.k * LANES;
        let panels = w.panels[first * panel_len..(first + C) * panel_len].as_ptr();
        let mut sums = [[_mm512_setzero_ps(); C]; R];
        for i in rows_of_w {
            let mut row = [_mm512_setzero_ps(); C];
            for (c, row) in row.iter_mut().enumerate() {
                // SAFETY: row i of panel first + c, inside the slice taken above.
                *row = unsafe { _mm512_loadu_ps(panels.add(c * panel_len + i * LANES)) };
            }
            for (r, sums) in sums.iter_mut().enumerate() {
                // SAFETY: value i of row r of x (the caller's promise).
                let a = _mm512_set1_ps(unsafe { *x.add(r * x_stride + i) });
                for (s, &row) in sums.iter_mut().zip(&row) {
                    *s = _mm512_fmadd_ps(a, row, *s);
                }
            }
        }
        for (r, sums) in sums.iter().enumerate() {
            for (c, &s) in sums.iter().enumerate() {
                let column = (first + c) * LANES;
                let valid = (w.n - column).min(LANES);
                let mask: __mmask16 = if valid == LANES {
                    u16::MAX
                } else {
                    (1u16 << valid) - 1
                };
                // SAFETY: the valid columns of row r of y and of the bias (the caller's
                // promise); the mask leaves the others untouched.
                unsafe {
                    let at = y.add(r * y_stride + column);
                    let start = match bias.is_null() {
                        true => _mm512_maskz_loadu_ps(mask, at),
                        false => _mm512_maskz_loadu_ps(mask, bias.add(column)),
                    };
                    _mm512_mask_storeu_ps(at, mask, _mm512_add_ps(start, s));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0 - 1.0
            })
            .collect()
    }

    /// y += x·W against the plain triple loop, for row counts that exercise every row block
    /// and column counts with partial last panels, strided rows, and chosen columns.
    #[test]
    fn packed_products_equal_the_plain_sum() {
        for (rows, k, width) in [
            (1, 3, 5),
            (2, 200, 800),
            (3, 17, 33),
            (9, 40, 130),
            (19, 7, 16),
            (17, 450, 70),
        ] {
            let w = values(k * width, 1);
            let columns: Vec<usize> = (0..width).rev().step_by(2).collect();
            let n = columns.len();
            let packed = PackedWeight::columns_of(&w, width, &columns);
            let (x_stride, y_stride) = (k + 3, n + 5);
            let x = values(rows * x_stride, 2);
            let y0 = values(rows * y_stride, 3);
            let mut expected = y0.clone();
            for r in 0..rows {
                for (j, &col) in columns.iter().enumerate() {
                    let sum: f64 = (0..k)
                        .map(|i| x[r * x_stride + i] as f64 * w[i * width + col] as f64)
                        .sum();
                    expected[r * y_stride + j] += sum as f32;
                }
            }
            let check = |y: &[f32], what: &str| {
                for (i, (a, b)) in y.iter().zip(&expected).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                        "{what} ({rows}, {k}, {width}): value {i}: {a} against {b}"
                    );
                }
            };
            let mut y = y0.clone();
            packed.multiply_add((&x, x_stride), rows, (&mut y, y_stride));
            check(&y, "dispatched");
            let mut y = y0.clone();
            multiply_add_portable(&packed, &x, x_stride, rows, &mut y, y_stride);
            check(&y, "portable");
            // The same columns as rows of the transpose.
            let mut wt = vec![0f32; width * k];
            for (j, &col) in columns.iter().enumerate() {
                for i in 0..k {
                    wt[j * k + i] = w[i * width + col];
                }
            }
            let mut y = y0.clone();
            PackedWeight::transposed_rows_of(&wt, k, 0..n).multiply_add(
                (&x, x_stride),
                rows,
                (&mut y, y_stride),
            );
            check(&y, "transposed");
            // Onto a bias instead of onto y: y's values before are never read.
            let bias = values(n, 4);
            let mut y = vec![f32::NAN; rows * y_stride];
            packed.bias_plus_product(&bias, (&x, x_stride), rows, (&mut y, y_stride));
            for r in 0..rows {
                for j in 0..n {
                    let want = expected[r * y_stride + j] - y0[r * y_stride + j] + bias[j];
                    let got = y[r * y_stride + j];
                    assert!(
                        (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                        "bias: {got} against {want}"
                    );
                }
            }
        }
    }
}
