//! Seeded random numbers that are the same on every machine and thread count.
//!
//! The generator is ChaCha8 (portable, platform-independent output). Tensors are filled
//! sequentially in row-major order, so the numbers depend only on the seed and the order of
//! calls, never on threading. Normal samples are drawn in `f64` and rounded, so an `f32` and an
//! `f64` tensor made from the same seed agree to `f32` precision.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A seeded random-number generator.
///
/// ```
/// use unravel_tensor::Rng;
/// let mut a = Rng::seed_from(7);
/// let mut b = Rng::seed_from(7);
/// assert_eq!(a.normal(), b.normal());
/// ```
#[derive(Debug, Clone)]
pub struct Rng {
    inner: ChaCha8Rng,
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn seed_from(seed: u64) -> Self {
        Rng {
            inner: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// One sample of the standard normal distribution N(0, 1).
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.inner)
    }

    /// One sample of the uniform distribution on [low, high).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.inner.gen::<f64>()
    }

    /// A uniformly drawn integer in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        self.inner.gen_range(0..bound.max(1))
    }

    /// A raw 64-bit word (for deriving child seeds).
    pub fn next_u64(&mut self) -> u64 {
        self.inner.gen()
    }

    /// Fisher–Yates shuffle of `items`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// The generator's position, to save in a checkpoint: (seed words, word position).
    pub fn state(&self) -> ([u8; 32], u128, u64) {
        (
            self.inner.get_seed(),
            self.inner.get_word_pos(),
            self.inner.get_stream(),
        )
    }

    /// Restores a position saved by [`Rng::state`].
    pub fn from_state(seed: [u8; 32], word_pos: u128, stream: u64) -> Self {
        let mut inner = ChaCha8Rng::from_seed(seed);
        inner.set_stream(stream);
        inner.set_word_pos(word_pos);
        Rng { inner }
    }
}
