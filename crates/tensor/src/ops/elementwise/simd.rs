//! Run-time dispatched loops over contiguous runs: the inner loops of every elementwise op.
//!
//! The crate is compiled for baseline x86-64 (SSE2). Each loop body is written once as an
//! `#[inline(always)]` generic function and instantiated inside wrappers compiled for AVX-512 and
//! AVX2+FMA, where LLVM autovectorises the inlined body (and the inlined closure) for that ISA.
//! The level is detected once ([`simd_level`]) and cached. No loop here reassociates or fuses
//! floating-point operations, so every level computes bit-identical results.

use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// The instruction set the dispatched loops run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimdLevel {
    /// AVX-512 F/VL with AVX2 and FMA (512-bit vectors).
    Avx512,
    /// AVX2 with FMA (256-bit vectors).
    Avx2,
    /// The compile-time baseline (SSE2 on x86-64).
    Portable,
}

/// The best level this CPU supports, detected once (set `UNRAVEL_NO_SIMD` to force the baseline,
/// e.g. to compare levels).
///
/// ```
/// use unravel_tensor::ops::elementwise::simd::{simd_level, SimdLevel};
/// let level = simd_level();
/// assert!(matches!(level, SimdLevel::Avx512 | SimdLevel::Avx2 | SimdLevel::Portable));
/// ```
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(detect)
}

#[cfg(target_arch = "x86_64")]
fn detect() -> SimdLevel {
    if std::env::var_os("UNRAVEL_NO_SIMD").is_some() {
        return SimdLevel::Portable;
    }
    if is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
    {
        SimdLevel::Avx512
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        SimdLevel::Avx2
    } else {
        SimdLevel::Portable
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn detect() -> SimdLevel {
    SimdLevel::Portable
}

/// `out[i] = f(x[i])`.
#[inline(always)]
fn unary_body<E: Copy, F: Fn(E) -> E>(x: &[E], out: &mut [MaybeUninit<E>], f: &F) {
    for (o, &v) in out.iter_mut().zip(x) {
        o.write(f(v));
    }
}

/// `out[i] = f(a[i], b[i])`.
#[inline(always)]
fn binary_body<E: Copy, F: Fn(E, E) -> E>(a: &[E], b: &[E], out: &mut [MaybeUninit<E>], f: &F) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        o.write(f(x, y));
    }
}

/// `out[i] = f(a[i], b)`.
#[inline(always)]
fn vector_scalar_body<E: Copy, F: Fn(E, E) -> E>(a: &[E], b: E, out: &mut [MaybeUninit<E>], f: &F) {
    for (o, &x) in out.iter_mut().zip(a) {
        o.write(f(x, b));
    }
}

/// `out[i] = f(a, b[i])`.
#[inline(always)]
fn scalar_vector_body<E: Copy, F: Fn(E, E) -> E>(a: E, b: &[E], out: &mut [MaybeUninit<E>], f: &F) {
    for (o, &y) in out.iter_mut().zip(b) {
        o.write(f(a, y));
    }
}

/// `accumulator[i] = f(accumulator[i], x[i])` (the inner loop of reductions that keep the
/// innermost axis).
#[inline(always)]
fn accumulate_body<E: Copy, F: Fn(E, E) -> E>(accumulator: &mut [E], x: &[E], f: &F) {
    for (a, &v) in accumulator.iter_mut().zip(x) {
        *a = f(*a, v);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::mem::MaybeUninit;

    macro_rules! instantiate {
        ($avx512:ident, $avx2:ident, $body:ident, <$($f:ty),*>, ($($arg:ident : $ty:ty),*)) => {
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            pub(super) unsafe fn $avx512<E: Copy, F: Fn($($f),*) -> E>($($arg: $ty),*, f: &F) {
                super::$body($($arg),*, f)
            }
            #[target_feature(enable = "avx2,fma")]
            pub(super) unsafe fn $avx2<E: Copy, F: Fn($($f),*) -> E>($($arg: $ty),*, f: &F) {
                super::$body($($arg),*, f)
            }
        };
    }
    instantiate!(unary_avx512, unary_avx2, unary_body, <E>, (x: &[E], out: &mut [MaybeUninit<E>]));
    instantiate!(binary_avx512, binary_avx2, binary_body, <E, E>, (a: &[E], b: &[E], out: &mut [MaybeUninit<E>]));
    instantiate!(vector_scalar_avx512, vector_scalar_avx2, vector_scalar_body, <E, E>, (a: &[E], b: E, out: &mut [MaybeUninit<E>]));
    instantiate!(scalar_vector_avx512, scalar_vector_avx2, scalar_vector_body, <E, E>, (a: E, b: &[E], out: &mut [MaybeUninit<E>]));
    instantiate!(accumulate_avx512, accumulate_avx2, accumulate_body, <E, E>, (accumulator: &mut [E], x: &[E]));
}

/// Expands to a `match` on [`simd_level`] calling the matching instantiation.
macro_rules! dispatch {
    ($avx512:ident, $avx2:ident, $body:ident, ($($arg:expr),*)) => {
        match simd_level() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `simd_level` returned Avx512 only after detecting avx512f, avx512vl, avx2
            // and fma on this CPU; the wrapped body is safe code.
            SimdLevel::Avx512 => unsafe { x86::$avx512($($arg),*) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `simd_level` returned Avx2 only after detecting avx2 and fma on this CPU.
            SimdLevel::Avx2 => unsafe { x86::$avx2($($arg),*) },
            _ => $body($($arg),*),
        }
    };
}

/// `out[i] = f(x[i])` for `i < min(x.len(), out.len())`, vectorised.
#[inline]
pub(crate) fn unary<E: Copy, F: Fn(E) -> E>(x: &[E], out: &mut [MaybeUninit<E>], f: &F) {
    dispatch!(unary_avx512, unary_avx2, unary_body, (x, out, f))
}

/// `out[i] = f(a[i], b[i])`, vectorised.
#[inline]
pub(crate) fn binary<E: Copy, F: Fn(E, E) -> E>(
    a: &[E],
    b: &[E],
    out: &mut [MaybeUninit<E>],
    f: &F,
) {
    dispatch!(binary_avx512, binary_avx2, binary_body, (a, b, out, f))
}

/// `out[i] = f(a[i], b)`, vectorised.
#[inline]
pub(crate) fn vector_scalar<E: Copy, F: Fn(E, E) -> E>(
    a: &[E],
    b: E,
    out: &mut [MaybeUninit<E>],
    f: &F,
) {
    dispatch!(
        vector_scalar_avx512,
        vector_scalar_avx2,
        vector_scalar_body,
        (a, b, out, f)
    )
}

/// `out[i] = f(a, b[i])`, vectorised.
#[inline]
pub(crate) fn scalar_vector<E: Copy, F: Fn(E, E) -> E>(
    a: E,
    b: &[E],
    out: &mut [MaybeUninit<E>],
    f: &F,
) {
    dispatch!(
        scalar_vector_avx512,
        scalar_vector_avx2,
        scalar_vector_body,
        (a, b, out, f)
    )
}

/// `accumulator[i] = f(accumulator[i], x[i])`, vectorised.
#[inline]
pub(crate) fn accumulate<E: Copy, F: Fn(E, E) -> E>(accumulator: &mut [E], x: &[E], f: &F) {
    dispatch!(
        accumulate_avx512,
        accumulate_avx2,
        accumulate_body,
        (accumulator, x, f)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::elementwise::math;

    fn data(n: usize) -> Vec<f32> {
        let mut rng = crate::Rng::seed_from(17);
        let mut values: Vec<f32> = (0..n).map(|_| (rng.normal() * 30.0) as f32).collect();
        values[3] = f32::NAN;
        values[5] = f32::INFINITY;
        values[7] = -0.0;
        values
    }

    fn bits(values: &[MaybeUninit<f32>]) -> Vec<u32> {
        // SAFETY: the caller passes a buffer that a loop body filled completely.
        values
            .iter()
            .map(|v| unsafe { v.assume_init() }.to_bits())
            .collect()
    }

    /// Every instruction-set level the CPU has computes the same bits as the baseline loop
    /// (no reassociation or fusion anywhere), here for the polynomial exp/ln and a binary op.
    #[test]
    fn every_level_gives_the_same_bits() {
        let n = 1000 + 13;
        let x = data(n);
        let y: Vec<f32> = x.iter().rev().copied().collect();
        let exp = |v: f32| math::exp(v);
        let ln = |v: f32| math::ln(v);
        let max = |a: f32, b: f32| crate::Float::max(a, b);
        let mut portable = vec![MaybeUninit::uninit(); n];
        let mut other = vec![MaybeUninit::uninit(); n];
        for level in [SimdLevel::Avx512, SimdLevel::Avx2] {
            #[cfg(target_arch = "x86_64")]
            {
                let supported = match level {
                    SimdLevel::Avx512 => {
                        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl")
                    }
                    _ => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
                };
                if !supported {
                    continue;
                }
                unary_body(&x, &mut portable, &exp);
                // SAFETY: the level's features were detected just above.
                unsafe {
                    match level {
                        SimdLevel::Avx512 => x86::unary_avx512(&x, &mut other, &exp),
                        _ => x86::unary_avx2(&x, &mut other, &exp),
                    }
                }
                assert_eq!(bits(&portable), bits(&other), "exp {level:?}");
                unary_body(&x, &mut portable, &ln);
                // SAFETY: as above.
                unsafe {
                    match level {
                        SimdLevel::Avx512 => x86::unary_avx512(&x, &mut other, &ln),
                        _ => x86::unary_avx2(&x, &mut other, &ln),
                    }
                }
                assert_eq!(bits(&portable), bits(&other), "ln {level:?}");
                binary_body(&x, &y, &mut portable, &max);
                // SAFETY: as above.
                unsafe {
                    match level {
                        SimdLevel::Avx512 => x86::binary_avx512(&x, &y, &mut other, &max),
                        _ => x86::binary_avx2(&x, &y, &mut other, &max),
                    }
                }
                assert_eq!(bits(&portable), bits(&other), "maximum {level:?}");
            }
        }
    }
}
