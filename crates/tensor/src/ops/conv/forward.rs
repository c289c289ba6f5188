//! The CPU forward kernel: per image and per tile of output positions, im2col then one GEMM per
//! group, `Y_n,g[:, tile] = W_g · cols_tile` (+ bias).
//!
//! Images run in parallel, each writing its own contiguous `[C_out, oh·ow]` slice of the output;
//! a tile's columns are built into a buffer reused across the tiles of a task and consumed by
//! the GEMM while still in cache.

use rayon::prelude::*;

use super::im2col::{im2col_tile, image_tiles, subsample_1x1, ImageRef};
use super::ConvShape;
use crate::error::Result;
use crate::gemm::{gemm, MatMut, MatRef};
use crate::{Float, Tensor};

/// `[N, C_out, oh, ow]` (row-major) = conv2d(`input`, `weight`) + `bias`.
pub(crate) fn conv2d_cpu<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    weight: &[E],
    bias: Option<&[E]>,
    shape: &ConvShape,
) -> Result<Vec<E>> {
    input.cpu_storage(op)?;
    let positions = shape.positions();
    let image_len = shape.out_channels * positions;
    let mut output = vec![E::ZERO; shape.batch * image_len];
    if output.is_empty() {
        return Ok(output);
    }
    let (group_in, group_out, group_rows) =
        (shape.group_in(), shape.group_out(), shape.group_rows());
    let one_by_one = shape.is_one_by_one();
    let tiles = image_tiles::<E>(shape);
    let buffer_len = tiles.iter().map(|t| t.len()).max().unwrap_or(0) * group_rows;

    output
        .par_chunks_mut(image_len)
        .enumerate()
        .try_for_each_init(
            Vec::new,
            |cols: &mut Vec<E>, (n, out_image)| -> Result<()> {
                let image = ImageRef::of(input, op, n)?;
                let in_place = shape.is_pointwise() && image.channels_are_dense(shape.width);
                if !in_place && cols.len() < buffer_len {
                    cols.resize(buffer_len, E::ZERO);
                }
                for tile in &tiles {
                    let width = tile.len();
                    for g in 0..shape.groups {
                        // W_g: [C_out/G, C_in/G·kh·kw]
                        let w_g = MatRef::row_major(
                            &weight[g * group_out * group_rows..(g + 1) * group_out * group_rows],
                            group_out,
                            group_rows,
                        )?;
                        let channels = g * group_in..(g + 1) * group_in;
                        // cols_tile: [C_in/G·kh·kw, width]
                        let columns = if in_place {
                            // 1×1, stride 1: channel rows of the image itself, [C_in/G, oh·ow].
                            MatRef::new(
                                &image.data[image.offset + channels.start * image.strides[0]..],
                                group_rows,
                                width,
                                image.strides[0],
                                1,
                            )?
                        } else {
                            let cols = &mut cols[..group_rows * width];
                            if one_by_one {
                                subsample_1x1(image, shape, channels, cols);
                            } else {
                                im2col_tile(image, shape, channels, tile.clone(), cols);
                            }
                            MatRef::row_major(cols, group_rows, width)?
                        };
                        // Y_n,g[:, tile]: [C_out/G, width], row stride oh·ow
                        let out_start = g * group_out * positions + tile.start;
                        let beta = match bias {
                            Some(bias) => {
                                for o in 0..group_out {
                                    let row = out_start + o * positions;
                                    out_image[row..row + width].fill(bias[g * group_out + o]);
                                }
                                E::ONE
                            }
                            None => E::ZERO,
                        };
                        let out_tile = MatMut::new(
                            &mut out_image[out_start..],
                            group_out,
                            width,
                            positions,
                            1,
                        )?;
                        gemm(E::ONE, w_g, columns, beta, out_tile)?;
                    }
                }
                Ok(())
            },
        )?;
    Ok(output)
}
