//! The GEMMs of a (grouped) convolution on the GPU, as plain data: for each launch of
//! `sgemm_f32`, which sub-matrices it reads and writes (element offsets into the operand
//! buffers), with which strides, and over how many batch entries. No device call happens here,
//! so the offset arithmetic is checked on the CPU: the tests at the end run every plan through
//! a plain interpretation of `gemm.cu`'s stride convention on the CPU's im2col columns and
//! compare the results with the CPU convolution.
//!
//! Notation: `G` groups, `C_g = C/G` input and `O_g = C_out/G` output channels per group,
//! `R_g = C_g·kh·kw` rows of one group's columns, `R = G·R_g`, `P = oh·ow` positions.
//! The columns `cols: [N, R, P]` of all channels are made once (`im2col_f32`); because row
//! `(c·kh + a)·kw + b` puts the channel outermost, the rows of group `g` are the contiguous block
//! `g·R_g .. (g+1)·R_g` of each image's columns. Likewise the output channels of group `g` are
//! rows `g·O_g .. (g+1)·O_g` of `Y_n: [C_out, P]`, and its weights the rows `g·O_g ..` of
//! `W: [C_out, R_g]`. With `G = 1` every plan is the single batched GEMM of the ungrouped
//! convolution.

use super::matmul::GemmArgs;
use crate::cuda::launch::{as_i32, as_i64};
use crate::error::Result;
use crate::ops::conv::ConvShape;
use crate::Float;

/// One launch: `C_z = α·A_z·B_z + β·C_z` for `z < batch`, where operand `X_z` starts at
/// element `x_offset + z·x_batch` of its buffer (strides and batch strides in `args`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GemmCall<E: Float> {
    pub a_offset: usize,
    pub b_offset: usize,
    pub c_offset: usize,
    pub args: GemmArgs<E>,
    pub batch: usize,
}

/// Sizes shared by the three plans.
struct Sizes {
    groups: usize,
    /// `O_g`.
    out_g: usize,
    /// `R_g`.
    rows_g: usize,
    /// `R = G·R_g`.
    rows: usize,
    /// `P`.
    positions: usize,
}

fn sizes(shape: &ConvShape) -> Sizes {
    Sizes {
        groups: shape.groups,
        out_g: shape.group_out(),
        rows_g: shape.group_rows(),
        rows: shape.groups * shape.group_rows(),
        positions: shape.positions(),
    }
}

/// Forward, one launch per group, batched over the images:
/// `Y_n[g·O_g.., :]: [O_g, P] = W[g·O_g.., :]: [O_g, R_g] · cols_n[g·R_g.., :]: [R_g, P]`.
pub(crate) fn forward<E: Float>(op: &'static str, shape: &ConvShape) -> Result<Vec<GemmCall<E>>> {
    let s = sizes(shape);
    let out_channels = s.groups * s.out_g;
    (0..s.groups)
        .map(|g| {
            Ok(GemmCall {
                a_offset: g * s.out_g * s.rows_g,
                b_offset: g * s.rows_g * s.positions,
                c_offset: g * s.out_g * s.positions,
                args: GemmArgs {
                    m: as_i32(op, s.out_g)?,
                    n: as_i32(op, s.positions)?,
                    k: as_i32(op, s.rows_g)?,
                    a_row: as_i64(s.rows_g),
                    a_col: 1,
                    b_row: as_i64(s.positions),
                    b_col: 1,
                    c_row: as_i64(s.positions),
                    a_batch: 0,
                    b_batch: as_i64(s.rows * s.positions),
                    c_batch: as_i64(out_channels * s.positions),
                    alpha: E::ONE,
                    beta: E::ZERO,
                },
                batch: shape.batch,
            })
        })
        .collect()
}

/// Data gradient (before col2im), one launch per group, batched over the images:
/// `dcols_n[g·R_g.., :]: [R_g, P] = W[g·O_g.., :]ᵀ: [R_g, O_g] · dY_n[g·O_g.., :]: [O_g, P]`.
pub(crate) fn backward_input<E: Float>(
    op: &'static str,
    shape: &ConvShape,
) -> Result<Vec<GemmCall<E>>> {
    let s = sizes(shape);
    let out_channels = s.groups * s.out_g;
    (0..s.groups)
        .map(|g| {
            Ok(GemmCall {
                a_offset: g * s.out_g * s.rows_g,
                b_offset: g * s.out_g * s.positions,
                c_offset: g * s.rows_g * s.positions,
                args: GemmArgs {
                    m: as_i32(op, s.rows_g)?,
                    n: as_i32(op, s.positions)?,
                    k: as_i32(op, s.out_g)?,
                    a_row: 1,
                    a_col: as_i64(s.rows_g),
                    b_row: as_i64(s.positions),
                    b_col: 1,
                    c_row: as_i64(s.positions),
                    a_batch: 0,
                    b_batch: as_i64(out_channels * s.positions),
                    c_batch: as_i64(s.rows * s.positions),
                    alpha: E::ONE,
                    beta: E::ZERO,
                },
                batch: shape.batch,
            })
        })
        .collect()
}

/// Weight gradient, one launch per image in a fixed order (the first overwrites, β = 0, the
/// others accumulate, β = 1: deterministic), batched over the groups:
/// `dW[g·O_g.., :]: [O_g, R_g] (+)= dY_n[g·O_g.., :]: [O_g, P] · cols_n[g·R_g.., :]ᵀ: [P, R_g]`.
/// An empty batch is one launch with `k = 0`, which writes zeros.
pub(crate) fn backward_weight<E: Float>(
    op: &'static str,
    shape: &ConvShape,
) -> Result<Vec<GemmCall<E>>> {
    let s = sizes(shape);
    let out_channels = s.groups * s.out_g;
    let k = if shape.batch == 0 { 0 } else { s.positions };
    (0..shape.batch.max(1))
        .map(|image| {
            Ok(GemmCall {
                a_offset: image.min(shape.batch.saturating_sub(1)) * out_channels * s.positions,
                b_offset: image.min(shape.batch.saturating_sub(1)) * s.rows * s.positions,
                c_offset: 0,
                args: GemmArgs {
                    m: as_i32(op, s.out_g)?,
                    n: as_i32(op, s.rows_g)?,
                    k: as_i32(op, k)?,
                    a_row: as_i64(s.positions),
                    a_col: 1,
                    b_row: 1,
                    b_col: as_i64(s.positions),
                    c_row: as_i64(s.rows_g),
                    a_batch: as_i64(s.out_g * s.positions),
                    b_batch: as_i64(s.rows_g * s.positions),
                    c_batch: as_i64(s.out_g * s.rows_g),
                    alpha: E::ONE,
                    beta: if image == 0 { E::ZERO } else { E::ONE },
                },
                batch: s.groups,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "conv_plan_tests.rs"]
mod tests;
