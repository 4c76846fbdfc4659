//! Out-of-place transposition of row-major f32 matrices: dst[j, i] = src[i, j].
//!
//! A weight gradient ∂W += ∂y · colsᵀ reads its right factor transposed, and `gemm` gathers
//! such a factor one value at a time while it packs it (one load and one store per value). In
//! 16 × 16 blocks held in AVX-512 registers a transposition moves about four values per
//! nanosecond while the matrix stays in L2 (measured on a Sapphire Rapids core; below one
//! beyond it), after which `gemm` packs contiguous rows.

/// Values per block side: one AVX-512 register of f32.
const BLOCK: usize = 16;

/// dst [cols × rows] (row-major, rows of `rows` values) = srcᵀ for src [rows × cols] whose
/// rows start `src_row` values apart.
pub(super) fn transpose(
    src: &[f32],
    (rows, cols): (usize, usize),
    src_row: usize,
    dst: &mut [f32],
) {
    assert!(
        src_row >= cols && (rows == 0 || src.len() >= (rows - 1) * src_row + cols),
        "{rows} rows of {cols} values, {src_row} apart, in {} values",
        src.len()
    );
    assert!(dst.len() >= rows * cols, "the transpose's buffer");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512 F; the shapes were checked above.
        unsafe { blocks_avx512(src, (rows, cols), src_row, dst) };
        let (full_rows, full_cols) = (rows / BLOCK * BLOCK, cols / BLOCK * BLOCK);
        plain(src, (0..full_rows, full_cols..cols), src_row, rows, dst);
        plain(src, (full_rows..rows, 0..cols), src_row, rows, dst);
        return;
    }
    plain(src, (0..rows, 0..cols), src_row, rows, dst);
}

/// The transposition of src's values in `rows` × `cols`, one value at a time (dst's rows
/// hold `dst_row` values).
fn plain(
    src: &[f32],
    (rows, cols): (std::ops::Range<usize>, std::ops::Range<usize>),
    src_row: usize,
    dst_row: usize,
    dst: &mut [f32],
) {
    for i in rows {
        for j in cols.clone() {
            dst[j * dst_row + i] = src[i * src_row + j];
        }
    }
}

/// The full 16 × 16 blocks of the transposition, each loaded into 16 registers, transposed
/// there ([`transpose_16x16`]) and stored as 16 rows of dst.
///
/// # Safety
/// The CPU must have AVX-512 F, and the shapes must be [`transpose`]'s, checked.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn blocks_avx512(
    src: &[f32],
    (rows, cols): (usize, usize),
    src_row: usize,
    dst: &mut [f32],
) {
    use std::arch::x86_64::*;
    for r in (0..rows / BLOCK).map(|b| b * BLOCK) {
        for c in (0..cols / BLOCK).map(|b| b * BLOCK) {
            let mut block = [_mm512_setzero_si512(); BLOCK];
            for (i, row) in block.iter_mut().enumerate() {
                // SAFETY: values (r + i, c .. c + 16) lie in src (r + 16 ≤ rows, c + 16 ≤
                // cols).
                *row =
                    unsafe { _mm512_loadu_si512(src.as_ptr().add((r + i) * src_row + c).cast()) };
            }
            transpose_16x16(&mut block);
            for (j, row) in block.iter().enumerate() {
                // SAFETY: values (c + j, r .. r + 16) lie in dst [cols × rows].
                unsafe {
                    _mm512_storeu_si512(dst.as_mut_ptr().add((c + j) * rows + r).cast(), *row)
                };
            }
        }
    }
}

/// Transposes a 16 × 16 matrix of 32-bit values held one row per register: four stages,
/// each exchanging bit s of the row index with bit s of the column index (s = 1, 2, 4, 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) fn transpose_16x16(rows: &mut [std::arch::x86_64::__m512i; 16]) {
    use std::arch::x86_64::*;
    for s in [1usize, 2, 4, 8] {
        // For rows i (bit s clear) and i + s: the new row i takes columns with bit s clear
        // from row i and the others from row i + s, shifted; the new row i + s the rest.
        let low: [u32; 16] = std::array::from_fn(|j| {
            if j & s == 0 {
                j as u32
            } else {
                (16 + j - s) as u32
            }
        });
        let high: [u32; 16] = std::array::from_fn(|j| {
            if j & s == 0 {
                (j + s) as u32
            } else {
                (16 + j) as u32
            }
        });
        // SAFETY: unaligned loads of 64 bytes.
        let (low, high) = unsafe {
            (
                _mm512_loadu_si512(low.as_ptr().cast()),
                _mm512_loadu_si512(high.as_ptr().cast()),
            )
        };
        for i in (0..16).filter(|i| i & s == 0) {
            let (a, b) = (rows[i], rows[i + s]);
            rows[i] = _mm512_permutex2var_epi32(a, low, b);
            rows[i + s] = _mm512_permutex2var_epi32(a, high, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape from empty to several blocks with ragged edges, rows read with and without
    /// a gap between them: each value lands where the plain definition puts it.
    #[test]
    fn transposes_every_value_to_its_place() {
        for rows in [0, 1, 3, 15, 16, 17, 33, 40] {
            for cols in [0, 1, 7, 16, 31, 48, 50] {
                for gap in [0, 5] {
                    let src_row = cols + gap;
                    let src: Vec<f32> = (0..rows * src_row).map(|v| v as f32).collect();
                    let mut dst = vec![f32::NAN; rows * cols];
                    transpose(&src, (rows, cols), src_row, &mut dst);
                    for i in 0..rows {
                        for j in 0..cols {
                            assert_eq!(
                                dst[j * rows + i],
                                src[i * src_row + j],
                                "{rows} x {cols}, gap {gap}: value ({i}, {j})"
                            );
                        }
                    }
                }
            }
        }
    }
}
