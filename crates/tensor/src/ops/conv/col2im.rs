//! col2im: the adjoint of im2col. Each column entry is added back onto the input pixel it was
//! read from; entries that im2col read from the padding are dropped.
//!
//! `dx[c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] += cols[(c·kh + ky)·kw + kx, p − p0]` for the
//! output positions `p = oy·ow + ox` in `p0..p1`. The loops mirror [`super::im2col::im2col_tile`]
//! exactly, with the copy turned into an accumulation (a vectorisable `+=` over a run of pixels
//! when the stride is 1).

use std::ops::Range;

use rayon::prelude::*;

use super::ConvShape;
use crate::Float;

/// Adds `cols: [(channels.len())·kh·kw, positions.len()]` onto `image: [C, H, W]` (dense) for
/// input channels `channels` and output positions `positions`.
pub(crate) fn col2im_tile<E: Float>(
    cols: &[E],
    shape: &ConvShape,
    channels: Range<usize>,
    positions: Range<usize>,
    image: &mut [E],
) {
    let [kh, kw] = shape.kernel;
    let [sh, sw] = shape.stride;
    let [ph, pw] = shape.padding;
    let [dh, dw] = shape.dilation;
    let (height, width) = (shape.height, shape.width);
    let ow = shape.out[1];
    let tile = positions.len();
    let first_row = positions.start / ow;
    let last_row = (positions.end - 1) / ow;
    // cols: [C_tile·kh·kw, tile]
    let mut rows = cols[..channels.len() * kh * kw * tile].chunks_exact(tile);
    for c in channels {
        let channel = &mut image[c * height * width..(c + 1) * height * width];
        for ky in 0..kh {
            for kx in 0..kw {
                let src = rows.next().expect("cols holds one row per tap");
                // Output positions ox whose tap kx lands inside the image.
                let first = pw.saturating_sub(kx * dw).div_ceil(sw);
                let end = match (width + pw).checked_sub(kx * dw + 1) {
                    Some(limit) => (limit / sw + 1).min(ow),
                    None => 0,
                };
                for oy in first_row..=last_row {
                    let iy = (oy * sh + ky * dh).wrapping_sub(ph);
                    if iy >= height {
                        continue;
                    }
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
                    let lo = first.clamp(ox0, ox1);
                    let hi = end.clamp(lo, ox1);
                    if hi == lo {
                        continue;
                    }
                    let at = oy * ow + lo - positions.start;
                    let run = &src[at..at + (hi - lo)];
                    let ix0 = lo * sw + kx * dw - pw;
                    let row = &mut channel[iy * width..(iy + 1) * width];
                    if sw == 1 {
                        for (pixel, &value) in row[ix0..ix0 + run.len()].iter_mut().zip(run) {
                            *pixel += value;
                        }
                    } else {
                        for (i, &value) in run.iter().enumerate() {
                            row[ix0 + i * sw] += value;
                        }
                    }
                }
            }
        }
    }
}

/// The 1×1, no-padding case of [`col2im_tile`] with any stride: `dx[c, oy·sh, ox·sw] =
/// cols[c, oy·ow + ox]` (every other pixel keeps its value), all output positions.
pub(crate) fn scatter_1x1<E: Float>(
    cols: &[E],
    shape: &ConvShape,
    channels: Range<usize>,
    image: &mut [E],
) {
    let [oh, ow] = shape.out;
    let [sh, sw] = shape.stride;
    let (height, width) = (shape.height, shape.width);
    // cols: [C_tile, oh·ow]
    for (c, src) in channels.zip(cols.chunks_exact(oh * ow)) {
        let channel = &mut image[c * height * width..(c + 1) * height * width];
        for (oy, src_row) in src.chunks_exact(ow).enumerate() {
            let row = &mut channel[oy * sh * width..(oy * sh + 1) * width];
            for (ox, &value) in src_row.iter().enumerate() {
                row[ox * sw] += value;
            }
        }
    }
}

/// The public col2im: `[N, C·kh·kw, oh·ow]` → `[N, C, H, W]`, images in parallel.
pub(crate) fn col2im_cpu<E: Float>(columns: &[E], shape: &ConvShape) -> Vec<E> {
    let image_len = shape.in_channels * shape.height * shape.width;
    let cols_len = shape.in_channels * shape.kernel[0] * shape.kernel[1] * shape.positions();
    let mut images = vec![E::ZERO; shape.batch * image_len];
    if image_len == 0 || cols_len == 0 {
        return images;
    }
    images
        .par_chunks_mut(image_len)
        .zip(columns.par_chunks(cols_len))
        .for_each(|(image, cols)| {
            // cols: [C·kh·kw, oh·ow] → image: [C, H, W]
            col2im_tile(
                cols,
                shape,
                0..shape.in_channels,
                0..shape.positions(),
                image,
            );
        });
    images
}
