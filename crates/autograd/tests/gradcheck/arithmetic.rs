//! add / sub / mul / div with broadcasting (gradients summed back to each operand's shape), the
//! scalar forms, and the unary functions.

use unravel_autograd::gradcheck::away_from_zero;
use unravel_tensor::{Rng, Tensor};

use crate::common::{check, randn};

/// Operand shape pairs covering: equal shapes, a size-1 axis, a missing leading axis, both
/// sides broadcast, and a scalar.
fn shape_pairs() -> Vec<(Vec<usize>, Vec<usize>)> {
    vec![
        (vec![3, 5], vec![3, 5]),
        (vec![2, 3, 5], vec![3, 1]),
        (vec![4, 1, 3], vec![5, 1]),
        (vec![1, 3, 1], vec![2, 1, 7]),
        (vec![3, 2], vec![]),
    ]
}

#[test]
fn add_sub_mul_div_with_broadcasting() {
    let mut rng = Rng::seed_from(40);
    for (lhs_shape, rhs_shape) in shape_pairs() {
        let a = randn(&lhs_shape, &mut rng);
        let b = randn(&rhs_shape, &mut rng);
        // Divisors away from 0 (|b| in [0.5, 2]).
        let divisor = away_from_zero(&rhs_shape, 0.5, 2.0, &mut rng).unwrap();
        let pair = [a.clone(), b.clone()];
        let label = format!("{lhs_shape:?} with {rhs_shape:?}");
        check(&format!("add {label}"), |v| v[0].add(&v[1]), &pair);
        check(&format!("add reversed {label}"), |v| v[1].add(&v[0]), &pair);
        check(&format!("sub {label}"), |v| v[0].sub(&v[1]), &pair);
        check(&format!("sub reversed {label}"), |v| v[1].sub(&v[0]), &pair);
        check(&format!("mul {label}"), |v| v[0].mul(&v[1]), &pair);
        check(&format!("div {label}"), |v| v[0].div(&v[1]), &[a, divisor]);
    }
}

#[test]
fn a_variable_used_twice_gets_the_sum() {
    let mut rng = Rng::seed_from(41);
    let x = randn(&[3, 4], &mut rng);
    // x ⊙ x: both operands are the same node.
    check("x * x", |v| v[0].mul(&v[0]), [x.clone()]);
    check(
        "x / x + x",
        |v| v[0].div(&v[0])?.add(&v[0]),
        &[away_from_zero(&[3, 4], 0.5, 2.0, &mut rng).unwrap()],
    );
    // The residual F(x) + x with F = 2x − x².
    check(
        "residual",
        |v| v[0].mul_scalar(2.0)?.sub(&v[0].square()?)?.add(&v[0]),
        &[x],
    );
}

#[test]
fn scalar_ops() {
    let mut rng = Rng::seed_from(42);
    let x = randn(&[2, 3, 5], &mut rng);
    check("add_scalar", |v| v[0].add_scalar(1.5), [x.clone()]);
    check("mul_scalar", |v| v[0].mul_scalar(-0.75), [x.clone()]);
    check("neg", |v| v[0].neg(), &[x]);
}

#[test]
fn unary_functions() {
    let mut rng = Rng::seed_from(43);
    // ReLU: inputs at least 0.1 from the kink at 0.
    let x = away_from_zero(&[3, 7], 0.1, 2.0, &mut rng).unwrap();
    check("relu", |v| v[0].relu(), [x.clone()]);
    check("exp", |v| v[0].exp(), [x.clone()]);
    let positive = Tensor::rand_uniform(&[3, 7], 0.5, 3.0, &mut rng);
    check("log", |v| v[0].log(), [positive.clone()]);
    check("sqrt", |v| v[0].sqrt(), [positive.clone()]);
    check("powf 2.5", |v| v[0].powf(2.5), [positive.clone()]);
    check("powf -1.5", |v| v[0].powf(-1.5), &[positive]);
    check("square", |v| v[0].square(), &[x]);
}

#[test]
fn non_contiguous_operands() {
    let mut rng = Rng::seed_from(44);
    let a = randn(&[4, 3, 2], &mut rng);
    let b = randn(&[2, 8, 1], &mut rng);
    // A permuted view times a stepped slice, broadcast.
    check(
        "permuted ⊙ stepped",
        |v| v[0].permute(&[2, 0, 1])?.mul(&v[1].slice(1, 0, 8, 2)?),
        [a, b],
    );
}

#[test]
fn add_relu_with_broadcasting() {
    let mut rng = Rng::seed_from(45);
    for (lhs_shape, rhs_shape) in shape_pairs() {
        // |a| in [0.5, 2] and |b| ≤ 0.2, so every sum is at least 0.3 from ReLU's kink (both
        // signs occur) however b is broadcast.
        let a = away_from_zero(&lhs_shape, 0.5, 2.0, &mut rng).unwrap();
        let b = Tensor::rand_uniform(&rhs_shape, -0.2, 0.2, &mut rng);
        let pair = [a, b];
        let label = format!("{lhs_shape:?} with {rhs_shape:?}");
        check(
            &format!("add_relu {label}"),
            |v| v[0].add_relu(&v[1]),
            &pair,
        );
        check(
            &format!("add_relu reversed {label}"),
            |v| v[1].add_relu(&v[0]),
            &pair,
        );
    }
}
