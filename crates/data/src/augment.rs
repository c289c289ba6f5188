//! Data augmentation of He et al. 2015, §4.2 (CIFAR-10): "4 pixels are padded on each side, and
//! a 32×32 crop is randomly sampled from the padded image or its horizontal flip."
//!
//! Here generally: pad `padding` pixels on each side of an H×W image, take a crop of
//! `crop_height × crop_width` (by default H×W) at a random offset (top, left) in the padded
//! image, and with probability ½ mirror it left–right. Padded pixels are 0 in the network's
//! input, i.e. after normalisation (the paper subtracts the mean first, then pads with zeros);
//! without normalisation that is black.
//!
//! The conversion of one image from bytes to floats, with or without augmentation, is
//! [`write_image`]: output pixel (c, y, x) takes the padded-image pixel
//! `(c, top + y, left + x')` with `x' = crop_width − 1 − x` if flipped, else `x`.

use unravel_tensor::{Float, Rng};

use crate::error::{DataError, Result};
use crate::normalize::Normalization;

/// Random pad-crop-flip augmentation (He et al. 2015, §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Augmentation {
    /// Zero pixels added on each side before cropping.
    pub padding: usize,
    /// (height, width) of the crop; `None` means the image's own size.
    pub crop: Option<(usize, usize)>,
    /// Whether to mirror left–right with probability ½.
    pub horizontal_flip: bool,
}

impl Augmentation {
    /// The paper's CIFAR-10 augmentation: pad 4, crop back to the image size, random flip.
    pub fn paper() -> Self {
        Augmentation {
            padding: 4,
            crop: None,
            horizontal_flip: true,
        }
    }

    /// [C, crop height, crop width] for images of `image_shape` = [C, H, W]; fails if the crop
    /// is empty or larger than the padded image.
    pub fn output_shape(&self, image_shape: [usize; 3]) -> Result<[usize; 3]> {
        let [channels, height, width] = image_shape;
        let (crop_height, crop_width) = self.crop.unwrap_or((height, width));
        let padded = (
            height.saturating_add(2 * self.padding),
            width.saturating_add(2 * self.padding),
        );
        if crop_height == 0 || crop_width == 0 || crop_height > padded.0 || crop_width > padded.1 {
            return Err(DataError::config(
                "augmentation",
                format!(
                    "crop {crop_height}×{crop_width} does not fit the padded image {}×{}",
                    padded.0, padded.1
                ),
            ));
        }
        Ok([channels, crop_height, crop_width])
    }

    /// Draws one image's crop offset and flip from `rng`, in this order: `top` uniform in
    /// `0..=H+2p−crop_height`, `left` uniform in `0..=W+2p−crop_width` (each one
    /// [`Rng::below`] call, made even when the range has one value), then, if flips are on,
    /// `flip = rng.below(2) == 1`. Call [`Augmentation::output_shape`] first to validate.
    pub fn draw(&self, image_shape: [usize; 3], rng: &mut Rng) -> Transform {
        let [_, height, width] = image_shape;
        let (crop_height, crop_width) = self.crop.unwrap_or((height, width));
        let top_choices = (height + 2 * self.padding).saturating_sub(crop_height) + 1;
        let left_choices = (width + 2 * self.padding).saturating_sub(crop_width) + 1;
        let top = rng.below(top_choices);
        let left = rng.below(left_choices);
        let flip = self.horizontal_flip && rng.below(2) == 1;
        Transform {
            padding: self.padding,
            top,
            left,
            flip,
        }
    }
}

/// Where one image's crop lies in its padded image, and whether it is mirrored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Transform {
    /// Padding on each side of the image before cropping.
    pub padding: usize,
    /// Row of the crop's top-left pixel in the padded image.
    pub top: usize,
    /// Column of the crop's top-left pixel in the padded image.
    pub left: usize,
    /// Whether the crop is mirrored left–right.
    pub flip: bool,
}

impl Transform {
    /// No padding, no offset, no flip: the image as it is.
    pub const IDENTITY: Transform = Transform {
        padding: 0,
        top: 0,
        left: 0,
        flip: false,
    };
}

/// Float values of the 256 byte values for each channel: `p / 255`, or with a normalisation
/// `(p / 255 − mean[c]) / std[c]`, computed in f64 and rounded once to `E`.
#[derive(Debug, Clone)]
pub struct PixelTable<E> {
    values: Vec<[E; 256]>,
}

impl<E: Float> PixelTable<E> {
    /// The table for `channels` channels; `normalization` must have that many (checked by the
    /// loader).
    pub fn new(channels: usize, normalization: Option<&Normalization>) -> Self {
        let values = (0..channels)
            .map(|channel| {
                std::array::from_fn(|pixel| {
                    let pixel = pixel as u8;
                    E::from_f64(match normalization {
                        Some(norm) => norm.apply(channel, pixel),
                        None => f64::from(pixel) / 255.0,
                    })
                })
            })
            .collect();
        PixelTable { values }
    }

    /// The float value of byte `pixel` in `channel`.
    pub fn value(&self, channel: usize, pixel: u8) -> E {
        self.values[channel][usize::from(pixel)]
    }
}

/// Writes one image, bytes [C, H, W], into `output` = [C, crop height, crop width] floats,
/// cropped, flipped and converted as `transform` and `table` say (see the module
/// documentation). Positions that fall on the padding get 0.
///
/// Panics if `image` or `output` is shorter than its shape says, or `transform` does not fit
/// (the loader validates both through [`Augmentation::output_shape`]).
pub fn write_image<E: Float>(
    image: &[u8],
    image_shape: [usize; 3],
    transform: Transform,
    table: &PixelTable<E>,
    output: &mut [E],
    output_shape: [usize; 3],
) {
    let [channels, height, width] = image_shape;
    let [_, out_height, out_width] = output_shape;
    for channel in 0..channels {
        let plane = &image[channel * height * width..(channel + 1) * height * width];
        let out_plane = &mut output[channel * out_height * out_width..][..out_height * out_width];
        for (y, out_row) in out_plane.chunks_exact_mut(out_width).enumerate() {
            // Row in the unpadded image, if inside it.
            let source_y = (transform.top + y).checked_sub(transform.padding);
            let source_row = match source_y {
                Some(row) if row < height => &plane[row * width..(row + 1) * width],
                _ => {
                    out_row.fill(E::ZERO);
                    continue;
                }
            };
            for (x, out_value) in out_row.iter_mut().enumerate() {
                let crop_x = if transform.flip { out_width - 1 - x } else { x };
                *out_value = match (transform.left + crop_x).checked_sub(transform.padding) {
                    Some(column) if column < width => table.value(channel, source_row[column]),
                    _ => E::ZERO,
                };
            }
        }
    }
}
