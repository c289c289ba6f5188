//! `concat` and `pad` against element-by-element references, on views, in f32 and f64.

use unravel_tensor::ops::elementwise::reference::multi_indices;
use unravel_tensor::{Float, Rng, Tensor, TensorError};

fn check_concat<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let base: &[usize] = &[3, 5, 17];
    for axis in 0..3 {
        let sizes = [1, 4, 9];
        let parts: Vec<Tensor<E>> = sizes
            .iter()
            .enumerate()
            .map(|(k, &size)| {
                let mut shape = base.to_vec();
                shape[axis] = size;
                let t = Tensor::<E>::randn(&shape, 0.0, 1.0, &mut rng);
                match k {
                    // A permuted view and a stepped view among the inputs.
                    1 => {
                        let reversed: Vec<usize> = shape.iter().rev().copied().collect();
                        Tensor::<E>::randn(&reversed, 0.0, 1.0, &mut rng)
                            .permute(&[2, 1, 0])
                            .unwrap()
                    }
                    2 => {
                        let mut doubled = shape.clone();
                        doubled[2] *= 2;
                        Tensor::<E>::randn(&doubled, 0.0, 1.0, &mut rng)
                            .slice(2, 1, doubled[2], 2)
                            .unwrap()
                    }
                    _ => t,
                }
            })
            .collect();
        let refs: Vec<&Tensor<E>> = parts.iter().collect();
        let out = Tensor::concat(&refs, axis).unwrap();
        let mut expected_shape = base.to_vec();
        expected_shape[axis] = sizes.iter().sum();
        assert_eq!(out.shape(), &expected_shape[..]);
        for index in multi_indices(out.shape()) {
            let mut local = index.clone();
            let mut k = 0;
            while local[axis] >= sizes[k] {
                local[axis] -= sizes[k];
                k += 1;
            }
            assert_eq!(
                out.get(&index).unwrap(),
                parts[k].get(&local).unwrap(),
                "axis {axis} {index:?}"
            );
        }
    }
}

#[test]
fn concat_matches_reference() {
    check_concat::<f32>(1);
    check_concat::<f64>(2);
}

#[test]
fn concat_single_and_empty_parts() {
    let a = Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap();
    let empty = Tensor::<f32>::zeros(&[0]);
    assert_eq!(Tensor::concat(&[&a], 0).unwrap().to_vec(), vec![1.0, 2.0]);
    assert_eq!(
        Tensor::concat(&[&empty, &a, &empty], 0).unwrap().to_vec(),
        vec![1.0, 2.0]
    );
}

#[test]
fn concat_errors() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[2, 4]);
    let c = Tensor::<f32>::zeros(&[2, 3, 1]);
    assert_eq!(
        Tensor::concat(&[&a, &b], 0).unwrap_err(),
        TensorError::ShapeMismatch {
            op: "concat",
            lhs: vec![2, 3],
            rhs: vec![2, 4]
        }
    );
    assert!(Tensor::concat(&[&a, &b], 1).is_ok());
    assert_eq!(
        Tensor::concat(&[&a, &c], 1).unwrap_err(),
        TensorError::ShapeMismatch {
            op: "concat",
            lhs: vec![2, 3],
            rhs: vec![2, 3, 1]
        }
    );
    assert_eq!(
        Tensor::concat(&[&a, &a], 2).unwrap_err(),
        TensorError::AxisOutOfRange {
            op: "concat",
            axis: 2,
            rank: 2
        }
    );
    let big = Tensor::<f32>::zeros(&[1, 1])
        .broadcast_to(&[usize::MAX / 8, 1])
        .unwrap();
    // Results whose size in bytes overflows: ShapeOverflow, as for every other op.
    assert!(matches!(
        Tensor::concat(&[&big, &big], 0),
        Err(TensorError::ShapeOverflow { op: "concat", .. })
    ));
    assert!(matches!(
        big.pad(&[(0, 0), (1, 0)], 0.0),
        Err(TensorError::ShapeOverflow { op: "pad", .. })
    ));
    let none: &[&Tensor<f32>] = &[];
    assert!(matches!(
        Tensor::concat(none, 0),
        Err(TensorError::InvalidArgument { op: "concat", .. })
    ));
}

/// A shape and its padding.
type PadCase<'a> = (&'a [usize], &'a [(usize, usize)]);

fn check_pad<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let cases: &[PadCase] = &[
        (&[2, 3, 4, 4], &[(0, 0), (2, 3), (0, 0), (0, 0)]),
        (&[5, 7], &[(1, 0), (0, 2)]),
        (&[17], &[(3, 3)]),
        (&[2, 1, 3], &[(0, 0), (0, 0), (0, 0)]),
        (&[3, 0], &[(1, 1), (2, 0)]),
        (&[], &[]),
    ];
    let value = E::from_f64(-7.5);
    for &(shape, padding) in cases {
        let x = Tensor::<E>::randn(shape, 0.0, 1.0, &mut rng);
        let views = if shape.len() >= 2 {
            vec![
                x.clone(),
                x.transpose(0, 1)
                    .unwrap()
                    .contiguous()
                    .transpose(0, 1)
                    .unwrap(),
            ]
        } else {
            vec![x.clone()]
        };
        for x in views {
            let out = x.pad(padding, value).unwrap();
            let expected_shape: Vec<usize> = shape
                .iter()
                .zip(padding)
                .map(|(s, (b, a))| s + b + a)
                .collect();
            assert_eq!(out.shape(), &expected_shape[..]);
            for index in multi_indices(out.shape()) {
                let inside: Option<Vec<usize>> = index
                    .iter()
                    .zip(padding)
                    .zip(shape)
                    .map(|((&i, &(before, _)), &size)| i.checked_sub(before).filter(|&j| j < size))
                    .collect();
                let expected = match inside {
                    Some(local) => x.get(&local).unwrap(),
                    None => value,
                };
                assert_eq!(
                    out.get(&index).unwrap(),
                    expected,
                    "pad {shape:?} {padding:?} at {index:?}"
                );
            }
        }
    }
}

#[test]
fn pad_matches_reference() {
    check_pad::<f32>(3);
    check_pad::<f64>(4);
}

#[test]
fn pad_errors() {
    let x = Tensor::<f32>::zeros(&[2, 3]);
    match x.pad(&[(1, 1)], 0.0) {
        Err(TensorError::InvalidArgument { op: "pad", message }) => {
            assert!(message.contains("[2, 3]"), "{message}")
        }
        other => panic!("expected a pad error, got {other:?}"),
    }
    assert!(matches!(
        x.pad(&[(0, 0), (usize::MAX, 1)], 0.0),
        Err(TensorError::InvalidArgument { op: "pad", .. })
    ));
    assert!(matches!(
        x.pad(&[(usize::MAX / 4, 0), (usize::MAX / 4, 0)], 0.0),
        Err(TensorError::ShapeOverflow { op: "pad", .. })
    ));
}
