//! The CPU backward kernels of conv2d.
//!
//! - input:  `dX_n = col2im(W_gᵀ · dY_n,g)`, per image in parallel, a tile of output positions
//!   at a time (the tile's `dcols` stays in cache between the GEMM and col2im);
//! - weight: `dW_g = Σ_n dY_n,g · cols_n,gᵀ`, the batch split into a fixed number of chunks
//!   (not one per thread, so the sum is the same on any machine), chunk partials added in order;
//! - bias:   `db[o] = Σ_n Σ_p dY[n, o, p]`, channels in parallel.

use rayon::prelude::*;

use super::col2im::{col2im_tile, scatter_1x1};
use super::im2col::{im2col_tile, image_tiles, subsample_1x1, ImageRef};
use super::ConvShape;
use crate::error::Result;
use crate::gemm::{gemm, MatMut, MatRef};
use crate::{Float, Tensor};

/// The batch is summed in at most this many chunks for the weight gradient, each with its own
/// partial `dW`, whatever the number of threads.
const WEIGHT_GRAD_BATCH_CHUNKS: usize = 4;
/// For the 1×1 weight gradient, split the output channels into this many row blocks.
const WEIGHT_GRAD_ROW_BLOCKS: usize = 8;

/// `dX: [N, C_in, H, W]` from `dY: [N, C_out, oh, ow]` and `W: [C_out, C_in/G, kh, kw]` (both
/// dense).
pub(crate) fn backward_input_cpu<E: Float>(
    grad_output: &[E],
    weight: &[E],
    shape: &ConvShape,
) -> Result<Vec<E>> {
    let positions = shape.positions();
    let image_len = shape.in_channels * shape.height * shape.width;
    let grad_len = shape.out_channels * positions;
    let mut grad_input = vec![E::ZERO; shape.batch * image_len];
    if grad_input.is_empty() {
        return Ok(grad_input);
    }
    let (group_in, group_out, group_rows) =
        (shape.group_in(), shape.group_out(), shape.group_rows());
    let one_by_one = shape.is_one_by_one();
    let tiles = image_tiles::<E>(shape);
    let buffer_len = tiles.iter().map(|t| t.len()).max().unwrap_or(0) * group_rows;

    grad_input
        .par_chunks_mut(image_len)
        .zip(grad_output.par_chunks(grad_len))
        .try_for_each_init(
            Vec::new,
            |dcols: &mut Vec<E>, (dx_image, dy_image)| -> Result<()> {
                if !shape.is_pointwise() && dcols.len() < buffer_len {
                    dcols.resize(buffer_len, E::ZERO);
                }
                for tile in &tiles {
                    let width = tile.len();
                    for g in 0..shape.groups {
                        // W_gᵀ: [C_in/G·kh·kw, C_out/G]
                        let w_g_t = MatRef::row_major(
                            &weight[g * group_out * group_rows..(g + 1) * group_out * group_rows],
                            group_out,
                            group_rows,
                        )?
                        .t();
                        // dY_n,g[:, tile]: [C_out/G, width], row stride oh·ow
                        let dy_tile = MatRef::new(
                            &dy_image[g * group_out * positions + tile.start..],
                            group_out,
                            width,
                            positions,
                            1,
                        )?;
                        let channels = g * group_in..(g + 1) * group_in;
                        if shape.is_pointwise() {
                            // dX_n,g: [C_in/G, H·W] is the column matrix itself.
                            let dx_g = MatMut::row_major(
                                &mut dx_image[channels.start * positions..channels.end * positions],
                                group_rows,
                                positions,
                            )?;
                            gemm(E::ONE, w_g_t, dy_tile, E::ZERO, dx_g)?;
                            continue;
                        }
                        // dcols: [C_in/G·kh·kw, width]
                        let dcols = &mut dcols[..group_rows * width];
                        gemm(
                            E::ONE,
                            w_g_t,
                            dy_tile,
                            E::ZERO,
                            MatMut::row_major(dcols, group_rows, width)?,
                        )?;
                        if one_by_one {
                            scatter_1x1(dcols, shape, channels, dx_image);
                        } else {
                            col2im_tile(dcols, shape, channels, tile.clone(), dx_image);
                        }
                    }
                }
                Ok(())
            },
        )?;
    Ok(grad_input)
}

/// `dW: [C_out, C_in/G, kh, kw]` from `dY: [N, C_out, oh, ow]` (dense) and the forward input.
pub(crate) fn backward_weight_cpu<E: Float>(
    op: &'static str,
    grad_output: &[E],
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Vec<E>> {
    input.cpu_storage(op)?;
    let weight_len = shape.out_channels * shape.group_rows();
    if shape.batch == 0 || shape.positions() == 0 {
        return Ok(vec![E::ZERO; weight_len]);
    }
    let dense_images = (0..shape.batch)
        .map(|n| ImageRef::of(input, op, n).map(|image| image.channels_are_dense(shape.width)))
        .collect::<Result<Vec<bool>>>()?
        .into_iter()
        .all(|dense| dense);
    if shape.is_pointwise() && dense_images {
        backward_weight_pointwise(op, grad_output, input, shape)
    } else {
        backward_weight_columns(op, grad_output, input, shape)
    }
}

/// 1×1, stride 1: the images are their own column matrices, so the output channels split into
/// row blocks that each sum the whole batch in order; no partials, no im2col.
fn backward_weight_pointwise<E: Float>(
    op: &'static str,
    grad_output: &[E],
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Vec<E>> {
    let positions = shape.positions();
    let (group_in, group_out) = (shape.group_in(), shape.group_out());
    let mut grad_weight = vec![E::ZERO; shape.out_channels * group_in];
    let block_rows = group_out.div_ceil(WEIGHT_GRAD_ROW_BLOCKS).max(1);
    // Blocks of `block_rows` output channels, never straddling two groups.
    let blocks: Vec<(usize, usize, &mut [E])> = grad_weight
        .chunks_mut(group_out * group_in)
        .enumerate()
        .flat_map(|(g, group)| {
            group
                .chunks_mut(block_rows * group_in)
                .enumerate()
                .map(move |(b, rows)| (g, g * group_out + b * block_rows, rows))
        })
        .collect();
    blocks
        .into_par_iter()
        .try_for_each(|(g, first_row, dw_rows)| -> Result<()> {
            let rows = dw_rows.len() / group_in;
            for n in 0..shape.batch {
                let image = ImageRef::of(input, op, n)?;
                // dY_n[rows]: [rows, oh·ow]
                let dy = MatRef::row_major(
                    &grad_output[(n * shape.out_channels + first_row) * positions..],
                    rows,
                    positions,
                )?;
                // X_n,gᵀ: [H·W, C_in/G]
                let x_t = MatRef::new(
                    &image.data[image.offset + g * group_in * image.strides[0]..],
                    group_in,
                    positions,
                    image.strides[0],
                    1,
                )?
                .t();
                let beta = if n == 0 { E::ZERO } else { E::ONE };
                // dW[rows]: [rows, C_in/G]
                gemm(
                    E::ONE,
                    dy,
                    x_t,
                    beta,
                    MatMut::row_major(dw_rows, rows, group_in)?,
                )?;
            }
            Ok(())
        })?;
    Ok(grad_weight)
}

/// General case: chunks of images in parallel, each summing `dY_n,g · cols_tileᵀ` over its images
/// and tiles into its own partial `dW`; the partials are then added in chunk order.
fn backward_weight_columns<E: Float>(
    op: &'static str,
    grad_output: &[E],
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Vec<E>> {
    let positions = shape.positions();
    let (group_in, group_out, group_rows) =
        (shape.group_in(), shape.group_out(), shape.group_rows());
    let weight_len = shape.out_channels * group_rows;
    let one_by_one = shape.is_one_by_one();
    let tiles = image_tiles::<E>(shape);
    let buffer_len = tiles.iter().map(|t| t.len()).max().unwrap_or(0) * group_rows;
    let chunk_images = shape.batch.div_ceil(WEIGHT_GRAD_BATCH_CHUNKS);
    let chunks = shape.batch.div_ceil(chunk_images);

    let mut partials: Vec<Vec<E>> = (0..chunks)
        .into_par_iter()
        .map(|chunk| -> Result<Vec<E>> {
            let mut partial = vec![E::ZERO; weight_len];
            let mut cols = vec![E::ZERO; buffer_len];
            let images = chunk * chunk_images..((chunk + 1) * chunk_images).min(shape.batch);
            for n in images {
                let image = ImageRef::of(input, op, n)?;
                let dy_image = &grad_output[n * shape.out_channels * positions..];
                for tile in &tiles {
                    let width = tile.len();
                    for g in 0..shape.groups {
                        let channels = g * group_in..(g + 1) * group_in;
                        // cols_tile: [C_in/G·kh·kw, width]
                        let cols = &mut cols[..group_rows * width];
                        if one_by_one {
                            subsample_1x1(image, shape, channels, cols);
                        } else {
                            im2col_tile(image, shape, channels, tile.clone(), cols);
                        }
                        // dY_n,g[:, tile]: [C_out/G, width], row stride oh·ow
                        let dy_tile = MatRef::new(
                            &dy_image[g * group_out * positions + tile.start..],
                            group_out,
                            width,
                            positions,
                            1,
                        )?;
                        // dW_g: [C_out/G, C_in/G·kh·kw] += dY_tile · cols_tileᵀ
                        let dw_g = MatMut::row_major(
                            &mut partial
                                [g * group_out * group_rows..(g + 1) * group_out * group_rows],
                            group_out,
                            group_rows,
                        )?;
                        let cols_t = MatRef::row_major(cols, group_rows, width)?.t();
                        gemm(E::ONE, dy_tile, cols_t, E::ONE, dw_g)?;
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
    grad_output: &[E],
    batch: usize,
    channels: usize,
    positions: usize,
) -> Vec<E> {
    let mut grad_bias = vec![E::ZERO; channels];
    grad_bias.par_iter_mut().enumerate().for_each(|(o, sum)| {
        for n in 0..batch {
            let start = (n * channels + o) * positions;
            *sum += grad_output[start..start + positions]
                .iter()
                .copied()
                .sum::<E>();
        }
    });
    grad_bias
}
