//! How the work of one convolution is cut into GEMM-sized column blocks.
//!
//! A *block* is a set of output positions whose columns are built together and fed to one GEMM
//! per group: `cols_block: [C_in/G·kh·kw, width]`.
//! - Big images are cut into *tiles* of positions, so that a tile's columns fit in the L2 cache
//!   (`cols_tile` is written by im2col and read by the GEMM while still there).
//! - Small images (fewer than [`MIN_BLOCK_WIDTH`] positions, e.g. 8×8 or 7×7) are grouped, whole
//!   images side by side: column `i·oh·ow + p` of the block is position `p` of image `i`. One
//!   GEMM per image would be too narrow: the GEMM would pack the weight matrix once for very
//!   little work, and a weight-gradient GEMM would read and write all of `dW` for every image.
//!
//! The blocking depends only on the shapes, never on the thread count, so every sum is done in
//! the same order on every machine.

use std::ops::Range;

use super::ConvShape;

/// Bytes of column matrix one tile may take (the L2 cache is 1 MiB).
const COLUMN_TILE_BYTES: usize = 512 * 1024;
/// Fewest columns per block: below this the GEMM packs its weight operand too often for the work
/// it does.
pub(crate) const MIN_BLOCK_WIDTH: usize = 256;

/// The blocks of one convolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocking {
    /// Images per block (the last block of the batch may hold fewer). More than 1 only when
    /// `tiles` is the single whole-image range.
    pub images: usize,
    /// The position ranges that cut one image.
    pub tiles: Vec<Range<usize>>,
}

impl Blocking {
    /// The blocking for `shape` with elements of type `E`.
    pub(crate) fn new<E>(shape: &ConvShape) -> Self {
        let positions = shape.positions();
        let rows = shape.group_rows();
        if positions < MIN_BLOCK_WIDTH && shape.batch > 1 {
            // Whole images side by side, in blocks of about equal size.
            let wanted = MIN_BLOCK_WIDTH.div_ceil(positions.max(1)).min(shape.batch);
            let blocks = shape.batch.div_ceil(wanted);
            return Blocking {
                images: shape.batch.div_ceil(blocks),
                tiles: vec_of(0..positions),
            };
        }
        let tiles = if shape.is_one_by_one() {
            // The columns are the image itself (or a plain subsample): nothing to keep in cache.
            vec_of(0..positions)
        } else {
            position_tiles::<E>(rows, positions)
        };
        Blocking { images: 1, tiles }
    }

    /// The widest block, in columns.
    pub(crate) fn max_width(&self) -> usize {
        self.images * self.tiles.iter().map(|t| t.len()).max().unwrap_or(0)
    }
}

fn vec_of(range: Range<usize>) -> Vec<Range<usize>> {
    std::iter::once(range).collect()
}

/// Splits the `positions` output positions of one image into tiles of about equal size, each
/// with a column matrix of `rows × len` within [`COLUMN_TILE_BYTES`] (but at least
/// [`MIN_BLOCK_WIDTH`] wide).
pub(crate) fn position_tiles<E>(rows: usize, positions: usize) -> Vec<Range<usize>> {
    let by_budget = COLUMN_TILE_BYTES / (rows.max(1) * std::mem::size_of::<E>());
    let width = by_budget.max(MIN_BLOCK_WIDTH).min(positions).max(1);
    let count = positions.div_ceil(width).max(1);
    let width = positions.div_ceil(count).max(1);
    (0..count)
        .map(|i| i * width..((i + 1) * width).min(positions))
        .filter(|range| !range.is_empty())
        .collect()
}

/// Copies rows `rows` and positions `tile` of each of `images` images of an `[n, R, P]` array
/// (`src` starts at the first of them) side by side into `dst: [rows.len(), images·tile.len()]`.
pub(crate) fn gather_images<E: Copy>(
    src: &[E],
    [rows_per_image, positions]: [usize; 2],
    images: usize,
    rows: Range<usize>,
    tile: Range<usize>,
    dst: &mut [E],
) {
    let width = images * tile.len();
    // dst: [rows, images·tile]
    for (r, dst_row) in rows.zip(dst.chunks_mut(width)) {
        for (i, dst_part) in dst_row.chunks_mut(tile.len()).enumerate() {
            let start = (i * rows_per_image + r) * positions + tile.start;
            dst_part.copy_from_slice(&src[start..start + tile.len()]);
        }
    }
}

/// The inverse of [`gather_images`]: `src: [rows.len(), images·tile.len()]` copied back into
/// rows `rows` and positions `tile` of each image of the `[n, R, P]` array `dst`.
pub(crate) fn scatter_images<E: Copy>(
    src: &[E],
    [rows_per_image, positions]: [usize; 2],
    images: usize,
    rows: Range<usize>,
    tile: Range<usize>,
    dst: &mut [E],
) {
    let width = images * tile.len();
    // src: [rows, images·tile]
    for (r, src_row) in rows.zip(src.chunks(width)) {
        for (i, src_part) in src_row.chunks(tile.len()).enumerate() {
            let start = (i * rows_per_image + r) * positions + tile.start;
            dst[start..start + tile.len()].copy_from_slice(src_part);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::Conv2dParams;

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

    #[test]
    fn small_images_are_grouped_in_even_blocks() {
        let shape = |batch, size, kernel| {
            let params = Conv2dParams::square(1, kernel / 2, 1, 1);
            ConvShape::new(
                "t",
                &[batch, 8, size, size],
                &[8, 8, kernel, kernel],
                &params,
            )
            .unwrap()
        };
        // 8×8 images: 4 per block of 256 columns.
        assert_eq!(Blocking::new::<f32>(&shape(128, 8, 3)).images, 4);
        // 7×7 at batch 8: 6 would be wanted, 2 even blocks of 4 are used.
        assert_eq!(Blocking::new::<f32>(&shape(8, 7, 1)).images, 4);
        // Big images are tiled instead, one image per block.
        let big = Blocking::new::<f32>(&shape(8, 56, 3));
        assert_eq!(big.images, 1);
        assert_eq!(big.tiles.last().unwrap().end, 56 * 56);
        // A single image is never grouped.
        assert_eq!(Blocking::new::<f32>(&shape(1, 8, 3)).images, 1);
    }

    #[test]
    fn gather_then_scatter_round_trips() {
        let src: Vec<u32> = (0..3 * 5 * 7).collect(); // [3, 5, 7]
        let mut block = vec![0; 2 * 3 * 4];
        gather_images(&src[5 * 7..], [5, 7], 2, 1..3, 2..6, &mut block);
        assert_eq!(&block[..4], &[44, 45, 46, 47]); // image 1, row 1, positions 2..6
        assert_eq!(&block[4..8], &[79, 80, 81, 82]); // image 2, row 1
        let mut back = vec![0; src.len()];
        scatter_images(&block, [5, 7], 2, 1..3, 2..6, &mut back[5 * 7..]);
        for (i, (&b, &s)) in back.iter().zip(&src).enumerate() {
            let (n, r, p) = (i / 35, (i / 7) % 5, i % 7);
            let copied = n >= 1 && (1..3).contains(&r) && (2..6).contains(&p);
            assert_eq!(b, if copied { s } else { 0 });
        }
    }
}
