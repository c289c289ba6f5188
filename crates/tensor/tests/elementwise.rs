//! Elementwise ops against the plain reference kernels, on random shapes (1, primes, just past
//! the SIMD widths, above the parallel threshold) and on non-contiguous views, in f32 and f64.

use approx::assert_relative_eq;
use unravel_tensor::ops::elementwise::reference;
use unravel_tensor::{Float, Rng, Tensor, TensorError};

/// The same logical shape in several layouts: contiguous, permuted, narrowed, stepped and
/// broadcast (where an axis can be repeated).
fn views_of<E: Float>(shape: &[usize], rng: &mut Rng) -> Vec<(&'static str, Tensor<E>)> {
    let rank = shape.len();
    let mut views = vec![("contiguous", Tensor::<E>::randn(shape, 0.0, 1.0, rng))];
    if rank >= 2 {
        let reversed: Vec<usize> = shape.iter().rev().copied().collect();
        let axes: Vec<usize> = (0..rank).rev().collect();
        let base = Tensor::<E>::randn(&reversed, 0.0, 1.0, rng);
        views.push(("permuted", base.permute(&axes).unwrap()));
    }
    if rank >= 1 {
        let mut wider = shape.to_vec();
        wider[rank - 1] += 3;
        let base = Tensor::<E>::randn(&wider, 0.0, 1.0, rng);
        views.push((
            "narrowed",
            base.narrow(rank - 1, 1, shape[rank - 1]).unwrap(),
        ));
        let mut doubled = shape.to_vec();
        doubled[0] *= 2;
        let base = Tensor::<E>::randn(&doubled, 0.0, 1.0, rng);
        views.push(("stepped", base.slice(0, 1, doubled[0], 2).unwrap()));
        let mut collapsed = shape.to_vec();
        collapsed[0] = 1;
        let base = Tensor::<E>::randn(&collapsed, 0.0, 1.0, rng);
        views.push(("broadcast", base.broadcast_to(shape).unwrap()));
    }
    for (_, v) in &views {
        assert_eq!(v.shape(), shape);
    }
    views
}

/// Bitwise equality treating all NaNs as equal.
fn assert_same<E: Float>(got: &Tensor<E>, expected: &Tensor<E>, what: &str) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    for (i, (g, e)) in got.to_vec().into_iter().zip(expected.to_vec()).enumerate() {
        let same = (g.is_nan() && e.is_nan()) || g.to_f64().to_bits() == e.to_f64().to_bits();
        assert!(same, "{what}: element {i}: got {g}, expected {e}");
    }
}

fn assert_close<E: Float>(got: &Tensor<E>, expected: &Tensor<E>, tolerance: f64, what: &str) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    for (g, e) in got.to_vec().into_iter().zip(expected.to_vec()) {
        if g.is_nan() || e.is_nan() {
            assert!(g.is_nan() && e.is_nan(), "{what}: got {g}, expected {e}");
        } else if g.is_finite() || e.is_finite() {
            assert_relative_eq!(
                g.to_f64(),
                e.to_f64(),
                max_relative = tolerance,
                epsilon = 1e-300
            );
        } else {
            assert_eq!(g, e, "{what}");
        }
    }
}

type BinaryCase<E> = (
    &'static str,
    fn(&Tensor<E>, &Tensor<E>) -> unravel_tensor::Result<Tensor<E>>,
    fn(E, E) -> E,
);

fn binary_cases<E: Float>() -> Vec<BinaryCase<E>> {
    vec![
        ("add", Tensor::add, |a, b| a + b),
        ("sub", Tensor::sub, |a, b| a - b),
        ("mul", Tensor::mul, |a, b| a * b),
        ("div", Tensor::div, |a, b| a / b),
        ("maximum", Tensor::maximum, |a, b| {
            if a.is_nan() || b.is_nan() {
                a + b
            } else if a >= b {
                a
            } else {
                b
            }
        }),
        ("minimum", Tensor::minimum, |a, b| {
            if a.is_nan() || b.is_nan() {
                a + b
            } else if a <= b {
                a
            } else {
                b
            }
        }),
        ("pow", Tensor::pow, |a, b| a.abs().powf(b)),
        (
            "gt",
            Tensor::gt,
            |a, b| if a > b { E::ONE } else { E::ZERO },
        ),
        (
            "ge",
            Tensor::ge,
            |a, b| if a >= b { E::ONE } else { E::ZERO },
        ),
        (
            "lt",
            Tensor::lt,
            |a, b| if a < b { E::ONE } else { E::ZERO },
        ),
        (
            "le",
            Tensor::le,
            |a, b| if a <= b { E::ONE } else { E::ZERO },
        ),
        (
            "eq",
            Tensor::eq,
            |a, b| if a == b { E::ONE } else { E::ZERO },
        ),
    ]
}

/// Shape pairs: same shape, the batch-norm bias pattern, row vector, outer product, scalar,
/// rank mismatch, sizes just past SIMD widths, and one above the parallel threshold.
const SHAPE_PAIRS: &[(&[usize], &[usize])] = &[
    (&[1], &[1]),
    (&[17], &[17]),
    (&[3, 9], &[3, 9]),
    (&[2, 5, 3, 7], &[1, 5, 1, 1]),
    (&[4, 33], &[33]),
    (&[13, 1], &[1, 5]),
    (&[2, 3, 5], &[]),
    (&[], &[6, 4]),
    (&[2, 1, 17], &[3, 1]),
    (&[2, 3, 97, 61], &[1, 3, 1, 1]),
    (&[2, 3, 97, 61], &[2, 3, 97, 61]),
];

fn check_binary<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for &(lhs_shape, rhs_shape) in SHAPE_PAIRS {
        let lhs_views = views_of::<E>(lhs_shape, &mut rng);
        let rhs_views = views_of::<E>(rhs_shape, &mut rng);
        for (lhs_name, lhs) in &lhs_views {
            for (rhs_name, rhs) in rhs_views.iter().take(3) {
                for (op, fast, plain) in binary_cases::<E>() {
                    let what = format!("{op} {lhs_shape:?}({lhs_name}) {rhs_shape:?}({rhs_name})");
                    if op == "pow" {
                        let base = lhs.abs().unwrap();
                        let got = fast(&base, rhs).unwrap();
                        let expected = reference::binary(&base, rhs, plain).unwrap();
                        assert_close(&got, &expected, 2.0 * E::EPSILON.to_f64(), &what);
                    } else {
                        let got = fast(lhs, rhs).unwrap();
                        let expected = reference::binary(lhs, rhs, plain).unwrap();
                        assert_same(&got, &expected, &what);
                    }
                }
            }
        }
    }
}

#[test]
fn binary_ops_match_reference_f32() {
    check_binary::<f32>(1);
}

#[test]
fn binary_ops_match_reference_f64() {
    check_binary::<f64>(2);
}

type UnaryCase<E> = (
    &'static str,
    Box<dyn Fn(&Tensor<E>) -> unravel_tensor::Result<Tensor<E>>>,
    fn(E) -> E,
);

fn unary_cases<E: Float>() -> Vec<UnaryCase<E>> {
    let half = E::from_f64(0.5);
    let three = E::from_f64(3.0);
    vec![
        ("neg", Box::new(|t| t.neg()), |x| -x),
        ("relu", Box::new(|t| t.relu()), |x| {
            if x > E::ZERO || x.is_nan() {
                x
            } else {
                E::ZERO
            }
        }),
        ("exp", Box::new(|t| t.exp()), |x| x.exp()),
        ("log", Box::new(|t| t.log()), |x| x.ln()),
        ("sqrt", Box::new(|t| t.sqrt()), |x| x.sqrt()),
        ("abs", Box::new(|t| t.abs()), |x| x.abs()),
        ("add_scalar", Box::new(move |t| t.add_scalar(half)), |x| {
            x + E::from_f64(0.5)
        }),
        ("mul_scalar", Box::new(move |t| t.mul_scalar(three)), |x| {
            x * E::from_f64(3.0)
        }),
        ("powf 2", Box::new(|t| t.powf(E::ONE + E::ONE)), |x| {
            x.powf(E::from_f64(2.0))
        }),
        ("powf 1", Box::new(|t| t.powf(E::ONE)), |x| x),
        ("powf 0.5", Box::new(move |t| t.powf(half)), |x| {
            x.powf(E::from_f64(0.5))
        }),
        ("powf 3", Box::new(move |t| t.powf(three)), |x| {
            x.powf(E::from_f64(3.0))
        }),
        ("map", Box::new(|t| t.map(|x| x * x - x)), |x| x * x - x),
    ]
}

fn check_unary<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let shapes: &[&[usize]] = &[
        &[],
        &[1],
        &[8],
        &[9],
        &[16],
        &[17],
        &[5, 13],
        &[3, 4, 1, 7],
        &[3, 101, 113],
    ];
    for shape in shapes {
        for (view_name, x) in views_of::<E>(shape, &mut rng) {
            for (op, fast, plain) in unary_cases::<E>() {
                let what = format!("{op} {shape:?}({view_name})");
                let got = fast(&x).unwrap();
                let expected = reference::unary(&x, plain);
                // exp and log are polynomials within 2 ulp of std; the others are the same expression.
                assert_close(&got, &expected, 4.0 * E::EPSILON.to_f64(), &what);
            }
        }
    }
}

#[test]
fn unary_ops_match_reference_f32() {
    check_unary::<f32>(3);
}

#[test]
fn unary_ops_match_reference_f64() {
    check_unary::<f64>(4);
}

#[test]
fn special_values() {
    let x = Tensor::<f32>::from_vec(
        vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, -1.0],
        &[6],
    )
    .unwrap();
    let relu = x.relu().unwrap().to_vec();
    assert!(relu[0].is_nan());
    assert_eq!(&relu[1..], &[f32::INFINITY, 0.0, 0.0, -0.0, 0.0]);
    let exp = x.exp().unwrap().to_vec();
    assert!(exp[0].is_nan());
    assert_eq!(&exp[1..4], &[f32::INFINITY, 0.0, 1.0]);
    let log = x.log().unwrap().to_vec();
    assert_eq!(log[3], f32::NEG_INFINITY);
    assert!(log[5].is_nan());
    let max = x.maximum(&Tensor::scalar(0.0)).unwrap().to_vec();
    assert!(max[0].is_nan());
    assert_eq!(max[2], 0.0);
    // Every comparison with NaN is false.
    for mask in [x.gt(&x), x.ge(&x), x.lt(&x), x.le(&x), x.eq(&x)] {
        assert_eq!(mask.unwrap().to_vec()[0], 0.0);
    }
    assert_eq!(x.eq(&x).unwrap().to_vec()[1..], [1.0; 5]);
}

fn check_select<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let cases: &[(&[usize], &[usize], &[usize])] = &[
        (&[7], &[7], &[7]),
        (&[3, 1], &[1, 17], &[]),
        (&[2, 5, 3, 3], &[1, 5, 1, 1], &[2, 5, 3, 3]),
        (&[1], &[4, 9], &[9]),
        (&[3, 77, 151], &[3, 77, 151], &[151]),
    ];
    for &(c_shape, t_shape, f_shape) in cases {
        for (name, raw) in views_of::<E>(c_shape, &mut rng) {
            let condition = raw.gt(&Tensor::scalar(E::ZERO)).unwrap();
            let on_true = Tensor::<E>::randn(t_shape, 0.0, 1.0, &mut rng);
            let on_false = views_of::<E>(f_shape, &mut rng).pop().unwrap().1;
            let got = Tensor::select(&condition, &on_true, &on_false).unwrap();
            let expected = reference::select(&condition, &on_true, &on_false).unwrap();
            assert_same(&got, &expected, &format!("select {c_shape:?}({name})"));
            // The raw values as a condition: nonzero (including NaN) picks on_true.
            let got = Tensor::select(&raw, &on_true, &on_false).unwrap();
            let expected = reference::select(&raw, &on_true, &on_false).unwrap();
            assert_same(&got, &expected, "select raw");
        }
    }
}

#[test]
fn select_matches_reference() {
    check_select::<f32>(5);
    check_select::<f64>(6);
}

#[test]
fn empty_tensors() {
    let empty = Tensor::<f32>::zeros(&[0, 3]);
    let row = Tensor::<f32>::ones(&[3]);
    let sum = empty.add(&row).unwrap();
    assert_eq!(sum.shape(), &[0, 3]);
    assert_eq!(empty.exp().unwrap().shape(), &[0, 3]);
    assert_eq!(Tensor::select(&empty, &row, &row).unwrap().shape(), &[0, 3]);
}

#[test]
fn broadcast_errors_name_the_op_and_shapes() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[4]);
    for (op, result) in [
        ("add", a.add(&b)),
        ("sub", a.sub(&b)),
        ("mul", a.mul(&b)),
        ("div", a.div(&b)),
        ("maximum", a.maximum(&b)),
        ("minimum", a.minimum(&b)),
        ("pow", a.pow(&b)),
        ("gt", a.gt(&b)),
        ("ge", a.ge(&b)),
        ("lt", a.lt(&b)),
        ("le", a.le(&b)),
        ("eq", a.eq(&b)),
        ("zip_map", a.zip_map(&b, |x, y| x + y)),
    ] {
        assert_eq!(
            result.unwrap_err(),
            TensorError::Broadcast {
                op,
                lhs: vec![2, 3],
                rhs: vec![4]
            }
        );
    }
    let column = Tensor::<f32>::zeros(&[2, 1]);
    let error = Tensor::select(&a, &column, &b).unwrap_err();
    assert_eq!(
        error,
        TensorError::Broadcast {
            op: "select",
            lhs: vec![2, 3],
            rhs: vec![4]
        }
    );
    let error = Tensor::select(&a, &b, &column).unwrap_err();
    assert_eq!(
        error,
        TensorError::Broadcast {
            op: "select",
            lhs: vec![2, 3],
            rhs: vec![4]
        }
    );
    let error = Tensor::select(&column, &Tensor::zeros(&[3, 3]), &a).unwrap_err();
    assert_eq!(
        error,
        TensorError::Broadcast {
            op: "select",
            lhs: vec![2, 1],
            rhs: vec![3, 3]
        }
    );
    let message = a.add(&b).unwrap_err().to_string();
    assert!(
        message.contains("add") && message.contains("[2, 3]") && message.contains("[4]"),
        "{message}"
    );
}

#[test]
fn overflowing_broadcast_is_an_error() {
    // A view that could never be materialised (its bytes overflow isize::MAX) is refused when
    // it is made, so no op ever sees one.
    for shape in [[usize::MAX / 2, 1], [usize::MAX / 4, 1]] {
        assert!(matches!(
            Tensor::<f32>::zeros(&[1, 1]).broadcast_to(&shape),
            Err(TensorError::ShapeOverflow {
                op: "broadcast_to",
                ..
            })
        ));
    }
    // Two valid views (stride 0 everywhere, one stored element each) whose broadcast would not
    // fit in usize: the op fails before allocating anything.
    let column = Tensor::<f32>::zeros(&[1, 1])
        .broadcast_to(&[1 << 40, 1])
        .unwrap();
    let row = Tensor::<f32>::zeros(&[1, 1])
        .broadcast_to(&[1, 1 << 40])
        .unwrap();
    assert!(matches!(
        column.add(&row),
        Err(TensorError::ShapeOverflow { op: "add", .. })
    ));
    let scalar = Tensor::<f32>::scalar(1.0);
    assert!(matches!(
        Tensor::select(&column, &row, &scalar),
        Err(TensorError::ShapeOverflow { op: "select", .. })
    ));
}

#[test]
fn results_are_dense_and_inputs_untouched() {
    let x = Tensor::<f64>::from_vec((0..12).map(f64::from).collect(), &[3, 4]).unwrap();
    let view = x.transpose(0, 1).unwrap();
    let y = view.add_scalar(1.0).unwrap();
    assert!(y.is_contiguous());
    assert_eq!(y.shape(), &[4, 3]);
    assert_eq!(y.get(&[1, 2]).unwrap(), 10.0);
    assert_eq!(x.to_vec(), (0..12).map(f64::from).collect::<Vec<_>>());
}
