//! softmax, log_softmax (along any axis), cross-entropy (mean and sum).

use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::Rng;

use crate::common::{check, randn};

#[test]
fn softmax_and_log_softmax_along_each_axis() {
    let mut rng = Rng::seed_from(20);
    let x = randn(&[3, 5, 2], &mut rng);
    for axis in 0..3 {
        check(
            &format!("softmax axis {axis}"),
            |v| v[0].softmax(axis),
            [x.clone()],
        );
        check(
            &format!("log_softmax axis {axis}"),
            |v| v[0].log_softmax(axis),
            [x.clone()],
        );
    }
}

#[test]
fn cross_entropy_mean_and_sum() {
    let mut rng = Rng::seed_from(21);
    let logits = randn(&[5, 7], &mut rng);
    let targets = [0, 6, 3, 3, 1];
    for reduction in [Reduction::Mean, Reduction::Sum] {
        check(
            &format!("cross_entropy {reduction:?}"),
            |v| v[0].cross_entropy(&targets, reduction),
            [logits.clone()],
        );
    }
}
