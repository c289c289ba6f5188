//! The *staged* image: a zero-padded, phase-split copy of one image that turns every row segment
//! of im2col into one plain contiguous copy (and every segment of col2im into one contiguous
//! `+=`), with no bounds logic and no strided access in the inner loops.
//!
//! Channel `c` of the staged image holds the padded rows `yp = 0 .. H + 2·ph`; each padded row
//! of width `Wp = W + 2·pw` is split by the horizontal stride `sw` into `sw` phases of `L =
//! ceil(Wp / sw)` entries:
//!
//! ```text
//! staged[c][yp][q][j] = x[c, yp − ph, j·sw + q − pw]   (0 in the padding)
//! ```
//!
//! Kernel tap `(ky, kx)` at output position `(oy, ox)` reads padded pixel `(oy·sh + ky·dh,
//! ox·sw + kx·dw)`, which is phase `q = (kx·dw) mod sw`, entry `j = ox + ⌊kx·dw / sw⌋`: along an
//! output row, consecutive `ox` read consecutive entries. Staging costs one pass over the
//! (padded) input, against `kh·kw/(sh·sw)` passes for the columns it feeds.

use std::ops::Range;

use super::im2col::ImageRef;
use super::ConvShape;
use crate::error::Result;
use crate::Float;

/// Sizes of a staged image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Staging {
    /// Padded height, `H + 2·ph`.
    pub rows: usize,
    /// The horizontal stride: phases per row.
    pub phases: usize,
    /// Entries per phase, `ceil((W + 2·pw) / sw)`.
    pub phase_len: usize,
}

impl Staging {
    pub(crate) fn new(shape: &ConvShape) -> Self {
        let padded_width = shape.width + 2 * shape.padding[1];
        Staging {
            rows: shape.height + 2 * shape.padding[0],
            phases: shape.stride[1],
            phase_len: padded_width.div_ceil(shape.stride[1]),
        }
    }

    /// Entries per staged row (all phases).
    pub(crate) fn row_len(&self) -> usize {
        self.phases * self.phase_len
    }

    /// Entries per staged channel.
    pub(crate) fn channel_len(&self) -> usize {
        self.rows * self.row_len()
    }

    /// Entries of a staged image of `channels` channels.
    pub(crate) fn image_len(&self, channels: usize) -> usize {
        channels * self.channel_len()
    }

    /// The shape of a staged image of `channels` channels, `[C, rows, phases, phase_len]`
    /// (checked by `ConvShape::new`, so the lengths above do not overflow).
    pub(crate) fn image_shape(&self, channels: usize) -> [usize; 4] {
        [channels, self.rows, self.phases, self.phase_len]
    }

    /// Resizes `staged` to `images` staged images of `channels` channels, new entries 0; an
    /// error naming `op` if they cannot be allocated (padding and strides alone can make a
    /// staged image far larger than the input and the output).
    pub(crate) fn resize<E: Float>(
        &self,
        op: &'static str,
        images: usize,
        channels: usize,
        staged: &mut Vec<E>,
    ) -> Result<()> {
        let [c, rows, phases, len] = self.image_shape(channels);
        crate::buffer::resize(op, &[images, c, rows, phases, len], staged, E::ZERO)
    }
}

/// The entries `j` of phase `q` that hold a real pixel, `0 ≤ j·sw + q − pw < W`.
fn inside(shape: &ConvShape, staging: &Staging, phase: usize) -> Range<usize> {
    let (pw, sw, width) = (shape.padding[1], shape.stride[1], shape.width);
    let first = pw.saturating_sub(phase).div_ceil(sw);
    let end = match (width + pw).checked_sub(phase + 1) {
        Some(limit) => (limit / sw + 1).min(staging.phase_len),
        None => 0,
    };
    first.min(end)..end
}

/// Writes the staged copy of `image` (all channels) into `staged: [C, rows, phases, phase_len]`.
pub(crate) fn stage_image<E: Float>(
    image: ImageRef<'_, E>,
    shape: &ConvShape,
    staging: &Staging,
    staged: &mut [E],
) {
    let (ph, pw, sw) = (shape.padding[0], shape.padding[1], shape.stride[1]);
    let [channel_stride, row_stride, pixel_stride] = image.strides;
    let phases: Vec<Range<usize>> = (0..sw).map(|q| inside(shape, staging, q)).collect();
    // One zero-padded input row, [2·L] (for stride 2 only).
    let mut padded = vec![E::ZERO; if sw == 2 { staging.row_len() } else { 0 }];
    // staged: [C, H + 2·ph, sw, L]
    for (c, channel) in staged
        .chunks_exact_mut(staging.channel_len())
        .take(shape.in_channels)
        .enumerate()
    {
        for (yp, row) in channel.chunks_exact_mut(staging.row_len()).enumerate() {
            let y = yp.wrapping_sub(ph);
            if y >= shape.height {
                row.fill(E::ZERO);
                continue;
            }
            let source = image.offset + c * channel_stride + y * row_stride;
            if sw == 2 && pixel_stride == 1 {
                // The common strided case in one pass: the padded row, deinterleaved.
                padded.fill(E::ZERO);
                padded[pw..pw + shape.width]
                    .copy_from_slice(&image.data[source..source + shape.width]);
                let (even, odd) = row.split_at_mut(staging.phase_len);
                for ((e, o), pair) in even.iter_mut().zip(odd).zip(padded.chunks_exact(2)) {
                    *e = pair[0];
                    *o = pair[1];
                }
                continue;
            }
            for (q, (phase, inside)) in row
                .chunks_exact_mut(staging.phase_len)
                .zip(&phases)
                .enumerate()
            {
                phase[..inside.start].fill(E::ZERO);
                phase[inside.end..].fill(E::ZERO);
                if inside.is_empty() {
                    continue;
                }
                let first = source + (inside.start * sw + q - pw) * pixel_stride;
                let run = &mut phase[inside.clone()];
                if sw == 1 && pixel_stride == 1 {
                    run.copy_from_slice(&image.data[first..first + run.len()]);
                } else {
                    let pixels = image.data[first..].iter().step_by(sw * pixel_stride);
                    for (value, &pixel) in run.iter_mut().zip(pixels) {
                        *value = pixel;
                    }
                }
            }
        }
    }
}

/// The adjoint of [`stage_image`]: adds the entries of `staged` that hold real pixels onto
/// `image: [C, H, W]` (dense); padding entries are dropped.
pub(crate) fn unstage_image<E: Float>(
    staged: &[E],
    shape: &ConvShape,
    staging: &Staging,
    image: &mut [E],
) {
    let (ph, pw, sw) = (shape.padding[0], shape.padding[1], shape.stride[1]);
    let (height, width) = (shape.height, shape.width);
    let phases: Vec<Range<usize>> = (0..sw).map(|q| inside(shape, staging, q)).collect();
    // staged: [C, H + 2·ph, sw, L] → image: [C, H, W]
    for (channel, dx_channel) in staged
        .chunks_exact(staging.channel_len())
        .zip(image.chunks_exact_mut(height * width))
    {
        for (y, dx_row) in dx_channel.chunks_exact_mut(width).enumerate() {
            let row = &channel[(y + ph) * staging.row_len()..][..staging.row_len()];
            for (q, (phase, inside)) in row.chunks_exact(staging.phase_len).zip(&phases).enumerate()
            {
                if inside.is_empty() {
                    continue;
                }
                let run = &phase[inside.clone()];
                let first = inside.start * sw + q - pw;
                for (pixel, &value) in dx_row[first..].iter_mut().step_by(sw).zip(run) {
                    *pixel += value;
                }
            }
        }
    }
}

/// Calls `segment(oy, ox0, ox1, at)` for each output row `oy` that the positions `positions`
/// touch: the row's share is `ox ∈ [ox0, ox1)`, starting at column `at` of the tile.
#[inline]
pub(crate) fn for_each_row_segment(
    positions: &Range<usize>,
    out_width: usize,
    mut segment: impl FnMut(usize, usize, usize, usize),
) {
    let first_row = positions.start / out_width;
    let last_row = (positions.end - 1) / out_width;
    for oy in first_row..=last_row {
        let ox0 = if oy == first_row {
            positions.start - oy * out_width
        } else {
            0
        };
        let ox1 = if oy == last_row {
            positions.end - oy * out_width
        } else {
            out_width
        };
        segment(oy, ox0, ox1, oy * out_width + ox0 - positions.start);
    }
}

/// `dst ← src` for the short runs of small images without a call to `memcpy`: fixed-size array
/// copies (vector moves) of 8, or 4, with a last one that overlaps the one before instead of a
/// scalar tail (a copy may write the same entry twice).
#[inline(always)]
fn copy_run<E: Copy>(dst: &mut [E], src: &[E]) {
    #[inline(always)]
    fn copy_fixed<E: Copy, const N: usize>(dst: &mut [E], src: &[E]) {
        let d: &mut [E; N] = dst.try_into().expect("N entries");
        *d = *<&[E; N]>::try_from(src).expect("N entries");
    }
    let n = dst.len();
    debug_assert_eq!(n, src.len());
    if n >= 32 {
        dst.copy_from_slice(src);
    } else if n >= 8 {
        let mut i = 0;
        while i + 8 <= n {
            copy_fixed::<E, 8>(&mut dst[i..i + 8], &src[i..i + 8]);
            i += 8;
        }
        if i < n {
            copy_fixed::<E, 8>(&mut dst[n - 8..], &src[n - 8..]);
        }
    } else if n >= 4 {
        copy_fixed::<E, 4>(&mut dst[..4], &src[..4]);
        copy_fixed::<E, 4>(&mut dst[n - 4..], &src[n - 4..]);
    } else {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = s;
        }
    }
}

/// `dst += src`, in fixed groups of 8 (straight-line vector adds for the short runs of small
/// images), then the rest one by one.
#[inline(always)]
fn add_run<E: Float>(dst: &mut [E], src: &[E]) {
    let mut dst_chunks = dst.chunks_exact_mut(8);
    let mut src_chunks = src.chunks_exact(8);
    for (d, s) in (&mut dst_chunks).zip(&mut src_chunks) {
        let d: &mut [E; 8] = d.try_into().expect("chunks of 8");
        let s: &[E; 8] = s.try_into().expect("chunks of 8");
        for (d, &s) in d.iter_mut().zip(s) {
            *d += s;
        }
    }
    for (d, &s) in dst_chunks
        .into_remainder()
        .iter_mut()
        .zip(src_chunks.remainder())
    {
        *d += s;
    }
}

/// im2col from a staged image: fills `cols: [(channels.len())·kh·kw, positions.len()]` (rows
/// `cols_stride` apart) with `cols[(c·kh + ky)·kw + kx, p − p0] = staged[c][oy·sh + ky·dh][q][ox +
/// ⌊kx·dw/sw⌋]`, `q = kx·dw mod sw`, one contiguous copy per output row.
pub(crate) fn im2col_staged<E: Float>(
    staged: &[E],
    shape: &ConvShape,
    staging: &Staging,
    channels: Range<usize>,
    positions: Range<usize>,
    cols: &mut [E],
    cols_stride: usize,
) {
    let [kh, kw] = shape.kernel;
    let (sh, sw) = (shape.stride[0], shape.stride[1]);
    let [dh, dw] = shape.dilation;
    let tile = positions.len();
    let ow = shape.out[1];
    let whole_rows = (positions.start % ow, positions.end % ow) == (0, 0);
    let first_row = positions.start / ow;
    // cols: [C_tile·kh·kw, tile], rows cols_stride apart
    let mut rows = cols.chunks_mut(cols_stride).map(|row| &mut row[..tile]);
    for c in channels {
        let channel = &staged[c * staging.channel_len()..][..staging.channel_len()];
        for ky in 0..kh {
            for kx in 0..kw {
                let dst = rows.next().expect("cols holds one row per tap");
                let tap = (kx * dw) % sw * staging.phase_len + kx * dw / sw;
                if whole_rows {
                    // Output rows oy = first_row .. at staged rows oy·sh + ky·dh: one copy each.
                    let base = (first_row * sh + ky * dh) * staging.row_len() + tap;
                    let sources = channel[base..].chunks(sh * staging.row_len());
                    for (d, s) in dst.chunks_exact_mut(ow).zip(sources) {
                        copy_run(d, &s[..ow]);
                    }
                    continue;
                }
                for_each_row_segment(&positions, ow, |oy, ox0, ox1, at| {
                    let src = (oy * sh + ky * dh) * staging.row_len() + tap + ox0;
                    copy_run(
                        &mut dst[at..at + (ox1 - ox0)],
                        &channel[src..src + (ox1 - ox0)],
                    );
                });
            }
        }
    }
}

/// col2im into a staged image, the adjoint of [`im2col_staged`]: adds each row segment of
/// `cols` onto the staged entries it was copied from.
pub(crate) fn col2im_staged<E: Float>(
    cols: &[E],
    cols_stride: usize,
    shape: &ConvShape,
    staging: &Staging,
    channels: Range<usize>,
    positions: Range<usize>,
    staged: &mut [E],
) {
    let [kh, kw] = shape.kernel;
    let (sh, sw) = (shape.stride[0], shape.stride[1]);
    let [dh, dw] = shape.dilation;
    let tile = positions.len();
    let ow = shape.out[1];
    let whole_rows = (positions.start % ow, positions.end % ow) == (0, 0);
    let first_row = positions.start / ow;
    // cols: [C_tile·kh·kw, tile], rows cols_stride apart
    let mut rows = cols.chunks(cols_stride).map(|row| &row[..tile]);
    for c in channels {
        let channel = &mut staged[c * staging.channel_len()..][..staging.channel_len()];
        for ky in 0..kh {
            for kx in 0..kw {
                let src = rows.next().expect("cols holds one row per tap");
                let tap = (kx * dw) % sw * staging.phase_len + kx * dw / sw;
                if whole_rows {
                    // Output rows oy = first_row .. onto staged rows oy·sh + ky·dh: one add each.
                    let base = (first_row * sh + ky * dh) * staging.row_len() + tap;
                    let targets = channel[base..].chunks_mut(sh * staging.row_len());
                    for (t, s) in targets.zip(src.chunks_exact(ow)) {
                        add_run(&mut t[..ow], s);
                    }
                    continue;
                }
                for_each_row_segment(&positions, ow, |oy, ox0, ox1, at| {
                    let dst = (oy * sh + ky * dh) * staging.row_len() + tap + ox0;
                    add_run(
                        &mut channel[dst..dst + (ox1 - ox0)],
                        &src[at..at + (ox1 - ox0)],
                    );
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::Conv2dParams;
    use crate::Tensor;

    #[test]
    fn staged_entries_match_the_definition_and_unstage_inverts_stage() {
        for (width, padding, stride) in [(1, 0, 1), (5, 2, 2), (7, 3, 3), (6, 1, 2), (4, 0, 3)] {
            let params = Conv2dParams {
                stride: [1, stride],
                padding: [padding, padding],
                ..Default::default()
            };
            let shape = ConvShape::new("t", &[1, 2, 3, width], &[1, 2, 1, 1], &params).unwrap();
            let staging = Staging::new(&shape);
            let x: Vec<f64> = (0..2 * 3 * width).map(|v| v as f64 + 1.0).collect();
            let tensor = Tensor::from_vec(x.clone(), &[1, 2, 3, width]).unwrap();
            let mut staged = vec![f64::NAN; staging.image_len(2)];
            stage_image(
                ImageRef::of(&tensor, "t", 0).unwrap(),
                &shape,
                &staging,
                &mut staged,
            );
            for (i, &value) in staged.iter().enumerate() {
                let (c, yp) = (
                    i / staging.channel_len(),
                    (i / staging.row_len()) % staging.rows,
                );
                let (q, j) = ((i / staging.phase_len) % stride, i % staging.phase_len);
                let (y, x_) = (
                    yp as isize - padding as isize,
                    (j * stride + q) as isize - padding as isize,
                );
                let expected = if (0..3).contains(&y) && (0..width as isize).contains(&x_) {
                    x[(c * 3 + y as usize) * width + x_ as usize]
                } else {
                    0.0
                };
                assert_eq!(
                    value, expected,
                    "width {width} pad {padding} stride {stride} entry {i}"
                );
            }
            // Each pixel is staged exactly once, so unstage(stage(x)) = x.
            let mut back = vec![0.0; x.len()];
            unstage_image(&staged, &shape, &staging, &mut back);
            assert_eq!(back, x);
        }
    }
}
