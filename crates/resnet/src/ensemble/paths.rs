//! The unraveled view of a residual network (Veit et al. 2016, §3, Eq. 3–4 and Fig. 1).
//!
//! With n blocks `y_i = f_i(y_{i−1}) + y_{i−1}`, expanding the recursion writes the output as a
//! sum over the 2^n subsets S ⊆ {1, …, n}: each subset is one *path* that passes through the
//! residual branch of the blocks in S and through the skip connection of the others. A path's
//! *length* is |S|, so the number of paths of length k is the binomial coefficient C(n, k) and
//! a path chosen uniformly at random has a length distributed as Binomial(n, ½) (§5, Fig. 6a):
//! mean n/2, variance n/4.

use crate::error::{ResnetError, Result};

/// Largest n for which the exact counts fit in a `u128` (2^127 < 2^128).
pub const MAX_EXACT_BLOCKS: usize = 127;

/// The path-length distribution of a network of `n` residual blocks, with exact counts.
///
/// `counts[k] = C(n, k)`, the number of paths through exactly k residual branches;
/// Σ_k counts[k] = 2^n.
///
/// ```
/// use unravel_resnet::ensemble::PathLengths;
/// let paths = PathLengths::new(54)?; // pre-activation ResNet-110
/// assert_eq!(paths.total_paths(), 1u128 << 54);
/// assert_eq!(paths.mean(), 27.0);
/// // Over 95% of the paths pass through 19 to 35 blocks (it is 98.0%).
/// assert!(paths.fraction_between(19, 35) > 0.95);
/// // Paths of 5 to 17 blocks, which carry most of the gradient (§5), are 0.45% of all paths.
/// assert!((paths.fraction_between(5, 17) - 0.0045).abs() < 0.0001);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathLengths {
    blocks: usize,
    counts: Vec<u128>,
}

impl PathLengths {
    /// The distribution for `blocks` residual blocks (0 ≤ n ≤ [`MAX_EXACT_BLOCKS`]).
    ///
    /// The counts are one row of Pascal's triangle, C(n, k) = C(n−1, k−1) + C(n−1, k), built by
    /// additions only, so no intermediate value exceeds C(n, ⌊n/2⌋).
    pub fn new(blocks: usize) -> Result<Self> {
        if blocks > MAX_EXACT_BLOCKS {
            return Err(ResnetError::experiment(
                "path lengths",
                format!(
                    "{blocks} blocks have 2^{blocks} paths, more than exact 128-bit counts hold \
                     (at most {MAX_EXACT_BLOCKS} blocks)"
                ),
            ));
        }
        let mut counts = vec![1u128];
        for _ in 0..blocks {
            let mut next = vec![1u128; counts.len() + 1];
            for k in 1..counts.len() {
                next[k] = counts[k - 1] + counts[k];
            }
            counts = next;
        }
        Ok(PathLengths { blocks, counts })
    }

    /// n, the number of residual blocks.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    /// C(n, k) for k = 0 … n.
    pub fn counts(&self) -> &[u128] {
        &self.counts
    }

    /// C(n, k), the number of paths of length k (0 when k > n).
    pub fn count(&self, length: usize) -> u128 {
        self.counts.get(length).copied().unwrap_or(0)
    }

    /// 2^n, the number of paths.
    pub fn total_paths(&self) -> u128 {
        1u128 << self.blocks
    }

    /// P(length = k) = C(n, k) / 2^n.
    pub fn probability(&self, length: usize) -> f64 {
        self.count(length) as f64 / self.total_paths() as f64
    }

    /// The mean length, n/2.
    pub fn mean(&self) -> f64 {
        // Σ k·C(n, k) = n·2^(n−1), exact in u128 up to n = 122: then one rounding only.
        let exact = self
            .counts
            .iter()
            .enumerate()
            .try_fold(0u128, |sum, (k, &c)| {
                (k as u128)
                    .checked_mul(c)
                    .and_then(|term| sum.checked_add(term))
            });
        if let Some(sum) = exact {
            return sum as f64 / self.total_paths() as f64;
        }
        let total = self.total_paths() as f64;
        self.counts
            .iter()
            .enumerate()
            .map(|(k, &c)| k as f64 * c as f64 / total)
            .sum()
    }

    /// The standard deviation of the length, √n / 2.
    pub fn standard_deviation(&self) -> f64 {
        let mean = self.mean();
        let total = self.total_paths() as f64;
        let variance: f64 = self
            .counts
            .iter()
            .enumerate()
            .map(|(k, &c)| (k as f64 - mean).powi(2) * c as f64 / total)
            .sum();
        variance.sqrt()
    }

    /// The fraction of paths whose length is in `low ..= high`.
    pub fn fraction_between(&self, low: usize, high: usize) -> f64 {
        if low > high {
            return 0.0;
        }
        let paths: u128 = (low..=high.min(self.blocks)).map(|k| self.count(k)).sum();
        paths as f64 / self.total_paths() as f64
    }

    /// The narrowest range of lengths `(low, high)` centred on n/2 (growing one length at a
    /// time on the side with more paths) that holds at least `mass` of all paths.
    pub fn central_range(&self, mass: f64) -> (usize, usize) {
        let mut low = self.blocks / 2;
        let mut high = low;
        while self.fraction_between(low, high) < mass && (low > 0 || high < self.blocks) {
            let below = if low > 0 { self.count(low - 1) } else { 0 };
            let above = if high < self.blocks {
                self.count(high + 1)
            } else {
                0
            };
            if below >= above && low > 0 {
                low -= 1;
            } else {
                high += 1;
            }
        }
        (low, high)
    }
}

/// Every path of an n-block network, as the set of blocks whose residual branch it passes
/// (`path[i]` is true when block i's branch is taken), in binary order. The brute-force
/// reference for [`PathLengths`]; refuses n > 20 (a million paths).
///
/// ```
/// use unravel_resnet::ensemble::paths::enumerate_paths;
/// let paths = enumerate_paths(3)?;
/// assert_eq!(paths.len(), 8);
/// assert_eq!(paths.iter().filter(|p| p.iter().filter(|&&b| b).count() == 1).count(), 3);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn enumerate_paths(blocks: usize) -> Result<Vec<Vec<bool>>> {
    if blocks > 20 {
        return Err(ResnetError::experiment(
            "path enumeration",
            format!("{blocks} blocks: 2^{blocks} paths are too many to list (at most 20 blocks)"),
        ));
    }
    Ok((0u64..1 << blocks)
        .map(|mask| (0..blocks).map(|i| mask >> i & 1 == 1).collect())
        .collect())
}
