//! Fast reduction kernels over a dense row-major buffer, for any associative combine `f` (sum,
//! max, min) with its identity.
//!
//! The input's axes are coalesced into alternating *groups* of kept and reduced axes
//! ([`coalesce`]). Two loops do all the work:
//!
//! * the innermost group is reduced: every contiguous run is reduced by [`reduce_slice`], a
//!   cascade (pairwise) reduction whose leaves are 256-element blocks reduced in 16 independent
//!   lanes (vectorised, run-time dispatched);
//! * the innermost group is kept: whole runs are combined element-wise ([`reduce_runs`]), eight
//!   runs per leaf then pairwise, with vectorised row updates.
//!
//! Summation error therefore grows like O(log n)·ε instead of the O(n)·ε of a running total.
//! Every split (leaves, cascade, parallel chunks) is fixed by the shape alone, so results are
//! bit-identical for any number of threads.

use rayon::prelude::*;

use crate::ops::elementwise::simd::{self, simd_level, SimdLevel};

/// Elements per leaf block of [`reduce_slice`].
pub const BLOCK: usize = 256;
/// Independent accumulators inside a leaf block (one AVX-512 vector of f32).
pub const LANES: usize = 16;
/// Runs combined naively per leaf of [`reduce_runs`].
pub const RUNS_PER_LEAF: usize = 8;
/// Elements of input above which work is split across rayon in fixed units.
pub const PARALLEL_WORK: usize = 64 * 1024;

/// Coalesces the axes of a dense `shape` into alternating `(size, reduced)` groups, dropping
/// size-1 axes. An empty result means a single element.
pub fn coalesce(shape: &[usize], reduced: &[bool]) -> Vec<(usize, bool)> {
    let mut groups: Vec<(usize, bool)> = Vec::new();
    for (&size, &is_reduced) in shape.iter().zip(reduced) {
        if size == 1 {
            continue;
        }
        match groups.last_mut() {
            Some((group_size, group_reduced)) if *group_reduced == is_reduced => {
                *group_size *= size
            }
            _ => groups.push((size, is_reduced)),
        }
    }
    groups
}

/// Cascade state: partial results tagged with their level in the pairwise tree. Pushing a leaf
/// merges equal levels (a binary counter), so the tree depends only on the number of leaves.
struct Cascade<T> {
    stack: Vec<(T, u32)>,
}

impl<T> Cascade<T> {
    fn new() -> Self {
        Cascade { stack: Vec::new() }
    }

    #[inline(always)]
    fn push(&mut self, leaf: T, mut merge: impl FnMut(&mut T, T)) {
        let mut item = (leaf, 0u32);
        while let Some(top) = self.stack.last() {
            if top.1 != item.1 {
                break;
            }
            let (mut left, level) = self.stack.pop().expect("non-empty");
            merge(&mut left, item.0);
            item = (left, level + 1);
        }
        self.stack.push(item);
    }

    #[inline(always)]
    fn finish(mut self, mut merge: impl FnMut(&mut T, T)) -> Option<T> {
        let (mut right, _) = self.stack.pop()?;
        while let Some((mut left, _)) = self.stack.pop() {
            merge(&mut left, right);
            right = left;
        }
        Some(right)
    }
}

/// One leaf: `x` (at most [`BLOCK`] elements) reduced in [`LANES`] independent lanes, then the
/// lanes pairwise, then the tail.
#[inline(always)]
fn reduce_block<E: Copy, F: Fn(E, E) -> E>(x: &[E], identity: E, f: &F) -> E {
    let mut lanes = [identity; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for lane in 0..LANES {
            lanes[lane] = f(lanes[lane], chunk[lane]);
        }
    }
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for lane in 0..width {
            lanes[lane] = f(lanes[lane], lanes[lane + width]);
        }
    }
    let mut total = lanes[0];
    for &v in tail {
        total = f(total, v);
    }
    total
}

/// Sequential cascade over the leaf blocks of `x`.
#[inline(always)]
fn reduce_slice_body<E: Copy, F: Fn(E, E) -> E>(x: &[E], identity: E, f: &F) -> E {
    if x.len() <= BLOCK {
        // One leaf: the cascade below would return it unchanged (and allocate its stack).
        return reduce_block(x, identity, f);
    }
    let mut cascade = Cascade::new();
    for block in x.chunks(BLOCK) {
        cascade.push(reduce_block(block, identity, f), |a, b| *a = f(*a, b));
    }
    cascade.finish(|a, b| *a = f(*a, b)).unwrap_or(identity)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
    pub(super) unsafe fn reduce_slice_avx512<E: Copy, F: Fn(E, E) -> E>(
        x: &[E],
        identity: E,
        f: &F,
    ) -> E {
        super::reduce_slice_body(x, identity, f)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn reduce_slice_avx2<E: Copy, F: Fn(E, E) -> E>(
        x: &[E],
        identity: E,
        f: &F,
    ) -> E {
        super::reduce_slice_body(x, identity, f)
    }
}

/// Sequential cascade reduction of a contiguous slice, on the best SIMD level.
#[inline]
fn reduce_slice_sequential<E: Copy, F: Fn(E, E) -> E>(x: &[E], identity: E, f: &F) -> E {
    match simd_level() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Avx512 is reported only after run-time detection of avx512f/vl, avx2, fma.
        SimdLevel::Avx512 => unsafe { x86::reduce_slice_avx512(x, identity, f) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: Avx2 is reported only after run-time detection of avx2 and fma.
        SimdLevel::Avx2 => unsafe { x86::reduce_slice_avx2(x, identity, f) },
        _ => reduce_slice_body(x, identity, f),
    }
}

/// `f(…f(f(x₀, x₁), x₂)…)` for an associative `f`, evaluated as a cascade (pairwise tree) over
/// 256-element leaves. Slices above [`PARALLEL_WORK`] are split into fixed power-of-two units
/// reduced in parallel; because the unit size is a power-of-two multiple of [`BLOCK`], the tree
/// is the same one the sequential cascade builds.
pub fn reduce_slice<E: Copy + Send + Sync, F: Fn(E, E) -> E + Sync>(
    x: &[E],
    identity: E,
    f: &F,
) -> E {
    if x.len() <= PARALLEL_WORK {
        return reduce_slice_sequential(x, identity, f);
    }
    let partials: Vec<E> = x
        .par_chunks(PARALLEL_WORK)
        .map(|unit| reduce_slice_sequential(unit, identity, f))
        .collect();
    let mut cascade = Cascade::new();
    for p in partials {
        cascade.push(p, |a, b| *a = f(*a, b));
    }
    cascade.finish(|a, b| *a = f(*a, b)).unwrap_or(identity)
}

/// `out[j] = f over m of run(m)[j]`: combines `count` equally long runs element-wise, eight runs
/// per leaf (vectorised row updates), leaves pairwise. `count ≥ 1`.
pub fn reduce_runs<'a, E: Copy + 'a, F: Fn(E, E) -> E>(
    count: usize,
    run: impl Fn(usize) -> &'a [E],
    out: &mut [E],
    f: &F,
) {
    let mut cascade: Cascade<Vec<E>> = Cascade::new();
    let mut spare: Vec<Vec<E>> = Vec::new();
    let merge = |left: &mut Vec<E>, right: Vec<E>, spare: &mut Vec<Vec<E>>| {
        simd::accumulate(left, &right, f);
        spare.push(right);
    };
    for leaf_start in (0..count).step_by(RUNS_PER_LEAF) {
        let mut leaf = spare.pop().unwrap_or_default();
        leaf.clear();
        leaf.extend_from_slice(run(leaf_start));
        for m in leaf_start + 1..(leaf_start + RUNS_PER_LEAF).min(count) {
            simd::accumulate(&mut leaf, run(m), f);
        }
        let mut freed = Vec::new();
        cascade.push(leaf, |a, b| merge(a, b, &mut freed));
        spare.append(&mut freed);
    }
    let mut freed = Vec::new();
    let total = cascade.finish(|a, b| merge(a, b, &mut freed));
    out.copy_from_slice(&total.expect("count ≥ 1"));
}

/// Offset of the `flat`-th combination of the given groups (row-major), each group with its
/// stride in the dense buffer.
#[inline]
fn offset_of(mut flat: usize, groups: &[(usize, usize)]) -> usize {
    let mut offset = 0;
    for &(size, stride) in groups.iter().rev() {
        offset += (flat % size) * stride;
        flat /= size;
    }
    offset
}

/// Reduces the dense `data` (coalesced into `groups`) over its reduced groups; the result is
/// dense and row-major over the kept groups.
pub fn reduce_groups<E: Copy + Send + Sync, F: Fn(E, E) -> E + Sync>(
    data: &[E],
    groups: &[(usize, bool)],
    identity: E,
    f: &F,
) -> Vec<E> {
    let Some(&(inner, inner_reduced)) = groups.last() else {
        return data.to_vec();
    };
    if !groups.iter().any(|g| g.1) {
        return data.to_vec();
    }
    if inner_reduced {
        // Every contiguous run of `inner` elements becomes one partial result.
        let runs = data.len() / inner;
        let mut partials = vec![identity; runs];
        if data.len() > PARALLEL_WORK && runs > 1 {
            let runs_per_unit = (PARALLEL_WORK / inner).max(1);
            partials
                .par_chunks_mut(runs_per_unit)
                .enumerate()
                .for_each(|(unit, chunk)| {
                    for (i, p) in chunk.iter_mut().enumerate() {
                        let run = unit * runs_per_unit + i;
                        *p = reduce_slice(&data[run * inner..(run + 1) * inner], identity, f);
                    }
                });
        } else {
            for (run, p) in partials.iter_mut().enumerate() {
                *p = reduce_slice(&data[run * inner..(run + 1) * inner], identity, f);
            }
        }
        return reduce_groups(&partials, &groups[..groups.len() - 1], identity, f);
    }

    // The innermost group is kept: combine whole runs of `inner` elements.
    let outer = &groups[..groups.len() - 1];
    let mut stride = inner;
    let mut kept: Vec<(usize, usize)> = Vec::new();
    let mut reduced: Vec<(usize, usize)> = Vec::new();
    let mut with_strides: Vec<(usize, bool, usize)> = Vec::new();
    for &(size, is_reduced) in outer.iter().rev() {
        with_strides.push((size, is_reduced, stride));
        stride *= size;
    }
    for &(size, is_reduced, stride) in with_strides.iter().rev() {
        if is_reduced {
            reduced.push((size, stride));
        } else {
            kept.push((size, stride));
        }
    }
    let rows: usize = kept.iter().map(|g| g.0).product();
    let count: usize = reduced.iter().map(|g| g.0).product();
    let mut out = vec![identity; rows * inner];
    // Work units: (row, column chunk); columns are independent, so splitting them changes
    // nothing in the result.
    let columns_per_unit = if data.len() > PARALLEL_WORK {
        1024
    } else {
        inner
    };
    let unit = |row: usize, column_start: usize, out_chunk: &mut [E]| {
        let base = offset_of(row, &kept) + column_start;
        let width = out_chunk.len();
        reduce_runs(
            count,
            |m| {
                let start = base + offset_of(m, &reduced);
                &data[start..start + width]
            },
            out_chunk,
            f,
        );
    };
    if data.len() > PARALLEL_WORK {
        out.par_chunks_mut(inner)
            .enumerate()
            .for_each(|(row, out_row)| {
                out_row
                    .par_chunks_mut(columns_per_unit)
                    .enumerate()
                    .for_each(|(c, chunk)| unit(row, c * columns_per_unit, chunk));
            });
    } else {
        for (row, out_row) in out.chunks_mut(inner).enumerate() {
            unit(row, 0, out_row);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalescing_groups() {
        // [N, C, H, W] reducing (0, 2, 3) → [N] reduced, [C] kept, [H·W] reduced.
        assert_eq!(
            coalesce(&[2, 3, 4, 5], &[true, false, true, true]),
            vec![(2, true), (3, false), (20, true)]
        );
        assert_eq!(coalesce(&[1, 3, 1], &[true, false, true]), vec![(3, false)]);
        assert!(coalesce(&[1, 1], &[true, true]).is_empty());
    }

    #[test]
    fn cascade_is_a_fixed_tree() {
        // 5 leaves: ((0+1)+(2+3))+4, as strings to see the bracketing.
        let mut cascade = Cascade::new();
        for leaf in ["0", "1", "2", "3", "4"] {
            cascade.push(leaf.to_string(), |a, b| *a = format!("({a}+{b})"));
        }
        let tree = cascade.finish(|a, b| *a = format!("({a}+{b})")).unwrap();
        assert_eq!(tree, "(((0+1)+(2+3))+4)");
    }

    /// The SIMD instantiations compute the same tree as the baseline, so the same bits.
    #[test]
    fn every_level_gives_the_same_bits() {
        let mut rng = crate::Rng::seed_from(3);
        let x: Vec<f32> = (0..50_001).map(|_| rng.normal() as f32).collect();
        let add = |a: f32, b: f32| a + b;
        let portable = reduce_slice_body(&x, 0.0, &add);
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
                // SAFETY: the features were detected just above.
                let fast = unsafe { x86::reduce_slice_avx512(&x, 0.0, &add) };
                assert_eq!(portable.to_bits(), fast.to_bits());
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                // SAFETY: the features were detected just above.
                let fast = unsafe { x86::reduce_slice_avx2(&x, 0.0, &add) };
                assert_eq!(portable.to_bits(), fast.to_bits());
            }
        }
        // The parallel split builds the same tree as the sequential cascade.
        let y: Vec<f32> = (0..1_000_003).map(|_| rng.normal() as f32).collect();
        assert_eq!(
            reduce_slice(&y, 0.0, &add).to_bits(),
            reduce_slice_sequential(&y, 0.0, &add).to_bits()
        );
    }

    #[test]
    fn slice_sum_matches_exact_integers() {
        let x: Vec<f64> = (0..100_003).map(|i| (i % 17) as f64).collect();
        let expected: f64 = x.iter().sum();
        assert_eq!(reduce_slice(&x, 0.0, &|a, b| a + b), expected);
    }
}
