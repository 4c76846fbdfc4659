//! The small dense linear algebra that the closed-form fits need: Cholesky factorisation
//! of a symmetric positive definite matrix, solves with it, and its inverse.

/// A symmetric positive definite n x n matrix A, row-major, factored as A = L Lᵀ.
#[derive(Debug, Clone)]
pub struct Cholesky {
    n: usize,
    /// Lower triangle of L, row-major n x n (the upper part is zero).
    l: Vec<f64>,
}

impl Cholesky {
    /// Factors the leading `n` x `n` block of the row-major matrix `a` with row stride
    /// `stride`. `None` if the block is not (numerically) positive definite.
    pub fn factor(a: &[f64], stride: usize, n: usize) -> Option<Cholesky> {
        let mut l = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..=i {
                let mut sum = a[i * stride + j];
                for k in 0..j {
                    sum -= l[i * n + k] * l[j * n + k];
                }
                if i == j {
                    // A pivot this small relative to the diagonal entry means a singular block.
                    if sum.is_nan() || sum <= 1e-12 * a[i * stride + i].abs() || !sum.is_finite() {
                        return None;
                    }
                    l[i * n + i] = sum.sqrt();
                } else {
                    l[i * n + j] = sum / l[j * n + j];
                }
            }
        }
        Some(Cholesky { n, l })
    }

    /// Solves A x = b.
    pub fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        let mut y = b[..n].to_vec();
        for i in 0..n {
            for k in 0..i {
                y[i] -= self.l[i * n + k] * y[k];
            }
            y[i] /= self.l[i * n + i];
        }
        for i in (0..n).rev() {
            for k in i + 1..n {
                y[i] -= self.l[k * n + i] * y[k];
            }
            y[i] /= self.l[i * n + i];
        }
        y
    }

    /// The diagonal of A⁻¹ (column i of A⁻¹ is the solution of A x = e_i).
    pub fn inverse_diagonal(&self) -> Vec<f64> {
        (0..self.n)
            .map(|i| {
                let mut e = vec![0.0; self.n];
                e[i] = 1.0;
                self.solve(&e)[i]
            })
            .collect()
    }
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
    }

    #[test]
    fn rejects_a_singular_matrix() {
        assert!(Cholesky::factor(&[1.0, 1.0, 1.0, 1.0], 2, 2).is_none());
    }
}
