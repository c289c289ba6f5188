//! col2im: the adjoint of im2col. Each column entry is added back onto the input pixel it was
//! read from; entries that im2col read from the padding are dropped.
//!
//! `dx[c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] += cols[(c·kh + ky)·kw + kx, p − p0]` for the
//! output positions `p = oy·ow + ox` in `p0..p1`. It mirrors im2col: the columns are added into
//! a zeroed staged image (one contiguous `+=` per output row, see [`super::staged`]), which is
//! then added onto the image, its padding dropped.

use std::ops::Range;

use rayon::prelude::*;

use super::staged::{col2im_staged, unstage_image, Staging};
use super::ConvShape;
use crate::error::Result;
use crate::Float;

/// The 1×1, no-padding case of col2im with any stride: `dx[c, oy·sh, ox·sw] =
/// cols[c, oy·ow + ox]` (every other pixel keeps its value), all output positions, rows of
/// `cols` `cols_stride` apart.
pub(crate) fn scatter_1x1<E: Float>(
    cols: &[E],
    cols_stride: usize,
    shape: &ConvShape,
    channels: Range<usize>,
    image: &mut [E],
) {
    let [oh, ow] = shape.out;
    let [sh, sw] = shape.stride;
    let (height, width) = (shape.height, shape.width);
    // cols: [C_tile, oh·ow], rows cols_stride apart
    for (c, src) in channels.zip(cols.chunks(cols_stride)) {
        let src = &src[..oh * ow];
        let channel = &mut image[c * height * width..(c + 1) * height * width];
        for (oy, src_row) in src.chunks_exact(ow).enumerate() {
            let row = &mut channel[oy * sh * width..(oy * sh + 1) * width];
            for (pixel, &value) in row.iter_mut().step_by(sw).zip(src_row) {
                *pixel += value;
            }
        }
    }
}

/// Adds `dcols: [C_tile·kh·kw, images·tile]` (image `i`'s columns at `i·tile.len()`) onto the
/// staged images `staged` of a block (one after the other; see [`unstage_block`]). 1×1 kernels
/// without padding add straight onto the images `dx_images: [images, C, H, W]` instead.
#[allow(clippy::too_many_arguments)]
pub(crate) fn block_col2im<E: Float>(
    dcols: &[E],
    shape: &ConvShape,
    staging: &Staging,
    channels: Range<usize>,
    tile: Range<usize>,
    staged: &mut [E],
    dx_images: &mut [E],
) {
    let images = dx_images.len() / (shape.in_channels * shape.height * shape.width);
    let width = images * tile.len();
    let image_len = shape.in_channels * shape.height * shape.width;
    let staged_len = staging.image_len(shape.in_channels);
    for i in 0..images {
        let dcols_i = &dcols[i * tile.len()..];
        if shape.is_one_by_one() {
            let dx_image = &mut dx_images[i * image_len..(i + 1) * image_len];
            scatter_1x1(dcols_i, width, shape, channels.clone(), dx_image);
        } else {
            let staged_i = &mut staged[i * staged_len..(i + 1) * staged_len];
            col2im_staged(
                dcols_i,
                width,
                shape,
                staging,
                channels.clone(),
                tile.clone(),
                staged_i,
            );
        }
    }
}

/// Zeroes the staged images of a block of `images` images, for [`block_col2im`] (an error
/// naming `op` if they cannot be allocated).
pub(crate) fn zero_staged_block<E: Float>(
    op: &'static str,
    images: usize,
    shape: &ConvShape,
    staging: &Staging,
    staged: &mut Vec<E>,
) -> Result<()> {
    staged.clear();
    if !shape.is_one_by_one() {
        staging.resize(op, images, shape.in_channels, staged)?;
    }
    Ok(())
}

/// Adds the staged images of a block onto `dx_images: [images, C, H, W]` (nothing to do for
/// 1×1 kernels without padding).
pub(crate) fn unstage_block<E: Float>(
    staged: &[E],
    shape: &ConvShape,
    staging: &Staging,
    dx_images: &mut [E],
) {
    if shape.is_one_by_one() {
        return;
    }
    let image_len = shape.in_channels * shape.height * shape.width;
    let staged_len = staging.image_len(shape.in_channels);
    for (staged_i, dx_image) in staged
        .chunks_exact(staged_len)
        .zip(dx_images.chunks_exact_mut(image_len))
    {
        unstage_image(staged_i, shape, staging, dx_image);
    }
}

/// The public col2im: `[N, C·kh·kw, oh·ow]` → `[N, C, H, W]`, images in parallel.
pub(crate) fn col2im_cpu<E: Float>(
    op: &'static str,
    columns: &[E],
    shape: &ConvShape,
) -> Result<Vec<E>> {
    let image_len = shape.in_channels * shape.height * shape.width;
    let cols_len = shape.in_channels * shape.kernel[0] * shape.kernel[1] * shape.positions();
    let mut images = crate::buffer::filled(op, &shape.input_shape(), E::ZERO)?;
    if image_len == 0 || cols_len == 0 {
        return Ok(images);
    }
    let staging = Staging::new(shape);
    images
        .par_chunks_mut(image_len)
        .zip(columns.par_chunks(cols_len))
        .try_for_each_init(Vec::new, |staged: &mut Vec<E>, (image, cols)| {
            // staged: [C, H + 2·ph, sw, L], zeroed
            staged.clear();
            staging.resize(op, 1, shape.in_channels, staged)?;
            let positions = shape.positions();
            // cols: [C·kh·kw, oh·ow] → staged → image: [C, H, W]
            col2im_staged(
                cols,
                positions,
                shape,
                &staging,
                0..shape.in_channels,
                0..positions,
                staged,
            );
            unstage_image(staged, shape, &staging, image);
            Ok(())
        })?;
    Ok(images)
}
