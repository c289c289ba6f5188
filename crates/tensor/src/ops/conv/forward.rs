//! The CPU forward kernel: per block of output positions (see [`super::blocking`]), im2col then
//! one GEMM per group, `Y_g[:, block] = W_g · cols_block` (+ bias).
//!
//! Blocks of images run in parallel, each task writing its own contiguous `[images, C_out,
//! oh·ow]` slice of the output. A block within one image is written by the GEMM straight into
//! the output (a strided view); a block of several images goes through a small `[C_out/G,
//! width]` buffer and is copied out per image.

use rayon::prelude::*;

use super::blocking::{scatter_images, Blocking};
use super::im2col::{block_columns, stage_block, ImageRef};
use super::staged::Staging;
use super::ConvShape;
use crate::error::Result;
use crate::gemm::{gemm, MatMut, MatRef};
use crate::{Float, Tensor};

/// Per-task scratch: the block's staged images and columns and, for multi-image blocks, the
/// GEMM's output.
#[derive(Default)]
struct Scratch<E> {
    staged: Vec<E>,
    cols: Vec<E>,
    out: Vec<E>,
}

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
    let mut output = crate::buffer::filled(op, &shape.output_shape(), E::ZERO)?;
    if output.is_empty() {
        return Ok(output);
    }
    let (group_in, group_out, group_rows) =
        (shape.group_in(), shape.group_out(), shape.group_rows());
    let blocking = Blocking::new::<E>(shape);
    let width_max = blocking.max_width();
    let staging = Staging::new(shape);

    output
        .par_chunks_mut(blocking.images * image_len)
        .enumerate()
        .try_for_each_init(
            Scratch::default,
            |scratch, (block, out_block)| -> Result<()> {
                let first_image = block * blocking.images;
                let images = out_block.len() / image_len;
                let image_refs = (first_image..first_image + images)
                    .map(|n| ImageRef::of(input, op, n))
                    .collect::<Result<Vec<_>>>()?;
                // The image is its own column matrix: 1×1, stride 1, one dense image per block.
                let in_place = shape.is_pointwise()
                    && images == 1
                    && image_refs[0].channels_are_dense(shape.width);
                if !in_place && scratch.cols.len() < group_rows.saturating_mul(width_max) {
                    let cols_shape = [group_rows, width_max];
                    crate::buffer::resize(op, &cols_shape, &mut scratch.cols, E::ZERO)?;
                }
                if images > 1 && scratch.out.len() < group_out.saturating_mul(width_max) {
                    let out_shape = [group_out, width_max];
                    crate::buffer::resize(op, &out_shape, &mut scratch.out, E::ZERO)?;
                }
                if !in_place {
                    stage_block(op, &image_refs, shape, &staging, &mut scratch.staged)?;
                }
                for tile in &blocking.tiles {
                    let width = images * tile.len();
                    for g in 0..shape.groups {
                        // W_g: [C_out/G, C_in/G·kh·kw]
                        let w_g = MatRef::row_major(
                            &weight[g * group_out * group_rows..(g + 1) * group_out * group_rows],
                            group_out,
                            group_rows,
                        )?;
                        let channels = g * group_in..(g + 1) * group_in;
                        // cols_block: [C_in/G·kh·kw, width]
                        let columns = if in_place {
                            let image = image_refs[0];
                            // the channel rows of the image itself, [C_in/G, oh·ow]
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
                                &image_refs,
                                &scratch.staged,
                                &staging,
                                shape,
                                channels,
                                tile.clone(),
                                cols,
                            );
                            MatRef::row_major(cols, group_rows, width)?
                        };
                        let out_rows = g * group_out..(g + 1) * group_out;
                        if images == 1 {
                            // Y_g[:, tile]: [C_out/G, width], rows oh·ow apart
                            let out_start = out_rows.start * positions + tile.start;
                            let beta =
                                fill_bias(bias, out_rows, out_block, [out_start, positions, width]);
                            let out_tile = MatMut::new(
                                &mut out_block[out_start..],
                                group_out,
                                width,
                                positions,
                                1,
                            )?;
                            gemm(E::ONE, w_g, columns, beta, out_tile)?;
                        } else {
                            // Y_block: [C_out/G, images·oh·ow], then copied into each image
                            let y_block = &mut scratch.out[..group_out * width];
                            let beta =
                                fill_bias(bias, out_rows.clone(), y_block, [0, width, width]);
                            gemm(
                                E::ONE,
                                w_g,
                                columns,
                                beta,
                                MatMut::row_major(y_block, group_out, width)?,
                            )?;
                            scatter_images(
                                y_block,
                                [shape.out_channels, positions],
                                images,
                                out_rows,
                                tile.clone(),
                                out_block,
                            );
                        }
                    }
                }
                Ok(())
            },
        )?;
    Ok(output)
}

/// Sets `buffer[start + o·row_stride ..][..width]` to `bias[rows.start + o]` for each row `o` of
/// the block, and returns the GEMM's β: 1 to add onto the bias, 0 without one.
fn fill_bias<E: Float>(
    bias: Option<&[E]>,
    rows: std::ops::Range<usize>,
    buffer: &mut [E],
    [start, row_stride, width]: [usize; 3],
) -> E {
    let Some(bias) = bias else {
        return E::ZERO;
    };
    for (o, &value) in bias[rows].iter().enumerate() {
        let row = start + o * row_stride;
        buffer[row..row + width].fill(value);
    }
    E::ONE
}
