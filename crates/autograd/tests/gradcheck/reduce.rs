//! sum / mean over all elements and over axis subsets, and broadcast_to.

use unravel_tensor::Rng;

use crate::common::{check, randn};

#[test]
fn sum_and_mean_all() {
    let mut rng = Rng::seed_from(50);
    let x = randn(&[3, 1, 5], &mut rng);
    check("sum_all", |v| v[0].sum_all(), [x.clone()]);
    check("mean_all", |v| v[0].mean_all(), &[x]);
}

#[test]
fn sum_and_mean_over_axes() {
    let mut rng = Rng::seed_from(51);
    let x = randn(&[2, 3, 5, 7], &mut rng);
    for axes in [vec![0], vec![1, 3], vec![0, 2, 3], vec![3, 1]] {
        for keepdim in [false, true] {
            check(
                &format!("sum {axes:?} keepdim={keepdim}"),
                |v| v[0].sum(&axes, keepdim),
                [x.clone()],
            );
            check(
                &format!("mean {axes:?} keepdim={keepdim}"),
                |v| v[0].mean(&axes, keepdim),
                [x.clone()],
            );
        }
    }
}

#[test]
fn broadcast_to() {
    let mut rng = Rng::seed_from(52);
    let x = randn(&[3, 1], &mut rng);
    check("broadcast_to", |v| v[0].broadcast_to(&[2, 3, 5]), &[x]);
}
