//! The CPU backward kernels of conv2d, cut into the same column blocks as the forward (see
//! [`super::blocking`]).
//!
//! - input:  `dX = col2im(W_gᵀ · dY_g)` per block, blocks of images in parallel (a block's
//!   `dcols` stays in cache between the GEMM and col2im);
//! - weight: `dW_g = Σ_blocks dY_g[:, block] · cols_blockᵀ`, the blocks split into a fixed
//!   number of chunks (not one per thread, so the sum is the same on any machine), each chunk
//!   summing into its own partial, partials added in chunk order;
//! - bias:   `db[o] = Σ_n Σ_p dY[n, o, p]`, channels in parallel.

use rayon::prelude::*;

use super::blocking::{gather_images, Blocking};
use super::col2im::{block_col2im, unstage_block, zero_staged_block};
use super::im2col::{block_columns, stage_block, ImageRef};
use super::staged::Staging;
use super::ConvShape;
use crate::error::Result;
use crate::gemm::{gemm, MatMut, MatRef};
use crate::{Float, Tensor};

/// The weight gradient sums the batch's blocks in at most this many chunks, each with its own
/// partial `dW`, whatever the number of threads.
const WEIGHT_GRAD_CHUNKS: usize = 4;

/// Per-task scratch: a block's staged images, its columns and its gathered `dY`.
#[derive(Default)]
struct Scratch<E> {
    staged: Vec<E>,
    cols: Vec<E>,
    grad: Vec<E>,
}

impl<E: Float> Scratch<E> {
    /// Grows the columns to `cols = [rows, width]` and the gathered `dY` to `grad`, likewise
    /// (an error naming `op` if they cannot be allocated).
    fn reserve(&mut self, op: &'static str, cols: [usize; 2], grad: [usize; 2]) -> Result<()> {
        if self.cols.len() < cols[0].saturating_mul(cols[1]) {
            crate::buffer::resize(op, &cols, &mut self.cols, E::ZERO)?;
        }
        if self.grad.len() < grad[0].saturating_mul(grad[1]) {
            crate::buffer::resize(op, &grad, &mut self.grad, E::ZERO)?;
        }
        Ok(())
    }
}

/// `dY[rows, block]` as a matrix `[rows.len(), images·tile.len()]`: a strided view of `dy_block`
/// (`[images, C_out, oh·ow]`) for a single image, else gathered into `buffer`.
fn grad_block<'a, E: Float>(
    dy_block: &'a [E],
    shape: &ConvShape,
    images: usize,
    rows: std::ops::Range<usize>,
    tile: std::ops::Range<usize>,
    buffer: &'a mut [E],
) -> Result<MatRef<'a, E>> {
    let positions = shape.positions();
    let width = images * tile.len();
    if images == 1 {
        // dY_n[rows, tile]: rows oh·ow apart
        return MatRef::new(
            &dy_block[rows.start * positions + tile.start..],
            rows.len(),
            width,
            positions,
            1,
        );
    }
    let count = rows.len();
    let buffer = &mut buffer[..count * width];
    gather_images(
        dy_block,
        [shape.out_channels, positions],
        images,
        rows,
        tile,
        buffer,
    );
    MatRef::row_major(buffer, count, width)
}

/// `dX: [N, C_in, H, W]` from `dY: [N, C_out, oh, ow]` and `W: [C_out, C_in/G, kh, kw]` (both
/// dense).
pub(crate) fn backward_input_cpu<E: Float>(
    grad_output: &[E],
    weight: &[E],
    shape: &ConvShape,
) -> Result<Vec<E>> {
    const OP: &str = "conv2d_backward_input";
    let positions = shape.positions();
    let image_len = shape.in_channels * shape.height * shape.width;
    let grad_len = shape.out_channels * positions;
    let mut grad_input = crate::buffer::filled(OP, &shape.input_shape(), E::ZERO)?;
    if grad_input.is_empty() {
        return Ok(grad_input);
    }
    let (group_in, group_out, group_rows) =
        (shape.group_in(), shape.group_out(), shape.group_rows());
    let blocking = Blocking::new::<E>(shape);
    let width_max = blocking.max_width();
    let staging = Staging::new(shape);
    // 1×1, stride 1, one image per block: the GEMM writes dX itself.
    let in_place = shape.is_pointwise() && blocking.images == 1;

    grad_input
        .par_chunks_mut(blocking.images * image_len)
        .zip(grad_output.par_chunks(blocking.images * grad_len))
        .try_for_each_init(
            Scratch::default,
            |scratch, (dx_block, dy_block)| -> Result<()> {
                let images = dx_block.len() / image_len;
                let dcols = [if in_place { 0 } else { group_rows }, width_max];
                let grad = [if images > 1 { group_out } else { 0 }, width_max];
                scratch.reserve(OP, dcols, grad)?;
                if !in_place {
                    zero_staged_block(OP, images, shape, &staging, &mut scratch.staged)?;
                }
                for tile in &blocking.tiles {
                    let width = images * tile.len();
                    for g in 0..shape.groups {
                        // W_gᵀ: [C_in/G·kh·kw, C_out/G]
                        let w_g_t = MatRef::row_major(
                            &weight[g * group_out * group_rows..(g + 1) * group_out * group_rows],
                            group_out,
                            group_rows,
                        )?
                        .t();
                        let out_rows = g * group_out..(g + 1) * group_out;
                        // dY_g[:, block]: [C_out/G, width]
                        let dy = grad_block(
                            dy_block,
                            shape,
                            images,
                            out_rows,
                            tile.clone(),
                            &mut scratch.grad,
                        )?;
                        let channels = g * group_in..(g + 1) * group_in;
                        if in_place {
                            // dX_n,g: [C_in/G, H·W] is the column matrix itself.
                            let dx_g = MatMut::row_major(
                                &mut dx_block[channels.start * positions..channels.end * positions],
                                group_rows,
                                positions,
                            )?;
                            gemm(E::ONE, w_g_t, dy, E::ZERO, dx_g)?;
                            continue;
                        }
                        // dcols: [C_in/G·kh·kw, width]
                        let dcols = &mut scratch.cols[..group_rows * width];
                        gemm(
                            E::ONE,
                            w_g_t,
                            dy,
                            E::ZERO,
                            MatMut::row_major(dcols, group_rows, width)?,
                        )?;
                        // dcols → the staged images of the block (→ dX after the last tile)
                        block_col2im(
                            dcols,
                            shape,
                            &staging,
                            channels,
                            tile.clone(),
                            &mut scratch.staged,
                            dx_block,
                        );
                    }
                }
                if !in_place {
                    unstage_block(&scratch.staged, shape, &staging, dx_block);
                }
                Ok(())
            },
        )?;
    Ok(grad_input)
}

/// For stride 1 the input gradient is itself a forward convolution, of `dY` with the flipped,
/// transposed kernel (a "full" correlation): substituting `ky' = kh − 1 − ky`,
///
/// ```text
/// dx[n, c, iy, ix] = Σ_{o, ky', kx'} w'[c, o, ky', kx'] · dy[n, o, iy − ph' + ky'·dh, ix − pw' + kx'·dw]
/// w'[g·C_in/G + c, o, ky', kx'] = w[g·C_out/G + o, c, kh − 1 − ky', kw − 1 − kx']
/// ph' = dh·(kh − 1) − ph,  pw' = dw·(kw − 1) − pw
/// ```
///
/// This returns the shape of that convolution and `w': [C_in, C_out/G, kh, kw]`, or `None` when
/// it does not apply (a stride above 1, a 1×1 kernel, or a padding wider than the dilated
/// kernel). It replaces
/// col2im's scattered additions by im2col's copies and gives the GEMM a long inner dimension
/// (`C_out/G·kh·kw` instead of `C_out/G`).
pub(crate) fn input_grad_as_convolution<E: Float>(
    weight: &[E],
    shape: &ConvShape,
) -> Option<(ConvShape, Vec<E>)> {
    let [kh, kw] = shape.kernel;
    let span = [shape.dilation[0] * (kh - 1), shape.dilation[1] * (kw - 1)];
    // (1×1 kernels with stride 1 have a cheaper path: dX_n = Wᵀ·dY_n, no col2im at all.)
    if shape.stride != [1, 1]
        || shape.kernel == [1, 1]
        || shape.padding[0] > span[0]
        || shape.padding[1] > span[1]
    {
        return None;
    }
    let params = super::Conv2dParams {
        stride: [1, 1],
        padding: [span[0] - shape.padding[0], span[1] - shape.padding[1]],
        dilation: shape.dilation,
        groups: shape.groups,
    };
    let (group_in, group_out) = (shape.group_in(), shape.group_out());
    let flipped_shape = ConvShape::new(
        "conv2d_backward_input",
        &[shape.batch, shape.out_channels, shape.out[0], shape.out[1]],
        &[shape.in_channels, group_out, kh, kw],
        &params,
    )
    .ok()
    .filter(|flipped| flipped.out == [shape.height, shape.width])?;
    // w': [C_in, C_out/G, kh, kw], filled in the order w is read
    let taps = kh * kw;
    let mut flipped = vec![E::ZERO; weight.len()];
    for (o_all, filter) in weight.chunks_exact(group_in * taps).enumerate() {
        let (g, o) = (o_all / group_out, o_all % group_out);
        for (c, kernel) in filter.chunks_exact(taps).enumerate() {
            let target = ((g * group_in + c) * group_out + o) * taps;
            // w'[.., ky', kx'] = w[.., kh − 1 − ky', kw − 1 − kx']: the kernel reversed
            for (slot, &value) in flipped[target..target + taps].iter_mut().rev().zip(kernel) {
                *slot = value;
            }
        }
    }
    Some((flipped_shape, flipped))
}

/// `dW: [C_out, C_in/G, kh, kw]` from `dY: [N, C_out, oh, ow]` (dense) and the forward input.
pub(crate) fn backward_weight_cpu<E: Float>(
    op: &'static str,
    grad_output: &[E],
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Vec<E>> {
    input.cpu_storage(op)?;
    if shape.batch == 0 {
        return crate::buffer::filled(op, &shape.weight_shape(), E::ZERO);
    }
    let images = (0..shape.batch)
        .map(|n| ImageRef::of(input, op, n))
        .collect::<Result<Vec<_>>>()?;
    let blocking = Blocking::new::<E>(shape);
    backward_weight_columns(op, grad_output, &images, shape, &blocking)
}

/// Chunks of blocks in parallel, each summing `dY_g[:, block] · cols_blockᵀ` over
/// its blocks into its own partial `dW`; the partials are then added in chunk order.
fn backward_weight_columns<E: Float>(
    op: &'static str,
    grad_output: &[E],
    images: &[ImageRef<'_, E>],
    shape: &ConvShape,
    blocking: &Blocking,
) -> Result<Vec<E>> {
    let positions = shape.positions();
    let (group_in, group_out, group_rows) =
        (shape.group_in(), shape.group_out(), shape.group_rows());
    let staging = Staging::new(shape);
    let width_max = blocking.max_width();
    // When the columns are much bigger than dY and dW is small, compute dWᵀ = cols · dYᵀ: the
    // GEMM then packs the big operand along its rows (fast) and transposes only the small one,
    // at the price of strided writes to dW. Measured (CPU time, one thread): 8–10% faster on the
    // CIFAR layers, equal on l1_3x3/l3_3x3, 10% slower on the stem (cols only 2.3× dY) and 2.6×
    // slower on l4_1x1_down (dW of 1M entries).
    let transposed = group_rows >= 4 * group_out && group_out * group_rows <= 64 * 1024;
    let image_blocks: Vec<&[ImageRef<'_, E>]> = images.chunks(blocking.images).collect();
    let blocks_per_chunk = image_blocks.len().div_ceil(WEIGHT_GRAD_CHUNKS);

    let mut partials: Vec<Vec<E>> = image_blocks
        .par_chunks(blocks_per_chunk)
        .enumerate()
        .map(|(chunk, blocks)| -> Result<Vec<E>> {
            let mut partial = crate::buffer::filled(op, &shape.weight_shape(), E::ZERO)?;
            let mut scratch = Scratch::default();
            scratch.reserve(op, [group_rows, width_max], [group_out, width_max])?;
            for (b, block) in blocks.iter().enumerate() {
                let first_image = (chunk * blocks_per_chunk + b) * blocking.images;
                let dy_block = &grad_output[first_image * shape.out_channels * positions..];
                stage_block(op, block, shape, &staging, &mut scratch.staged)?;
                for tile in &blocking.tiles {
                    let width = block.len() * tile.len();
                    for g in 0..shape.groups {
                        let channels = g * group_in..(g + 1) * group_in;
                        // cols_block: [C_in/G·kh·kw, width]
                        let cols = if shape.is_pointwise()
                            && block.len() == 1
                            && block[0].channels_are_dense(shape.width)
                        {
                            // 1×1, stride 1: the channel rows of the image itself
                            let image = block[0];
                            MatRef::new(
                                &image.data[image.offset + channels.start * image.strides[0]..],
                                group_rows,
                                width,
                                image.strides[0],
                                1,
                            )?
                        } else {
                            let cols = &mut scratch.cols[..group_rows * width];
                            block_columns(
                                block,
                                &scratch.staged,
                                &staging,
                                shape,
                                channels,
                                tile.clone(),
                                cols,
                            );
                            MatRef::row_major(cols, group_rows, width)?
                        };
                        // dY_g[:, block]: [C_out/G, width]
                        let out_rows = g * group_out..(g + 1) * group_out;
                        let dy = grad_block(
                            dy_block,
                            shape,
                            block.len(),
                            out_rows,
                            tile.clone(),
                            &mut scratch.grad,
                        )?;
                        let dw_g = &mut partial
                            [g * group_out * group_rows..(g + 1) * group_out * group_rows];
                        if transposed {
                            // dW_gᵀ: [C_in/G·kh·kw, C_out/G] += cols_block · dY_blockᵀ
                            let dw_g_t = MatMut::new(dw_g, group_rows, group_out, 1, group_rows)?;
                            gemm(E::ONE, cols, dy.t(), E::ONE, dw_g_t)?;
                        } else {
                            // dW_g: [C_out/G, C_in/G·kh·kw] += dY_block · cols_blockᵀ
                            let dw_g = MatMut::row_major(dw_g, group_out, group_rows)?;
                            gemm(E::ONE, dy, cols.t(), E::ONE, dw_g)?;
                        }
                    }
                }
            }
            Ok(partial)
        })
        .collect::<Result<Vec<_>>>()?;

    let mut grad_weight = partials.remove(0);
    if !partials.is_empty() {
        // Σ partials in chunk order, element blocks in parallel.
        const BLOCK: usize = 4096;
        grad_weight
            .par_chunks_mut(BLOCK)
            .enumerate()
            .for_each(|(b, block)| {
                for partial in &partials {
                    for (sum, &value) in block.iter_mut().zip(&partial[b * BLOCK..]) {
                        *sum += value;
                    }
                }
            });
    }
    Ok(grad_weight)
}

/// `db: [C_out]` = Σ over the batch and the positions of `dY: [N, C_out, P]` (dense).
pub(crate) fn backward_bias_cpu<E: Float>(
    op: &'static str,
    grad_output: &[E],
    batch: usize,
    channels: usize,
    positions: usize,
) -> Result<Vec<E>> {
    let mut grad_bias = crate::buffer::filled(op, &[channels], E::ZERO)?;
    grad_bias.par_iter_mut().enumerate().for_each(|(o, sum)| {
        for n in 0..batch {
            let start = (n * channels + o) * positions;
            *sum += grad_output[start..start + positions]
                .iter()
                .copied()
                .sum::<E>();
        }
    });
    Ok(grad_bias)
}
