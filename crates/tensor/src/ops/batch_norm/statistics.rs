//! The per-channel reductions and the per-channel elementwise pass shared by the batch-norm
//! kernels.
//!
//! Reductions accumulate in `f64` with eight independent lanes per plane (the compiler
//! vectorises them; the order is fixed), then combine plane results per channel in batch order:
//! sums are added; mean and variance are merged with Chan's pairwise formula, so the statistics
//! are two-pass accurate while reading the input from memory once. Work
//! is split by shape only — one task per `(n, c)` plane, or per block of rows when planes are
//! short — never by thread count, so results are bit-identical for any number of threads.

use rayon::prelude::*;

use super::ChannelLayout;

/// Inputs with at least this many elements are processed in parallel.
pub(crate) const PARALLEL_THRESHOLD: usize = 1 << 15;
/// Planes at least this long are one task each; shorter ones are grouped by rows.
const PLANE_MIN: usize = 32;
/// Approximate elements per task when planes are grouped by rows.
const BLOCK_ELEMENTS: usize = 1 << 14;

fn rows_per_block(layout: ChannelLayout) -> usize {
    (BLOCK_ELEMENTS / (layout.channels * layout.spatial).max(1)).max(1)
}

#[inline(always)]
fn add_pair(total: &mut [f64; 2], part: [f64; 2]) {
    total[0] += part[0];
    total[1] += part[1];
}

#[inline(always)]
fn combine_lanes(lanes: &[f64; 8]) -> f64 {
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// Per-channel totals of `reduce_plane(channel, offset)`, where `offset` is the start of plane
/// `(n, channel)` in the row-major buffer, added over `n` in a fixed order.
pub(crate) fn channel_sums<F>(layout: ChannelLayout, reduce_plane: F) -> Vec<[f64; 2]>
where
    F: Fn(usize, usize) -> [f64; 2] + Sync,
{
    let ChannelLayout {
        batch,
        channels,
        spatial,
    } = layout;
    let parallel = batch * channels * spatial >= PARALLEL_THRESHOLD;
    let mut totals = vec![[0.0f64; 2]; channels];
    if spatial >= PLANE_MIN {
        // One task per plane; plane p is (n, c) = (p / C, p % C).
        let plane = |p: usize| reduce_plane(p % channels, p * spatial);
        let partial: Vec<[f64; 2]> = if parallel {
            (0..batch * channels).into_par_iter().map(plane).collect()
        } else {
            (0..batch * channels).map(plane).collect()
        };
        for (p, part) in partial.into_iter().enumerate() {
            add_pair(&mut totals[p % channels], part);
        }
    } else {
        // Short planes ([N, C] has planes of one element): one task per block of rows.
        let rows = rows_per_block(layout);
        let block = |b: usize| {
            let mut sums = vec![[0.0f64; 2]; channels];
            for n in b * rows..((b + 1) * rows).min(batch) {
                for (c, sum) in sums.iter_mut().enumerate() {
                    add_pair(sum, reduce_plane(c, (n * channels + c) * spatial));
                }
            }
            sums
        };
        let blocks = batch.div_ceil(rows);
        let partial: Vec<Vec<[f64; 2]>> = if parallel {
            (0..blocks).into_par_iter().map(block).collect()
        } else {
            (0..blocks).map(block).collect()
        };
        for sums in partial {
            for (total, part) in totals.iter_mut().zip(sums) {
                add_pair(total, part);
            }
        }
    }
    totals
}

/// Count, mean and sum of squared deviations `M2 = Σ (x − mean)²` of a group of values.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Moments {
    count: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Two passes over `x` (mean, then squared deviations from it); `x` is short enough to stay
    /// in cache, so the second pass costs no memory traffic.
    fn of_plane<E: crate::Float>(x: &[E]) -> Self {
        let mean = plane_sum(x) / x.len() as f64;
        Moments {
            count: x.len() as f64,
            mean,
            m2: plane_squared_deviation(x, mean),
        }
    }

    /// Chan, Golub & LeVeque's pairwise update: the moments of the union of two groups,
    /// `mean = ma + δ·nb/n`, `M2 = M2a + M2b + δ²·na·nb/n` with `δ = mb − ma`, `n = na + nb`.
    /// Stable, unlike `Σx²/n − mean²`.
    fn merge(self, other: Moments) -> Self {
        if self.count == 0.0 {
            return other;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        Moments {
            count,
            mean: self.mean + delta * (other.count / count),
            m2: self.m2 + other.m2 + delta * delta * (self.count * other.count / count),
        }
    }

    pub(crate) fn mean(&self) -> f64 {
        self.mean
    }

    /// The biased variance `M2 / count`.
    pub(crate) fn variance(&self) -> f64 {
        self.m2 / self.count
    }
}

/// Per-channel moments of `x` (row-major `[N, C, spatial]`) in one sweep over memory: two-pass
/// moments of each `(n, c)` plane (or, for short planes, of each channel within a block of
/// rows), merged per channel in batch order with [`Moments::merge`]. The split depends on the
/// shape only, so the result is the same for any number of threads.
pub(crate) fn channel_moments<E: crate::Float>(x: &[E], layout: ChannelLayout) -> Vec<Moments> {
    let ChannelLayout {
        batch,
        channels,
        spatial,
    } = layout;
    let parallel = x.len() >= PARALLEL_THRESHOLD;
    let mut totals = vec![Moments::default(); channels];
    if spatial >= PLANE_MIN {
        let plane = |p: usize| Moments::of_plane(&x[p * spatial..(p + 1) * spatial]);
        let partial: Vec<Moments> = if parallel {
            (0..batch * channels).into_par_iter().map(plane).collect()
        } else {
            (0..batch * channels).map(plane).collect()
        };
        for (p, part) in partial.into_iter().enumerate() {
            totals[p % channels] = totals[p % channels].merge(part);
        }
    } else {
        let rows = rows_per_block(layout);
        // One block of rows, all channels: per channel, the mean, then the squared deviations,
        // both over the block's values of that channel (the block stays in cache).
        let block = |b: usize| {
            let row_range = b * rows..((b + 1) * rows).min(batch);
            let planes = |c: usize| {
                row_range
                    .clone()
                    .map(move |n| &x[(n * channels + c) * spatial..][..spatial])
            };
            (0..channels)
                .map(|c| {
                    let count = (row_range.len() * spatial) as f64;
                    let mean = planes(c).map(plane_sum).sum::<f64>() / count;
                    let m2 = planes(c)
                        .map(|plane| plane_squared_deviation(plane, mean))
                        .sum();
                    Moments { count, mean, m2 }
                })
                .collect::<Vec<_>>()
        };
        let blocks = batch.div_ceil(rows);
        let partial: Vec<Vec<Moments>> = if parallel {
            (0..blocks).into_par_iter().map(block).collect()
        } else {
            (0..blocks).map(block).collect()
        };
        for moments in partial {
            for (total, part) in totals.iter_mut().zip(moments) {
                *total = total.merge(part);
            }
        }
    }
    totals
}

/// Runs `kernel(channel, offset, plane)` on every `(n, c)` plane of `output` (row-major
/// `[N, C, spatial]`), in parallel for large outputs. `offset` is the plane's start, to index the
/// matching input planes.
pub(crate) fn for_each_plane_mut<E, F>(output: &mut [E], layout: ChannelLayout, kernel: F)
where
    E: Send,
    F: Fn(usize, usize, &mut [E]) + Sync + Send,
{
    let ChannelLayout {
        channels, spatial, ..
    } = layout;
    if output.is_empty() {
        return;
    }
    let parallel = output.len() >= PARALLEL_THRESHOLD;
    // A task covers whole planes: one plane, or a block of rows of short planes.
    let task_len = if spatial >= PLANE_MIN {
        spatial
    } else {
        rows_per_block(layout) * channels * spatial
    };
    let run = |task: usize, chunk: &mut [E]| {
        let start = task * task_len;
        for (index, plane) in chunk.chunks_mut(spatial).enumerate() {
            let offset = start + index * spatial;
            kernel((offset / spatial) % channels, offset, plane);
        }
    };
    if parallel {
        output
            .par_chunks_mut(task_len)
            .enumerate()
            .for_each(|(t, chunk)| run(t, chunk));
    } else {
        output
            .chunks_mut(task_len)
            .enumerate()
            .for_each(|(t, chunk)| run(t, chunk));
    }
}

/// `Σ x` over a plane.
#[inline(always)]
pub(crate) fn plane_sum<E: crate::Float>(x: &[E]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane += v.to_f64();
        }
    }
    let mut tail = 0.0;
    for &v in chunks.remainder() {
        tail += v.to_f64();
    }
    combine_lanes(&lanes) + tail
}

/// `Σ (x − mean)²` over a plane.
#[inline(always)]
pub(crate) fn plane_squared_deviation<E: crate::Float>(x: &[E], mean: f64) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            let d = v.to_f64() - mean;
            *lane += d * d;
        }
    }
    let mut tail = 0.0;
    for &v in chunks.remainder() {
        let d = v.to_f64() - mean;
        tail += d * d;
    }
    combine_lanes(&lanes) + tail
}

/// `[Σ dy, Σ dy·(x − mean)]` over a plane.
#[inline(always)]
pub(crate) fn plane_grad_sums<E: crate::Float>(dy: &[E], x: &[E], mean: f64) -> [f64; 2] {
    let mut sum_dy = [0.0f64; 8];
    let mut sum_dy_dx = [0.0f64; 8];
    let mut dy_chunks = dy.chunks_exact(8);
    let mut x_chunks = x.chunks_exact(8);
    for (g, v) in (&mut dy_chunks).zip(&mut x_chunks) {
        for lane in 0..8 {
            let g = g[lane].to_f64();
            sum_dy[lane] += g;
            sum_dy_dx[lane] += g * (v[lane].to_f64() - mean);
        }
    }
    let (mut tail_dy, mut tail_dy_dx) = (0.0, 0.0);
    for (&g, &v) in dy_chunks.remainder().iter().zip(x_chunks.remainder()) {
        tail_dy += g.to_f64();
        tail_dy_dx += g.to_f64() * (v.to_f64() - mean);
    }
    [
        combine_lanes(&sum_dy) + tail_dy,
        combine_lanes(&sum_dy_dx) + tail_dy_dx,
    ]
}
