//! im2col: one image's pixels rearranged into the column matrix of a convolution, a tile of
//! output positions at a time.
//!
//! `cols[(c·kh + ky)·kw + kx, p − p0] = x[c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]` for the
//! output positions `p = oy·ow + ox` in `p0..p1`, 0 in the padding. Each image is first copied
//! into its staged form (zero-padded, split by the horizontal stride, see [`super::staged`]),
//! after which each output row's share of a row of `cols` is one contiguous copy.

use std::ops::Range;

use rayon::prelude::*;

use super::staged::{im2col_staged, stage_image, Staging};
use super::ConvShape;
use crate::error::Result;
use crate::{Float, Tensor};

/// One image of an NCHW tensor, read through its strides: pixel `(c, y, x)` is
/// `data[offset + c·strides[0] + y·strides[1] + x·strides[2]]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ImageRef<'a, E> {
    pub data: &'a [E],
    pub offset: usize,
    pub strides: [usize; 3],
}

impl<'a, E: Float> ImageRef<'a, E> {
    /// Image `n` of `tensor: [N, C, H, W]` (any strides).
    pub(crate) fn of(tensor: &'a Tensor<E>, op: &'static str, n: usize) -> Result<Self> {
        let (data, layout) = tensor.cpu_storage(op)?;
        let strides = layout.strides();
        Ok(ImageRef {
            data,
            offset: layout.offset() + n * strides[0],
            strides: [strides[1], strides[2], strides[3]],
        })
    }

    /// Whether each channel's `H·W` pixels are one dense run, so channel `c` is the slice
    /// starting at `offset + c·strides[0]`.
    pub(crate) fn channels_are_dense(&self, width: usize) -> bool {
        self.strides[2] == 1 && self.strides[1] == width
    }
}

/// The 1×1, no-padding case of im2col with any stride: `cols[c, p] = x[c, oy·sh, ox·sw]`,
/// a strided gather of the subsampled pixels for channels `channels` and all output positions,
/// rows of `cols` `cols_stride` apart.
pub(crate) fn subsample_1x1<E: Float>(
    image: ImageRef<'_, E>,
    shape: &ConvShape,
    channels: Range<usize>,
    cols: &mut [E],
    cols_stride: usize,
) {
    let [oh, ow] = shape.out;
    let [sh, sw] = shape.stride;
    let [channel_stride, row_stride, pixel_stride] = image.strides;
    // cols: [C_tile, oh·ow], rows cols_stride apart
    for (c, dst) in channels.zip(cols.chunks_mut(cols_stride)) {
        let dst = &mut dst[..oh * ow];
        for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
            let src = image.offset + c * channel_stride + oy * sh * row_stride;
            let pixels = image.data[src..].iter().step_by(sw * pixel_stride);
            for (value, &pixel) in dst_row.iter_mut().zip(pixels) {
                *value = pixel;
            }
        }
    }
}

/// Prepares the images of a block for [`block_columns`]: their staged copies, one after the
/// other in `staged` (nothing for 1×1 kernels without padding, which read the images directly).
/// Fails, naming `op`, if the staged images cannot be allocated.
pub(crate) fn stage_block<E: Float>(
    op: &'static str,
    images: &[ImageRef<'_, E>],
    shape: &ConvShape,
    staging: &Staging,
    staged: &mut Vec<E>,
) -> Result<()> {
    if shape.is_one_by_one() {
        return Ok(());
    }
    staging.resize(op, images.len(), shape.in_channels, staged)?;
    let len = staging.image_len(shape.in_channels);
    for (&image, staged_image) in images.iter().zip(staged.chunks_exact_mut(len)) {
        // staged image: [C, H + 2·ph, sw, L]
        stage_image(image, shape, staging, staged_image);
    }
    Ok(())
}

/// The columns of a block of images side by side: `cols: [C_tile·kh·kw, images·tile]`, image
/// `i`'s columns at `i·tile.len()`, from the staged images of [`stage_block`] (1×1 kernels
/// without padding take the plain subsample of the images).
pub(crate) fn block_columns<E: Float>(
    images: &[ImageRef<'_, E>],
    staged: &[E],
    staging: &Staging,
    shape: &ConvShape,
    channels: Range<usize>,
    tile: Range<usize>,
    cols: &mut [E],
) {
    let width = images.len() * tile.len();
    let staged_len = staging.image_len(shape.in_channels);
    for (i, &image) in images.iter().enumerate() {
        let cols_i = &mut cols[i * tile.len()..];
        if shape.is_one_by_one() {
            subsample_1x1(image, shape, channels.clone(), cols_i, width);
        } else {
            let staged_i = &staged[i * staged_len..(i + 1) * staged_len];
            im2col_staged(
                staged_i,
                shape,
                staging,
                channels.clone(),
                tile.clone(),
                cols_i,
                width,
            );
        }
    }
}

/// The public im2col: every image's full column matrix, `[N, C·kh·kw, oh·ow]`, images in
/// parallel.
pub(crate) fn im2col_cpu<E: Float>(
    op: &'static str,
    input: &Tensor<E>,
    shape: &ConvShape,
) -> Result<Vec<E>> {
    input.cpu_storage(op)?;
    let rows = shape.in_channels * shape.kernel[0] * shape.kernel[1];
    let per_image = rows * shape.positions();
    let mut columns = crate::buffer::filled(op, &[shape.batch, rows, shape.positions()], E::ZERO)?;
    if per_image == 0 {
        return Ok(columns);
    }
    let staging = Staging::new(shape);
    columns
        .par_chunks_mut(per_image)
        .enumerate()
        .try_for_each_init(Vec::new, |staged: &mut Vec<E>, (n, cols)| -> Result<()> {
            let image = ImageRef::of(input, op, n)?;
            staging.resize(op, 1, shape.in_channels, staged)?;
            // staged: [C, H + 2·ph, sw, L]
            stage_image(image, shape, &staging, staged);
            let positions = shape.positions();
            // cols: [C·kh·kw, oh·ow]
            im2col_staged(
                staged,
                shape,
                &staging,
                0..shape.in_channels,
                0..positions,
                cols,
                positions,
            );
            Ok(())
        })?;
    Ok(columns)
}
