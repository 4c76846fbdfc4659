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
    with_wide_simd!(accumulate_rows(x, w, inputs, outputs, y))
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
