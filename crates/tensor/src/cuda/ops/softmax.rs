//! Softmax, log-softmax and cross-entropy on the GPU (`kernels/softmax.cu`): one block per row
//! of the `[rows, cols]` matrix with the softmax axis last (another axis is moved last first).

use crate::cuda::kernels::{
    CROSS_ENTROPY_BACKWARD, CROSS_ENTROPY_FORWARD, SOFTMAX_BACKWARD, SOFTMAX_FORWARD,
};
use crate::cuda::launch::{self, as_i64, common_device, launch, upload, Output};
use crate::error::{Result, TensorError};
use crate::ops::softmax::Reduction;
use crate::{Float, Tensor};

/// `x` with `axis` moved last, dense, and the permutation that undoes it.
fn axis_last<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    axis: usize,
) -> Result<(Tensor<E>, Vec<usize>)> {
    let rank = x.rank();
    let mut order: Vec<usize> = (0..rank).filter(|&a| a != axis).collect();
    order.push(axis);
    let moved = super::elementwise::contiguous(op, &x.permute(&order)?)?;
    let mut inverse = vec![0; rank];
    for (position, &a) in order.iter().enumerate() {
        inverse[a] = position;
    }
    Ok((moved, inverse))
}

/// Softmax (or log-softmax when `log`) along `axis`.
pub(crate) fn forward<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    axis: usize,
    log: bool,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    if x.rank() == 0 {
        return Err(TensorError::invalid(op, "a rank-0 tensor has no axis"));
    }
    let (moved, inverse) = axis_last(op, x, axis)?;
    let cols = moved.shape()[moved.rank() - 1];
    let rows = moved.numel().checked_div(cols).unwrap_or(0);
    let mut y = Output::<E>::new(op, &device, moved.numel())?;
    if rows > 0 {
        let x_view = launch::dense_view(op, &moved)?;
        let (cols, log) = (as_i64(cols), i32::from(log));
        let mut y_view = y.view_mut();
        // grid: [rows], block: [256]; y: [rows, cols]
        launch!(op, device, SOFTMAX_FORWARD, E, launch::per_block(rows); &x_view, &mut y_view, &cols, &log)?;
    }
    let y = y.into_tensor(moved.shape());
    super::elementwise::contiguous(op, &y.permute(&inverse)?)
}

/// Backward of softmax (or log-softmax when `log`) from its output along `axis`.
pub(crate) fn backward<E: Float>(
    op: &'static str,
    y: &Tensor<E>,
    dy: &Tensor<E>,
    axis: usize,
    log: bool,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[y, dy])?;
    let (y_moved, inverse) = axis_last(op, y, axis)?;
    let (dy_moved, _) = axis_last(op, dy, axis)?;
    let cols = y_moved.shape()[y_moved.rank() - 1];
    let rows = y_moved.numel().checked_div(cols).unwrap_or(0);
    let mut dx = Output::<E>::new(op, &device, y_moved.numel())?;
    if rows > 0 {
        let (y_view, dy_view) = (
            launch::dense_view(op, &y_moved)?,
            launch::dense_view(op, &dy_moved)?,
        );
        let (cols, log) = (as_i64(cols), i32::from(log));
        let mut dx_view = dx.view_mut();
        // grid: [rows], block: [256]; dx: [rows, cols]
        launch!(op, device, SOFTMAX_BACKWARD, E, launch::per_block(rows); &y_view, &dy_view, &mut dx_view, &cols, &log)?;
    }
    let dx = dx.into_tensor(y_moved.shape());
    super::elementwise::contiguous(op, &dx.permute(&inverse)?)
}

fn labels(op: &'static str, targets: &[usize]) -> Result<Vec<i32>> {
    targets
        .iter()
        .map(|&t| {
            i32::try_from(t).map_err(|_| {
                TensorError::invalid(op, format!("target {t} does not fit the CUDA kernel"))
            })
        })
        .collect()
}

/// Cross-entropy of `[N, C]` logits against `targets` (checked by the entry point), reduced.
pub(crate) fn cross_entropy<E: Float>(
    op: &'static str,
    logits: &Tensor<E>,
    targets: &[usize],
    reduction: Reduction,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[logits])?;
    let x = super::elementwise::contiguous(op, logits)?;
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let mut loss = Output::<E>::new(op, &device, rows)?;
    if rows > 0 {
        let label_buffer = upload(op, &device, &labels(op, targets)?)?;
        let x_view = launch::dense_view(op, &x)?;
        let cols = as_i64(cols);
        let mut loss_view = loss.view_mut();
        // grid: [rows], block: [256]; loss: [rows]
        launch!(op, device, CROSS_ENTROPY_FORWARD, E, launch::per_block(rows); &x_view, &label_buffer, &mut loss_view, &cols)?;
    }
    let loss = loss.into_tensor(&[rows]);
    let scale = match reduction {
        Reduction::Mean => 1.0 / rows as f64,
        Reduction::Sum => 1.0,
    };
    super::reduce::sum(op, &loss, &[true], &[], scale)
}

/// `g·(softmax(x) − onehot(t))`, divided by N for the mean.
pub(crate) fn cross_entropy_backward<E: Float>(
    op: &'static str,
    logits: &Tensor<E>,
    targets: &[usize],
    reduction: Reduction,
    grad_loss: E,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[logits])?;
    let x = super::elementwise::contiguous(op, logits)?;
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let mut dx = Output::<E>::new(op, &device, rows * cols)?;
    if rows * cols > 0 {
        let label_buffer = upload(op, &device, &labels(op, targets)?)?;
        let x_view = launch::dense_view(op, &x)?;
        let scale = E::from_f64(match reduction {
            Reduction::Mean => grad_loss.to_f64() / rows as f64,
            Reduction::Sum => grad_loss.to_f64(),
        });
        let cols = as_i64(cols);
        let mut dx_view = dx.view_mut();
        // grid: [rows], block: [256]; dx: [rows, cols]
        launch!(op, device, CROSS_ENTROPY_BACKWARD, E, launch::per_block(rows); &x_view, &label_buffer, &mut dx_view, &cols, &scale)?;
    }
    Ok(dx.into_tensor(x.shape()))
}
