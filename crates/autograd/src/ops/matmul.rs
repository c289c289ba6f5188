//! The matrix product with `torch.matmul` semantics (batched, broadcasting batch axes, 1-D
//! operands as a row or a column), on the tensor crate's GEMM.
//!
//! For plain matrices `Y = A·B` (`[m, k]·[k, n]`), `Y[i, j] = Σ_p A[i, p]·B[p, j]`, so
//! `∂Y[i, j]/∂A[i, p] = B[p, j]` and `∂Y[i, j]/∂B[p, j] = A[i, p]`; summing against `dY`:
//!
//! ```text
//! dA = dY · Bᵀ     [m, k] = [m, n]·[n, k]
//! dB = Aᵀ · dY     [k, n] = [k, m]·[m, n]
//! ```
//!
//! Batched, each matrix of the batch gets these; a batch axis that was broadcast in the forward
//! sums its gradients back (`sum_to_shape`), and a 1-D operand, treated as `[1, k]` (left) or
//! `[k, 1]` (right), gets its axis removed again. The transposes are views: the GEMM reads them
//! in place.

use unravel_tensor::{Float, Tensor};

use crate::error::{AutogradError, Result};
use crate::op::{BackwardRule, InputGradients, Op};
use crate::var::Var;

/// Record of a matmul: A kept if B needs a gradient, B kept if A does.
pub(crate) struct MatmulRecord<E: Float> {
    lhs: Option<usize>,
    rhs: Option<usize>,
    lhs_shape: Vec<usize>,
    rhs_shape: Vec<usize>,
    /// The output's shape with the axes of 1-D operands put back (`[…, m, n]`).
    matrix_output_shape: Vec<usize>,
    lhs_value: Option<Tensor<E>>,
    rhs_value: Option<Tensor<E>>,
}

/// A 1-D left operand as a `[1, k]` row, a 1-D right operand as a `[k, 1]` column.
fn as_matrix<E: Float>(tensor: &Tensor<E>, left: bool) -> Result<Tensor<E>> {
    Ok(match (tensor.rank(), left) {
        (1, true) => tensor.unsqueeze(0)?,
        (1, false) => tensor.unsqueeze(1)?,
        _ => tensor.clone(),
    })
}

/// The last two axes swapped (a view).
fn transpose_matrices<E: Float>(tensor: &Tensor<E>) -> Result<Tensor<E>> {
    let rank = tensor.rank();
    Ok(tensor.transpose(rank - 2, rank - 1)?)
}

/// `shape` of a rank-1 operand as the matrix it stands for.
fn matrix_shape(shape: &[usize], left: bool) -> Vec<usize> {
    match (shape.len(), left) {
        (1, true) => vec![1, shape[0]],
        (1, false) => vec![shape[0], 1],
        _ => shape.to_vec(),
    }
}

impl<E: Float> BackwardRule<E> for MatmulRecord<E> {
    fn name(&self) -> &'static str {
        "matmul"
    }

    /// `dA = unbroadcast(dY·Bᵀ)`, `dB = unbroadcast(Aᵀ·dY)`, batched.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()> {
        let grad = grad_output.reshape(&self.matrix_output_shape)?; // [..., m, n]
        gradients.give(self.lhs, || {
            let b = as_matrix(saved(&self.rhs_value)?, false)?; // [..., k, n]
            let grad_a = grad.matmul(&transpose_matrices(&b)?)?; // [..., m, k]
            let grad_a = grad_a.sum_to_shape(&matrix_shape(&self.lhs_shape, true))?;
            Ok(grad_a.reshape(&self.lhs_shape)?)
        })?;
        gradients.give(self.rhs, || {
            let a = as_matrix(saved(&self.lhs_value)?, true)?; // [..., m, k]
            let grad_b = transpose_matrices(&a)?.matmul(&grad)?; // [..., k, n]
            let grad_b = grad_b.sum_to_shape(&matrix_shape(&self.rhs_shape, false))?;
            Ok(grad_b.reshape(&self.rhs_shape)?)
        })
    }

    fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        self.lhs_value.iter().chain(&self.rhs_value).collect()
    }
}

fn saved<E: Float>(value: &Option<Tensor<E>>) -> Result<&Tensor<E>> {
    value.as_ref().ok_or_else(|| {
        AutogradError::invalid(
            "matmul",
            "backward needs a tensor that was not saved (internal error)",
        )
    })
}

impl<E: Float> Var<E> {
    /// `self · other` with `torch.matmul` semantics: `[…, m, k]·[…, k, n] → […, m, n]`, batch
    /// axes broadcast, 1-D operands as a row (left) or a column (right).
    ///
    /// ```
    /// use unravel_autograd::Tape;
    /// use unravel_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let a = tape.leaf(Tensor::from_vec(vec![1.0, 2.0], &[1, 2])?);
    /// let b = tape.leaf(Tensor::from_vec(vec![3.0, 4.0], &[2, 1])?);
    /// let y = a.matmul(&b)?; // [[11]]
    /// let gradients = tape.backward(&y)?;
    /// assert_eq!(gradients.get(&a).unwrap().to_vec(), vec![3.0, 4.0]); // dY·Bᵀ
    /// assert_eq!(gradients.get(&b).unwrap().to_vec(), vec![1.0, 2.0]); // Aᵀ·dY
    /// # Ok::<(), unravel_autograd::AutogradError>(())
    /// ```
    pub fn matmul(&self, other: &Var<E>) -> Result<Var<E>> {
        let value = self.value().matmul(other.value())?;
        let mut matrix_output_shape = value.shape().to_vec();
        if other.value().rank() == 1 {
            matrix_output_shape.push(1);
        }
        if self.value().rank() == 1 {
            let position = matrix_output_shape.len() - 1;
            matrix_output_shape.insert(position, 1);
        }
        self.tape()
            .record("matmul", value, &[self, other], |inputs| {
                Op::Matmul(MatmulRecord {
                    lhs: inputs[0],
                    rhs: inputs[1],
                    lhs_shape: self.shape().to_vec(),
                    rhs_shape: other.shape().to_vec(),
                    matrix_output_shape,
                    lhs_value: inputs[1].map(|_| self.value().clone()),
                    rhs_value: inputs[0].map(|_| other.value().clone()),
                })
            })
    }
}
