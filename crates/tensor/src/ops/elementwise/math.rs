//! Branch-free `exp` and `ln` that LLVM autovectorises (a libm call stops vectorisation).
//!
//! ## exp
//!
//! Method (Cephes): with `n = round(x / ln 2)` and `r = x − n·ln 2` (ln 2 split in two parts so
//! `n·C₁` is exact), `eˣ = 2ⁿ · eʳ`, `|r| ≤ ln2/2`.
//! * f32: `eʳ ≈ 1 + r + r²·P(r)`, `P` of degree 5 (Cephes `expf`).
//! * f64: `eʳ ≈ 1 + 2·r·P(r²) / (Q(r²) − r·P(r²))` (Cephes `exp`, a Padé form).
//!
//! `2ⁿ` is built from exponent bits as `2^⌊n/2⌋ · 2^(n−⌊n/2⌋)`, so overflow to +∞ and gradual
//! underflow to subnormals and 0 come out of the final products naturally. `x` is clamped first
//! (a clamp that keeps NaN), so ±∞ give +∞ / 0 and NaN gives NaN. Rounding to an integer uses
//! the "add 1.5·2^mantissa" trick, which vectorises on every ISA. No FMA is used, so every SIMD
//! level gives the same bits. Tested against `std` within 2 ulp over the whole range.
//!
//! ## ln
//! fdlibm/musl: `x = 2ᵏ·(1 + f)` with `1 + f ∈ [√2/2, √2)` (found by integer arithmetic on the
//! bits; subnormals are scaled up first), `s = f/(2 + f)`, and
//! `ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²))` with a minimax `R`; then `+ k·ln 2` (split in two).
//! Special values (`x < 0` or NaN → NaN, `0` → −∞, `+∞` → +∞) are selected at the end.

use crate::{DType, Float};

/// eˣ for f32 or f64, vectorisable; within 2 ulp of `std`'s `exp` (see the tests).
///
/// ```
/// use unravel_tensor::ops::elementwise::math::exp;
/// assert_eq!(exp(0.0f32), 1.0);
/// assert!((exp(1.0f64) - std::f64::consts::E).abs() < 1e-15);
/// ```
#[inline(always)]
pub fn exp<E: Float>(x: E) -> E {
    // `E::DTYPE` is a constant, and `(x as f64) as f32` folds to `x`, so each arm compiles to
    // pure single- or double-precision code.
    match E::DTYPE {
        DType::F32 => E::from_f64(exp_f32(x.to_f64() as f32) as f64),
        DType::F64 => E::from_f64(exp_f64(x.to_f64())),
    }
}

/// ln x for f32 or f64, vectorisable; within 2 ulp of `std`'s `ln` (see the tests).
///
/// ```
/// use unravel_tensor::ops::elementwise::math::ln;
/// assert_eq!(ln(1.0f32), 0.0);
/// assert!((ln(10.0f64) - 10.0f64.ln()).abs() < 1e-15);
/// ```
#[inline(always)]
pub fn ln<E: Float>(x: E) -> E {
    match E::DTYPE {
        DType::F32 => E::from_f64(ln_f32(x.to_f64() as f32) as f64),
        DType::F64 => E::from_f64(ln_f64(x.to_f64())),
    }
}

/// ln x in single precision (musl `logf`).
///
/// ```
/// use unravel_tensor::ops::elementwise::math::ln_f32;
/// assert!((ln_f32(3.0) - 3.0f32.ln()).abs() <= f32::EPSILON * 2.0);
/// assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
/// ```
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 6.931_381e-1;
    const LN2_LO: f32 = 9.058_001e-6;
    const LG1: f32 = 0.666_666_6; // 0xaaaaaa.0p-24
    const LG2: f32 = 0.400_009_72; // 0xccce13.0p-25
    const LG3: f32 = 0.284_987_87; // 0x91e9ee.0p-25
    const LG4: f32 = 0.242_790_79; // 0xf89e26.0p-26
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 33_554_432.0 } else { x }; // 2²⁵
    let k_offset: i32 = if subnormal { -25 } else { 0 };
    // Move the mantissa to [√2/2, √2) and read off the exponent.
    let bits = (scaled.to_bits() as i32).wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = (bits >> 23) - 0x7f + k_offset;
    let m = f32::from_bits(((bits & 0x007f_ffff) + 0x3f35_04f3) as u32);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * LG4);
    let t2 = z * (LG1 + w * LG3);
    let r = t2 + t1;
    let half_f_squared = 0.5 * f * f;
    let k = k as f32;
    let result = s * (half_f_squared + r) + k * LN2_LO - half_f_squared + f + k * LN2_HI;
    let result = if x == f32::INFINITY { x } else { result };
    let result = if x == 0.0 { f32::NEG_INFINITY } else { result };
    if x < 0.0 || x.is_nan() {
        f32::NAN
    } else {
        result
    }
}

/// ln x in double precision (fdlibm/musl `log`).
///
/// ```
/// use unravel_tensor::ops::elementwise::math::ln_f64;
/// assert!((ln_f64(0.3) - 0.3f64.ln()).abs() <= f64::EPSILON);
/// assert!(ln_f64(-1.0).is_nan());
/// ```
#[inline(always)]
pub fn ln_f64(x: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const LG1: f64 = 6.666_666_666_666_735e-1;
    const LG2: f64 = 3.999_999_999_940_942e-1;
    const LG3: f64 = 2.857_142_874_366_239e-1;
    const LG4: f64 = 2.222_219_843_214_978_4e-1;
    const LG5: f64 = 1.818_357_216_161_805e-1;
    const LG6: f64 = 1.531_383_769_920_937_3e-1;
    const LG7: f64 = 1.479_819_860_511_658_6e-1;
    let subnormal = x < f64::MIN_POSITIVE;
    let scaled = if subnormal {
        x * 18_014_398_509_481_984.0
    } else {
        x
    }; // 2⁵⁴
    let k_offset: i64 = if subnormal { -54 } else { 0 };
    let bits = (scaled.to_bits() as i64).wrapping_add((0x3ff0_0000 - 0x3fe6_a09e) << 32);
    let k = (bits >> 52) - 0x3ff + k_offset;
    let m = f64::from_bits(((bits & 0x000f_ffff_ffff_ffff) + (0x3fe6_a09e << 32)) as u64);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let half_f_squared = 0.5 * f * f;
    let k = k as f64;
    let result = s * (half_f_squared + r) + k * LN2_LO - half_f_squared + f + k * LN2_HI;
    let result = if x == f64::INFINITY { x } else { result };
    let result = if x == 0.0 { f64::NEG_INFINITY } else { result };
    if x < 0.0 || x.is_nan() {
        f64::NAN
    } else {
        result
    }
}

/// `if x < low { low } else if x > high { high } else { x }`, keeping NaN.
#[inline(always)]
fn clamp_keep_nan_f32(x: f32, low: f32, high: f32) -> f32 {
    let x = if x < low { low } else { x };
    if x > high {
        high
    } else {
        x
    }
}

#[inline(always)]
fn clamp_keep_nan_f64(x: f64, low: f64, high: f64) -> f64 {
    let x = if x < low { low } else { x };
    if x > high {
        high
    } else {
        x
    }
}

/// eˣ in single precision (Cephes `expf` polynomial).
///
/// ```
/// use unravel_tensor::ops::elementwise::math::exp_f32;
/// assert!((exp_f32(2.0) - 2.0f32.exp()).abs() <= f32::EPSILON * 8.0);
/// assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
/// ```
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4; // 0.693359375, few mantissa bits: n·C1 is exact
    const C2: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³
                                     // Beyond these, eˣ is +∞ or rounds to 0; inside them n stays within [-150, 129].
    let x = clamp_keep_nan_f32(x, -104.0, 89.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_int = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - n * C1;
    let r = r - n * C2;
    let mut p = 1.987_569_2e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let er = p * (r * r) + r + 1.0;
    let half = n_int >> 1;
    let scale_low = f32::from_bits(((half + 127) as u32) << 23);
    let scale_high = f32::from_bits(((n_int - half + 127) as u32) << 23);
    er * scale_low * scale_high
}

/// eˣ in double precision (Cephes `exp` Padé form).
///
/// ```
/// use unravel_tensor::ops::elementwise::math::exp_f64;
/// assert!((exp_f64(-3.0) - (-3.0f64).exp()).abs() <= f64::EPSILON);
/// assert!(exp_f64(f64::NAN).is_nan());
/// ```
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const C1: f64 = 6.931_457_519_531_25e-1;
    const C2: f64 = 1.428_606_820_309_417_3e-6;
    const ROUND: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    let x = clamp_keep_nan_f64(x, -746.0, 710.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let n_int = (shifted.to_bits() as i64).wrapping_sub(ROUND.to_bits() as i64);
    let r = x - n * C1;
    let r = r - n * C2;
    let rr = r * r;
    let p = ((1.261_771_930_748_105_9e-4 * rr + 3.029_944_077_074_419_6e-2) * rr + 1.0) * r;
    let q = ((3.001_985_051_386_644_5e-6 * rr + 2.524_483_403_496_841e-3) * rr
        + 2.272_655_482_081_550_3e-1)
        * rr
        + 2.0;
    let er = 1.0 + 2.0 * (p / (q - p));
    let half = n_int >> 1;
    let scale_low = f64::from_bits(((half + 1023) as u64) << 52);
    let scale_high = f64::from_bits(((n_int - half + 1023) as u64) << 52);
    er * scale_low * scale_high
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place, counting across the subnormal range.
    fn ulps_f32(a: f32, b: f32) -> u64 {
        let key = |v: f32| {
            let bits = v.to_bits() as i32 as i64;
            if bits < 0 {
                -(bits & 0x7fff_ffff)
            } else {
                bits
            }
        };
        key(a).abs_diff(key(b))
    }

    fn ulps_f64(a: f64, b: f64) -> u64 {
        let key = |v: f64| {
            let bits = v.to_bits() as i128;
            if v.is_sign_negative() {
                -(bits & 0x7fff_ffff_ffff_ffff)
            } else {
                bits
            }
        };
        key(a).abs_diff(key(b)) as u64
    }

    #[test]
    fn exp_f32_within_two_ulp_everywhere() {
        let mut worst = 0;
        // A dense sweep of the whole non-trivial range (~5·10⁵ points).
        let mut x = -104.0f32;
        while x < 89.5 {
            let got = exp_f32(x);
            let expected = x.exp();
            let error = ulps_f32(got, expected);
            assert!(
                error <= 2,
                "exp({x:e}) = {got:e}, std {expected:e}, {error} ulp"
            );
            worst = worst.max(error);
            x += 0.000_37 + x.abs() * 1e-6;
        }
        assert!(worst <= 2);
        for (x, expected) in [
            (0.0f32, 1.0f32),
            (-0.0, 1.0),
            (f32::INFINITY, f32::INFINITY),
            (f32::NEG_INFINITY, 0.0),
            (88.8, f32::INFINITY),
            (1000.0, f32::INFINITY),
            (-1000.0, 0.0),
            (f32::MIN_POSITIVE, 1.0),
        ] {
            assert_eq!(exp_f32(x), expected, "exp({x})");
        }
        assert!(exp_f32(f32::NAN).is_nan());
        // Subnormal results.
        for x in [-88.0f32, -95.0, -100.0, -103.0, -103.9] {
            assert!(ulps_f32(exp_f32(x), x.exp()) <= 1, "exp({x})");
        }
    }

    #[test]
    fn ln_f32_within_two_ulp_everywhere() {
        // Every exponent (subnormals included), many mantissas each, and densely around 1.
        let mut bits = 1u32;
        while bits < 0x7f80_0000 {
            let x = f32::from_bits(bits);
            let error = ulps_f32(ln_f32(x), x.ln());
            assert!(
                error <= 2,
                "ln({x:e}) = {:e}, std {:e}, {error} ulp",
                ln_f32(x),
                x.ln()
            );
            bits += 997;
        }
        let mut x = 0.5f32;
        while x < 2.0 {
            assert!(ulps_f32(ln_f32(x), x.ln()) <= 2, "ln({x})");
            x += 1.0e-5;
        }
        assert_eq!(ln_f32(1.0), 0.0);
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(-0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan());
        assert!(ln_f32(f32::NEG_INFINITY).is_nan());
        assert!(ln_f32(f32::NAN).is_nan());
    }

    #[test]
    fn ln_f64_within_two_ulp_everywhere() {
        let mut bits = 1u64;
        while bits < 0x7ff0_0000_0000_0000 {
            let x = f64::from_bits(bits);
            let error = ulps_f64(ln_f64(x), x.ln());
            assert!(
                error <= 2,
                "ln({x:e}) = {:e}, std {:e}, {error} ulp",
                ln_f64(x),
                x.ln()
            );
            bits += 0x0000_3a7b_9c1d_2e5f;
        }
        let mut x = 0.5f64;
        while x < 2.0 {
            assert!(ulps_f64(ln_f64(x), x.ln()) <= 2, "ln({x})");
            x += 1.3e-6;
        }
        assert_eq!(ln_f64(1.0), 0.0);
        assert_eq!(ln_f64(0.0), f64::NEG_INFINITY);
        assert_eq!(ln_f64(f64::INFINITY), f64::INFINITY);
        assert!(ln_f64(-1e-300).is_nan());
        assert!(ln_f64(f64::NAN).is_nan());
    }

    #[test]
    fn exp_f64_within_two_ulp_everywhere() {
        let mut x = -746.0f64;
        while x < 710.0 {
            let got = exp_f64(x);
            let expected = x.exp();
            let error = ulps_f64(got, expected);
            assert!(
                error <= 2,
                "exp({x:e}) = {got:e}, std {expected:e}, {error} ulp"
            );
            x += 0.000_731 + x.abs() * 1e-6;
        }
        for x in [-1e-300, 1e-300, 0.5, -0.5, 709.78, -708.5, -740.0, -745.1] {
            assert!(ulps_f64(exp_f64(x), x.exp()) <= 2, "exp({x})");
        }
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(710.0), f64::INFINITY);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_f64(-800.0), 0.0);
        assert_eq!(exp_f64(0.0), 1.0);
        assert!(exp_f64(f64::NAN).is_nan());
    }
}
