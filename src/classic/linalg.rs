//! The small dense linear algebra that the closed-form fits need, on nalgebra: the Cholesky
//! factorisation of a symmetric positive definite block (the normal equations of the AR
//! fits and of order selection), and least squares by Householder QR of a design matrix
//! (the ARX fit).

use nalgebra::{DMatrix, DVector, Dyn};

/// The relative size below which a pivot counts as zero: a block whose Cholesky pivot
/// l_ii² falls below `PIVOT_TOLERANCE` · a_ii (or a design whose QR diagonal r_ii² falls
/// below it times the squared norm of column i) is treated as singular.
const PIVOT_TOLERANCE: f64 = 1e-12;

/// A symmetric positive definite n x n matrix A, factored as A = L Lᵀ.
#[derive(Debug, Clone)]
pub struct Cholesky {
    chol: nalgebra::linalg::Cholesky<f64, Dyn>,
}

impl Cholesky {
    /// Factors the leading `n` x `n` block of the row-major matrix `a` with row stride
    /// `stride`. `None` if the block is not (numerically) positive definite: a pivot
    /// l_ii² ≤ 1e-12 · a_ii means a singular block.
    pub fn factor(a: &[f64], stride: usize, n: usize) -> Option<Cholesky> {
        let m = DMatrix::from_fn(n, n, |i, j| a[i * stride + j]);
        let diagonal = m.diagonal();
        let chol = m.cholesky()?;
        let l = chol.l_dirty();
        for i in 0..n {
            let pivot = l[(i, i)] * l[(i, i)];
            if pivot.is_nan() || !pivot.is_finite() || pivot <= PIVOT_TOLERANCE * diagonal[i].abs()
            {
                return None;
            }
        }
        Some(Cholesky { chol })
    }

    /// Solves A x = b (the first n values of `b`).
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.chol.l_dirty().nrows();
        let b = DVector::from_column_slice(&b[..n]);
        self.chol.solve(&b).iter().copied().collect()
    }

    /// The diagonal of A⁻¹.
    pub fn inverse_diagonal(&self) -> Vec<f64> {
        self.chol.inverse().diagonal().iter().copied().collect()
    }
}

/// The least-squares solution of X β ≈ y by Householder QR of X (never forming XᵀX), with
/// the diagonal of (XᵀX)⁻¹ = R⁻¹R⁻ᵀ (the squared norms of the rows of R⁻¹).
#[derive(Debug, Clone, PartialEq)]
pub struct LeastSquares {
    /// β.
    pub beta: Vec<f64>,
    /// The diagonal of (XᵀX)⁻¹.
    pub inverse_gram_diagonal: Vec<f64>,
}

/// Solves min ‖X β - y‖² for the row-major `rows` x `cols` design `x`. `None` if X does
/// not have full column rank (numerically: r_ii² ≤ 1e-12 ‖X_i‖² for some column i) or has
/// fewer rows than columns.
pub fn least_squares(x: &[f64], rows: usize, cols: usize, y: &[f64]) -> Option<LeastSquares> {
    if rows < cols || x.len() != rows * cols || y.len() != rows {
        return None;
    }
    let design = DMatrix::from_row_slice(rows, cols, x);
    let norms: Vec<f64> = (0..cols).map(|j| design.column(j).norm_squared()).collect();
    let qr = design.qr();
    let r = qr.r();
    for (j, norm) in norms.iter().enumerate() {
        let rjj = r[(j, j)] * r[(j, j)];
        if rjj.is_nan() || !rjj.is_finite() || rjj <= PIVOT_TOLERANCE * norm {
            return None;
        }
    }
    let qty = qr.q().transpose() * DVector::from_column_slice(y);
    let beta = r.solve_upper_triangular(&qty)?;
    let r_inv = r.solve_upper_triangular(&DMatrix::identity(cols, cols))?;
    Some(LeastSquares {
        beta: beta.iter().copied().collect(),
        inverse_gram_diagonal: (0..cols).map(|i| r_inv.row(i).norm_squared()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_known_system() {
        // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]], x = [1, -2, 3] → b = A x.
        let a = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0];
        let b = [0.0, -5.0, 7.0];
        let x = Cholesky::factor(&a, 3, 3).unwrap().solve(&b);
        for (got, want) in x.iter().zip([1.0, -2.0, 3.0]) {
            assert!((got - want).abs() < 1e-12, "{x:?}");
        }
        // The leading 2 x 2 block alone.
        let x2 = Cholesky::factor(&a, 3, 2).unwrap().solve(&[8.0, 9.0]);
        assert!((x2[0] - 1.375).abs() < 1e-12 && (x2[1] - 1.25).abs() < 1e-12);
        // diag(A⁻¹) of [[4, 2], [2, 5]]: det 16, so [5/16, 4/16].
        let d = Cholesky::factor(&a, 3, 2).unwrap().inverse_diagonal();
        assert!((d[0] - 5.0 / 16.0).abs() < 1e-12 && (d[1] - 0.25).abs() < 1e-12);
    }

    #[test]
    fn rejects_a_singular_matrix() {
        assert!(Cholesky::factor(&[1.0, 1.0, 1.0, 1.0], 2, 2).is_none());
        assert!(least_squares(&[1.0, 2.0, 1.0, 2.0, 1.0, 2.0], 3, 2, &[1.0, 2.0, 3.0]).is_none());
    }

    #[test]
    fn least_squares_fits_a_line() {
        // y = 1 + 2 t exactly at t = 0..3, plus a residual orthogonal to [1, t].
        let x = [1.0, 0.0, 1.0, 1.0, 1.0, 2.0, 1.0, 3.0];
        let y = [1.0 + 1.0, 3.0 - 1.0, 5.0 - 1.0, 7.0 + 1.0];
        let ls = least_squares(&x, 4, 2, &y).unwrap();
        assert!((ls.beta[0] - 1.0).abs() < 1e-12 && (ls.beta[1] - 2.0).abs() < 1e-12);
        // XᵀX = [[4, 6], [6, 14]], det 20: diag of the inverse [14/20, 4/20].
        assert!((ls.inverse_gram_diagonal[0] - 0.7).abs() < 1e-12);
        assert!((ls.inverse_gram_diagonal[1] - 0.2).abs() < 1e-12);
    }
}
