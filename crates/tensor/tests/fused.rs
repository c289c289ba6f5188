//! The fused elementwise ops against their plain references and against the unfused ops they
//! replace: `add_relu` = `relu(a + b)`, bit for bit, in f32 and f64, at sizes around every SIMD
//! width (1, primes, 4/8/16 ± 1, 127–129, 1031), with broadcasting, non-contiguous views, NaN
//! and signed zeros.

use unravel_tensor::ops::elementwise::reference;
use unravel_tensor::{Float, Rng, Tensor, TensorError};

/// Lengths around the vector widths of SSE2, AVX2 and AVX-512 (4/8/16 f32, 2/4/8 f64), primes
/// and a size with a long tail.
const LENGTHS: [usize; 19] = [
    1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 31, 32, 33, 127, 128, 129, 1031,
];

/// Bitwise equality (so −0.0 ≠ +0.0 and NaN = NaN of the same payload), with shapes.
#[track_caller]
fn assert_same_bits<E: Float>(what: &str, got: &Tensor<E>, expected: &Tensor<E>) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shapes");
    let (g, e) = (got.to_vec(), expected.to_vec());
    for (i, (a, b)) in g.iter().zip(&e).enumerate() {
        let same = a.to_f64().to_bits() == b.to_f64().to_bits();
        assert!(same, "{what}: element {i} is {a:?}, expected {b:?}");
    }
}

/// `a.add_relu(b)` equals the reference and the unfused `a.add(b)?.relu()`, bit for bit.
#[track_caller]
fn check<E: Float>(what: &str, a: &Tensor<E>, b: &Tensor<E>) {
    let fused = a.add_relu(b).unwrap();
    assert_same_bits(
        &format!("{what} vs reference"),
        &fused,
        &reference::add_relu(a, b).unwrap(),
    );
    assert_same_bits(
        &format!("{what} vs add + relu"),
        &fused,
        &a.add(b).unwrap().relu().unwrap(),
    );
}

fn random<E: Float>(shape: &[usize], rng: &mut Rng) -> Tensor<E> {
    Tensor::randn(shape, 0.0, 1.0, rng)
}

fn dense_lengths<E: Float>(rng: &mut Rng) {
    for n in LENGTHS {
        let (a, b) = (random::<E>(&[n], rng), random::<E>(&[n], rng));
        check(&format!("[{n}]"), &a, &b);
        // The same data as rows of a matrix (several inner runs).
        let (a, b) = (random::<E>(&[3, n], rng), random::<E>(&[3, n], rng));
        check(&format!("[3, {n}]"), &a, &b);
    }
    let (a, b) = (random::<E>(&[], rng), random::<E>(&[], rng));
    check("rank 0", &a, &b);
    let empty = Tensor::<E>::zeros(&[0, 3]);
    assert_eq!(empty.add_relu(&empty).unwrap().shape(), &[0, 3]);
}

#[test]
fn add_relu_dense_f32_and_f64() {
    let mut rng = Rng::seed_from(81);
    dense_lengths::<f32>(&mut rng);
    dense_lengths::<f64>(&mut rng);
}

fn views_and_broadcasting<E: Float>(rng: &mut Rng) {
    // Broadcasting: a channel bias, a column, a scalar, both sides.
    let x = random::<E>(&[2, 5, 17], rng);
    check("row broadcast", &x, &random::<E>(&[17], rng));
    check("column broadcast", &x, &random::<E>(&[5, 1], rng));
    check("scalar", &x, &Tensor::scalar(E::from_f64(-0.25)));
    check("scalar first", &Tensor::scalar(E::from_f64(0.5)), &x);
    check(
        "both broadcast",
        &random::<E>(&[3, 1, 9], rng),
        &random::<E>(&[1, 4, 9], rng),
    );
    // Views: a permutation, a stepped slice, a narrowed transpose, mixed with dense operands.
    let a = random::<E>(&[9, 13], rng);
    let b = random::<E>(&[13, 9], rng);
    let permuted = a.permute(&[1, 0]).unwrap();
    check("permuted + dense", &permuted, &b);
    check("dense + permuted", &b, &permuted);
    let wide = random::<E>(&[13, 19], rng);
    let stepped = wide.slice(1, 0, 18, 2).unwrap(); // [13, 9], stride 2
    check("stepped + permuted", &stepped, &permuted);
    let narrowed = random::<E>(&[11, 15], rng)
        .transpose(0, 1)
        .unwrap()
        .narrow(0, 2, 13)
        .unwrap()
        .narrow(1, 1, 9)
        .unwrap();
    check("narrowed transpose + stepped", &narrowed, &stepped);
}

#[test]
fn add_relu_views_and_broadcasting_f32_and_f64() {
    let mut rng = Rng::seed_from(82);
    views_and_broadcasting::<f32>(&mut rng);
    views_and_broadcasting::<f64>(&mut rng);
}

fn special_values<E: Float>() {
    let v = |x: f64| E::from_f64(x);
    let nan = v(f64::NAN);
    let a = Tensor::<E>::from_vec(
        vec![
            v(1.0),
            v(-2.0),
            v(0.0),
            v(-0.0),
            nan,
            v(2.0),
            v(f64::INFINITY),
            v(-1.0),
        ],
        &[8],
    )
    .unwrap();
    let b = Tensor::<E>::from_vec(
        vec![
            v(-1.0),
            v(1.0),
            v(-0.0),
            v(-0.0),
            v(1.0),
            nan,
            v(f64::NEG_INFINITY),
            v(3.0),
        ],
        &[8],
    )
    .unwrap();
    check("special values", &a, &b);
    let out = a.add_relu(&b).unwrap().to_vec();
    // 1 − 1 = +0; −2 + 1 < 0 → 0; −0 + −0 = −0 stays (not < 0, like relu); NaN stays NaN;
    // ∞ − ∞ = NaN stays NaN; −1 + 3 = 2.
    assert_eq!(out[0].to_f64().to_bits(), 0f64.to_bits());
    assert_eq!(out[1].to_f64(), 0.0);
    assert_eq!(out[3].to_f64().to_bits(), (-0f64).to_bits());
    assert!(out[4].to_f64().is_nan() && out[5].to_f64().is_nan() && out[6].to_f64().is_nan());
    assert_eq!(out[7].to_f64(), 2.0);
}

#[test]
fn add_relu_special_values_f32_and_f64() {
    special_values::<f32>();
    special_values::<f64>();
}

#[test]
fn add_relu_errors_are_typed() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    assert!(matches!(
        a.add_relu(&Tensor::zeros(&[4])),
        Err(TensorError::Broadcast { .. })
    ));
}
