//! im2col: one image's pixels rearranged into the column matrix of a convolution, a tile of
//! output positions at a time.
//!
//! `cols[(c·kh + ky)·kw + kx, p − p0] = x[c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]` for the
//! output positions `p = oy·ow + ox` in `p0..p1`, 0 in the padding. The kernel walks one row of
//! `cols` at a time, output row by output row: the in-bounds part of each output row is one run
//! of input pixels (a `copy_from_slice` when the stride and the pixel stride are 1), the padded
//! ends are zero fills.

use std::ops::Range;

use rayon::prelude::*;

use super::ConvShape;
use crate::error::Result;
use crate::{Float, Tensor};

/// Bytes of column matrix one tile may take: a tile is built and consumed by the GEMM while it
/// is in the (1 MiB) L2 cache.
const COLUMN_TILE_BYTES: usize = 512 * 1024;
/// Fewest output positions per tile: below this the GEMM packs its `A` operand (the weight) too
/// often for the work it does.
const MIN_TILE_POSITIONS: usize = 256;

/// Splits the `positions` output positions of one image into tiles of about equal size, each
/// with a column matrix of `rows × len` within [`COLUMN_TILE_BYTES`] (but at least
/// [`MIN_TILE_POSITIONS`] wide).
pub(crate) fn position_tiles<E>(rows: usize, positions: usize) -> Vec<Range<usize>> {
    let by_budget = COLUMN_TILE_BYTES / (rows.max(1) * std::mem::size_of::<E>());
    let width = by_budget.max(MIN_TILE_POSITIONS).min(positions).max(1);
    let count = positions.div_ceil(width).max(1);
    let width = positions.div_ceil(count).max(1);
    (0..count)
        .map(|i| i * width..((i + 1) * width).min(positions))
        .filter(|range| !range.is_empty())
        .collect()
}

/// The tiles of output positions for one image: the whole image for a 1×1 kernel without
/// padding (its columns are the image itself or a plain subsample), else [`position_tiles`].
pub(crate) fn image_tiles<E>(shape: &ConvShape) -> Vec<Range<usize>> {
    if shape.is_one_by_one() {
        std::iter::once(0..shape.positions()).collect()
    } else {
        position_tiles::<E>(shape.group_rows(), shape.positions())
    }
}

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

/// The output positions `ox` of one output row at which kernel column `kx` reads inside the
/// image, `ox·sw − pw + kx·dw ∈ [0, W)`, as a range clipped to `0..ow`.
#[inline]
fn valid_range(
    tap_offset: usize,
    padding: usize,
    stride: usize,
    size: usize,
    out: usize,
) -> Range<usize> {
    // ix = o·s + tap_offset − padding ≥ 0  ⇔  o ≥ ceil((padding − tap_offset) / s)
    let first = padding.saturating_sub(tap_offset).div_ceil(stride);
    // ix ≤ size − 1  ⇔  o·s ≤ size − 1 + padding − tap_offset
    let end = match (size + padding).checked_sub(tap_offset + 1) {
        Some(limit) => (limit / stride + 1).min(out),
        None => 0,
    };
    first.min(end)..end
}

/// Fills `cols: [(channels.len())·kh·kw, positions.len()]` (row-major) with the column matrix of
/// input channels `channels` at output positions `positions` of `image`.
pub(crate) fn im2col_tile<E: Float>(
    image: ImageRef<'_, E>,
    shape: &ConvShape,
    channels: Range<usize>,
    positions: Range<usize>,
    cols: &mut [E],
) {
    let [kh, kw] = shape.kernel;
    let [sh, sw] = shape.stride;
    let [ph, pw] = shape.padding;
    let [dh, dw] = shape.dilation;
    let ow = shape.out[1];
    let tile = positions.len();
    let [channel_stride, row_stride, pixel_stride] = image.strides;
    let first_row = positions.start / ow;
    let last_row = (positions.end - 1) / ow;
    // cols: [C_tile·kh·kw, tile]
    let mut rows = cols[..channels.len() * kh * kw * tile].chunks_exact_mut(tile);
    for c in channels {
        let channel_base = image.offset + c * channel_stride;
        for ky in 0..kh {
            for kx in 0..kw {
                let dst = rows.next().expect("cols holds one row per tap");
                let valid = valid_range(kx * dw, pw, sw, shape.width, ow);
                for oy in first_row..=last_row {
                    // This output row's share of the tile: ox in [ox0, ox1), at dst[at..].
                    let ox0 = if oy == first_row {
                        positions.start - oy * ow
                    } else {
                        0
                    };
                    let ox1 = if oy == last_row {
                        positions.end - oy * ow
                    } else {
                        ow
                    };
                    let at = oy * ow + ox0 - positions.start;
                    let segment = &mut dst[at..at + (ox1 - ox0)];
                    let iy = (oy * sh + ky * dh).wrapping_sub(ph);
                    if iy >= shape.height {
                        segment.fill(E::ZERO);
                        continue;
                    }
                    let lo = valid.start.clamp(ox0, ox1);
                    let hi = valid.end.clamp(lo, ox1);
                    segment[..lo - ox0].fill(E::ZERO);
                    segment[hi - ox0..].fill(E::ZERO);
                    if hi > lo {
                        let ix0 = lo * sw + kx * dw - pw;
                        let src = channel_base + iy * row_stride + ix0 * pixel_stride;
                        let run = &mut segment[lo - ox0..hi - ox0];
                        if sw == 1 && pixel_stride == 1 {
                            run.copy_from_slice(&image.data[src..src + run.len()]);
                        } else {
                            let step = sw * pixel_stride;
                            for (i, value) in run.iter_mut().enumerate() {
                                *value = image.data[src + i * step];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The 1×1, no-padding case of [`im2col_tile`] with any stride: `cols[c, p] = x[c, oy·sh, ox·sw]`,
/// a strided gather of the subsampled pixels for channels `channels` and all output positions.
pub(crate) fn subsample_1x1<E: Float>(
    image: ImageRef<'_, E>,
    shape: &ConvShape,
    channels: Range<usize>,
    cols: &mut [E],
) {
    let [oh, ow] = shape.out;
    let [sh, sw] = shape.stride;
    let [channel_stride, row_stride, pixel_stride] = image.strides;
    // cols: [C_tile, oh·ow]
    for (c, dst) in channels.zip(cols.chunks_exact_mut(oh * ow)) {
        for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
            let src = image.offset + c * channel_stride + oy * sh * row_stride;
            let step = sw * pixel_stride;
            for (ox, value) in dst_row.iter_mut().enumerate() {
                *value = image.data[src + ox * step];
            }
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
    let mut columns = vec![E::ZERO; shape.batch * per_image];
    if per_image == 0 {
        return Ok(columns);
    }
    columns
        .par_chunks_mut(per_image)
        .enumerate()
        .try_for_each(|(n, cols)| -> Result<()> {
            let image = ImageRef::of(input, op, n)?;
            // cols: [C·kh·kw, oh·ow]
            im2col_tile(
                image,
                shape,
                0..shape.in_channels,
                0..shape.positions(),
                cols,
            );
            Ok(())
        })?;
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_range_matches_brute_force() {
        for size in 1usize..6 {
            for padding in 0..4 {
                for stride in 1..4 {
                    for tap in 0..7 {
                        let out = (size + 2 * padding).saturating_sub(tap) / stride + 1;
                        let expected: Vec<usize> = (0..out)
                            .filter(|&o| {
                                let ix = (o * stride + tap) as isize - padding as isize;
                                ix >= 0 && (ix as usize) < size
                            })
                            .collect();
                        let got: Vec<usize> =
                            valid_range(tap, padding, stride, size, out).collect();
                        assert_eq!(
                            got, expected,
                            "size {size} pad {padding} stride {stride} tap {tap}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn tiles_cover_positions_once() {
        for rows in [1, 9, 147, 576, 2304, 100_000] {
            for positions in [1, 7, 49, 196, 257, 3136, 12544] {
                let tiles = position_tiles::<f32>(rows, positions);
                let mut next = 0;
                for tile in &tiles {
                    assert_eq!(tile.start, next);
                    assert!(!tile.is_empty());
                    next = tile.end;
                }
                assert_eq!(next, positions);
            }
        }
    }
}
