//! Batch normalisation on the GPU (`kernels/batch_norm.cu`): one-pass Welford statistics per
//! channel, the normalising pass (optionally fused with ReLU), the backward passes (training
//! and evaluation mode) and the running-statistics update.

use std::sync::Arc;

use crate::cuda::kernels::{
    BN_BACKWARD_INPUT, BN_BACKWARD_REDUCE, BN_EVAL_BACKWARD_INPUT, BN_FORWARD, BN_INVSTD,
    BN_RUNNING_UPDATE, BN_STATISTICS,
};
use crate::cuda::launch::{self, as_i32, as_i64, common_device, launch, Output};
use crate::cuda::CudaDevice;
use crate::error::Result;
use crate::ops::batch_norm::{BatchNormGrads, BatchNormTrain};
use crate::{Float, Tensor};

/// `(batch, channels, spatial)` of an `[N, C, …]` input, as the entry point checked it.
pub(crate) type Channels = (usize, usize, usize);

/// A per-channel tensor: `given` made dense on the GPU, or `value` everywhere.
fn per_channel<E: Float>(
    op: &'static str,
    given: Option<&Tensor<E>>,
    channels: usize,
    value: f64,
    ordinal: usize,
) -> Result<Tensor<E>> {
    match given {
        Some(tensor) => super::elementwise::contiguous(op, tensor),
        None => super::elementwise::full(&[channels], E::from_f64(value), ordinal),
    }
}

fn ordinal<E: Float>(x: &Tensor<E>) -> usize {
    match x.device() {
        crate::Device::Cuda(ordinal) => ordinal,
        crate::Device::Cpu => 0,
    }
}

/// `y = γ·(x − mean)·invstd + β` (ReLU after it if `relu`), all per channel.
#[allow(clippy::too_many_arguments)]
fn normalize<E: Float>(
    op: &'static str,
    x: &Tensor<E>,
    mean: &Tensor<E>,
    invstd: &Tensor<E>,
    gamma: &Tensor<E>,
    beta: &Tensor<E>,
    layout: Channels,
    relu: bool,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[x])?;
    let (_, channels, spatial) = layout;
    let total = x.numel();
    let mut y = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let views = [
            launch::dense_view(op, x)?,
            launch::dense_view(op, mean)?,
            launch::dense_view(op, invstd)?,
            launch::dense_view(op, gamma)?,
            launch::dense_view(op, beta)?,
        ];
        let (count, channels, plane, relu) = (
            as_i64(total),
            as_i32(op, channels)?,
            as_i64(spatial),
            i32::from(relu),
        );
        let mut y_view = y.view_mut();
        // grid: [ceil(N·C·S/256)], block: [256]; y: [N, C, S]
        launch!(op, device, BN_FORWARD, E, launch::linear(total);
            &views[0], &views[1], &views[2], &views[3], &views[4], &mut y_view, &count, &channels, &plane, &relu)?;
    }
    Ok(y.into_tensor(x.shape()))
}

/// Training-mode batch norm: batch statistics (biased variance), normalised output (ReLU after
/// it if `relu`).
pub(crate) fn train<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
    layout: Channels,
    relu: bool,
) -> Result<BatchNormTrain<E>> {
    let device = common_device(op, &[input])?;
    let x = super::elementwise::contiguous(op, input)?;
    let (batch, channels, spatial) = layout;
    let ordinal = ordinal(input);
    let gamma = per_channel(op, weight, channels, 1.0, ordinal)?;
    let beta = per_channel(op, bias, channels, 0.0, ordinal)?;
    let mut mean = Output::<E>::new(op, &device, channels)?;
    let mut var = Output::<E>::new(op, &device, channels)?;
    let mut invstd = Output::<E>::new(op, &device, channels)?;
    {
        let x_view = launch::dense_view(op, &x)?;
        let (n, c, plane, eps) = (
            as_i32(op, batch)?,
            as_i32(op, channels)?,
            as_i64(spatial),
            E::from_f64(eps),
        );
        let (mut m, mut v, mut s) = (mean.view_mut(), var.view_mut(), invstd.view_mut());
        // grid: [C], block: [256]; mean, var, invstd: [C]
        launch!(op, device, BN_STATISTICS, E, launch::per_block(channels);
            &x_view, &mut m, &mut v, &mut s, &n, &c, &plane, &eps)?;
    }
    let (mean, variance, inverse_std) = (
        mean.into_tensor(&[channels]),
        var.into_tensor(&[channels]),
        invstd.into_tensor(&[channels]),
    );
    let output = normalize(op, &x, &mean, &inverse_std, &gamma, &beta, layout, relu)?;
    Ok(BatchNormTrain {
        output,
        mean,
        variance,
        inverse_std,
    })
}

/// Evaluation-mode batch norm with running statistics (ReLU after it if `relu`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn eval<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    bias: Option<&Tensor<E>>,
    eps: f64,
    layout: Channels,
    relu: bool,
) -> Result<Tensor<E>> {
    let x = super::elementwise::contiguous(op, input)?;
    let invstd = inverse_std(op, running_var, eps, layout.1)?;
    let ordinal = ordinal(input);
    let mean = super::elementwise::contiguous(op, running_mean)?;
    let gamma = per_channel(op, weight, layout.1, 1.0, ordinal)?;
    let beta = per_channel(op, bias, layout.1, 0.0, ordinal)?;
    normalize(op, &x, &mean, &invstd, &gamma, &beta, layout, relu)
}

/// `1/√(var + ε)` per channel.
fn inverse_std<E: Float>(
    op: &'static str,
    var: &Tensor<E>,
    eps: f64,
    channels: usize,
) -> Result<Tensor<E>> {
    let device = common_device(op, &[var])?;
    let var = super::elementwise::contiguous(op, var)?;
    let mut invstd = Output::<E>::new(op, &device, channels)?;
    if channels > 0 {
        let var_view = launch::dense_view(op, &var)?;
        let (c, eps) = (as_i32(op, channels)?, E::from_f64(eps));
        let mut s = invstd.view_mut();
        // grid: [ceil(C/256)], block: [256]; invstd: [C]
        launch!(op, device, BN_INVSTD, E, launch::linear(channels); &var_view, &mut s, &c, &eps)?;
    }
    Ok(invstd.into_tensor(&[channels]))
}

/// The per-channel sums of both backward passes, `(dγ, dβ) = (Σ dy·x̂, Σ dy)` with
/// `x̂ = (x − mean)·invstd`, one block per channel (the `bn_backward_reduce` kernel); `x`, `dy`:
/// contiguous `[N, C, S]`, `mean`, `invstd`: contiguous `[C]`. With `y` (contiguous, the
/// forward's output after its ReLU), `dy` is masked by `y > 0` in the same pass.
#[allow(clippy::too_many_arguments)]
fn channel_gradient_sums<E: Float>(
    op: &'static str,
    device: &Arc<CudaDevice>,
    x: &Tensor<E>,
    y: Option<&Tensor<E>>,
    dy: &Tensor<E>,
    mean: &Tensor<E>,
    invstd: &Tensor<E>,
    (batch, channels, spatial): Channels,
) -> Result<(Tensor<E>, Tensor<E>)> {
    let mut dgamma = Output::<E>::new(op, device, channels)?;
    let mut dbeta = Output::<E>::new(op, device, channels)?;
    let (x_view, dy_view) = (launch::dense_view(op, x)?, launch::dense_view(op, dy)?);
    let (mean_view, invstd_view) = (
        launch::dense_view(op, mean)?,
        launch::dense_view(op, invstd)?,
    );
    let (n, c, plane, relu) = (
        as_i32(op, batch)?,
        as_i32(op, channels)?,
        as_i64(spatial),
        i32::from(y.is_some()),
    );
    // `y` is only read when `relu` = 1; x stands in for it otherwise.
    let y_view = launch::dense_view(op, y.unwrap_or(x))?;
    {
        let (mut dg, mut db) = (dgamma.view_mut(), dbeta.view_mut());
        // grid: [C], block: [256]; dgamma, dbeta: [C]
        launch!(op, device, BN_BACKWARD_REDUCE, E, launch::per_block(channels);
            &x_view, &y_view, &dy_view, &mean_view, &invstd_view, &mut dg, &mut db, &n, &c, &plane, &relu)?;
    }
    Ok((
        dgamma.into_tensor(&[channels]),
        dbeta.into_tensor(&[channels]),
    ))
}

/// Training-mode backward: dβ = Σ g, dγ = Σ g·x̂, dx = γ·invstd/M·(M·g − dβ − x̂·dγ), with
/// g = dy, or g = dy ⊙ [y > 0] when given the forward's output `relu_output` (the kernels'
/// `relu` flag masks in both passes).
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_backward<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    relu_output: Option<&Tensor<E>>,
    mean: &Tensor<E>,
    inverse_std: &Tensor<E>,
    layout: Channels,
) -> Result<BatchNormGrads<E>> {
    let device = common_device(op, &[grad_output, input, mean, inverse_std])?;
    if let Some(output) = relu_output {
        common_device(op, &[input, output])?;
    }
    let (batch, channels, spatial) = layout;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let x = super::elementwise::contiguous(op, input)?;
    let mean = super::elementwise::contiguous(op, mean)?;
    let invstd = super::elementwise::contiguous(op, inverse_std)?;
    let gamma = per_channel(op, weight, channels, 1.0, ordinal(input))?;
    let y = match relu_output {
        Some(output) => Some(super::elementwise::contiguous(op, output)?),
        None => None,
    };
    let (grad_weight, grad_bias) =
        channel_gradient_sums(op, &device, &x, y.as_ref(), &dy, &mean, &invstd, layout)?;
    let (x_view, dy_view) = (launch::dense_view(op, &x)?, launch::dense_view(op, &dy)?);
    let y_view = launch::dense_view(op, y.as_ref().unwrap_or(&x))?;
    let (mean_view, invstd_view) = (
        launch::dense_view(op, &mean)?,
        launch::dense_view(op, &invstd)?,
    );
    let (c, plane, relu) = (
        as_i32(op, channels)?,
        as_i64(spatial),
        i32::from(y.is_some()),
    );
    let total = x.numel();
    let mut dx = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let gamma_view = launch::dense_view(op, &gamma)?;
        let (dg_view, db_view) = (
            launch::dense_view(op, &grad_weight)?,
            launch::dense_view(op, &grad_bias)?,
        );
        let (count, m) = (as_i64(total), E::from_usize(batch * spatial));
        let mut dx_view = dx.view_mut();
        // grid: [ceil(N·C·S/256)], block: [256]; dx: [N, C, S]
        launch!(op, device, BN_BACKWARD_INPUT, E, launch::linear(total);
            &x_view, &y_view, &dy_view, &mean_view, &invstd_view, &gamma_view, &dg_view, &db_view,
            &mut dx_view, &count, &c, &plane, &m, &relu)?;
    }
    Ok(BatchNormGrads {
        grad_input: dx.into_tensor(x.shape()),
        grad_weight,
        grad_bias,
    })
}

/// Evaluation-mode backward (the running statistics are constants):
/// `x̂ = (x − running_mean)·invstd`, `dβ = Σ dy`, `dγ = Σ dy·x̂`, `dx = dy·γ·invstd`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn eval_backward<E: Float>(
    op: &'static str,
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    weight: Option<&Tensor<E>>,
    eps: f64,
    layout: Channels,
) -> Result<BatchNormGrads<E>> {
    let device = common_device(op, &[grad_output, input, running_mean, running_var])?;
    let (_, channels, spatial) = layout;
    let dy = super::elementwise::contiguous(op, grad_output)?;
    let x = super::elementwise::contiguous(op, input)?;
    let mean = super::elementwise::contiguous(op, running_mean)?;
    let invstd = inverse_std(op, running_var, eps, channels)?;
    let gamma = per_channel(op, weight, channels, 1.0, ordinal(input))?;
    let (grad_weight, grad_bias) =
        channel_gradient_sums(op, &device, &x, None, &dy, &mean, &invstd, layout)?;
    let dy_view = launch::dense_view(op, &dy)?;
    let invstd_view = launch::dense_view(op, &invstd)?;
    let (c, plane) = (as_i32(op, channels)?, as_i64(spatial));
    let total = x.numel();
    let mut dx = Output::<E>::new(op, &device, total)?;
    if total > 0 {
        let gamma_view = launch::dense_view(op, &gamma)?;
        let count = as_i64(total);
        let mut dx_view = dx.view_mut();
        // grid: [ceil(N·C·S/256)], block: [256]; dx: [N, C, S]
        launch!(op, device, BN_EVAL_BACKWARD_INPUT, E, launch::linear(total);
            &dy_view, &invstd_view, &gamma_view, &mut dx_view, &count, &c, &plane)?;
    }
    Ok(BatchNormGrads {
        grad_input: dx.into_tensor(x.shape()),
        grad_weight,
        grad_bias,
    })
}

/// PyTorch's running-statistics update, out of place (device buffers are immutable):
/// `(running_mean', running_var') = ((1 − m)·running_mean + m·μ,
/// (1 − m)·running_var + m·σ²·count/(count − 1))`, all `[C]` on one GPU (checked by the entry
/// point).
pub(crate) fn update_running_statistics<E: Float>(
    op: &'static str,
    running_mean: &Tensor<E>,
    running_var: &Tensor<E>,
    batch_mean: &Tensor<E>,
    batch_variance_biased: &Tensor<E>,
    count: usize,
    momentum: f64,
) -> Result<(Tensor<E>, Tensor<E>)> {
    let device = common_device(
        op,
        &[running_mean, running_var, batch_mean, batch_variance_biased],
    )?;
    let channels = running_mean.numel();
    let dense = |t: &Tensor<E>| super::elementwise::contiguous(op, t);
    let (rm, rv, m, v) = (
        dense(running_mean)?,
        dense(running_var)?,
        dense(batch_mean)?,
        dense(batch_variance_biased)?,
    );
    let mut new_mean = Output::<E>::new(op, &device, channels)?;
    let mut new_var = Output::<E>::new(op, &device, channels)?;
    if channels > 0 {
        let views = [
            launch::dense_view(op, &rm)?,
            launch::dense_view(op, &rv)?,
            launch::dense_view(op, &m)?,
            launch::dense_view(op, &v)?,
        ];
        let c = as_i32(op, channels)?;
        let correction = count as f64 / (count - 1) as f64;
        let (mut mean_out, mut var_out) = (new_mean.view_mut(), new_var.view_mut());
        // grid: [ceil(C/256)], block: [256]; running_mean', running_var': [C]
        launch!(op, device, BN_RUNNING_UPDATE, E, launch::linear(channels);
            &views[0], &views[1], &views[2], &views[3], &mut mean_out, &mut var_out, &c,
            &momentum, &correction)?;
    }
    Ok((
        new_mean.into_tensor(&[channels]),
        new_var.into_tensor(&[channels]),
    ))
}
