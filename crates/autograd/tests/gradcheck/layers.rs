//! linear, pad (option-A zero channels), concat.

use unravel_tensor::Rng;

use crate::common::{check, randn};

#[test]
fn linear_with_and_without_bias() {
    let mut rng = Rng::seed_from(70);
    let x = randn(&[5, 7], &mut rng);
    let w = randn(&[3, 7], &mut rng);
    let b = randn(&[3], &mut rng);
    check(
        "linear",
        |v| v[0].linear(&v[1], Some(&v[2])),
        &[x.clone(), w.clone(), b],
    );
    check("linear no bias", |v| v[0].linear(&v[1], None), &[x, w]);
}

#[test]
fn pad_and_option_a_shortcut() {
    let mut rng = Rng::seed_from(71);
    let x = randn(&[2, 3, 5, 4], &mut rng);
    check(
        "pad",
        |v| v[0].pad(&[(1, 0), (0, 2), (1, 1), (0, 3)], 0.5),
        [x.clone()],
    );
    // Option A: stride-2 subsample, then zero channels on both sides.
    check(
        "option-A shortcut",
        |v| {
            v[0].slice(2, 0, 5, 2)?
                .slice(3, 0, 4, 2)?
                .zero_pad_channels(2, 1)
        },
        &[x],
    );
}

#[test]
fn concat_along_each_axis() {
    let mut rng = Rng::seed_from(72);
    let a = randn(&[2, 3, 4], &mut rng);
    let b = randn(&[2, 1, 4], &mut rng);
    let c = randn(&[2, 5, 4], &mut rng);
    check(
        "concat axis 1",
        |v| unravel_autograd::Var::concat(&[&v[0], &v[1], &v[2]], 1),
        &[a.clone(), b, c],
    );
    let d = randn(&[1, 3, 4], &mut rng);
    check(
        "concat axis 0, one operand twice",
        |v| unravel_autograd::Var::concat(&[&v[0], &v[1], &v[0]], 0),
        &[a, d],
    );
}

#[test]
fn matmul_batched_broadcast_and_vectors() {
    let mut rng = Rng::seed_from(73);
    let pairs: [(&[usize], &[usize]); 6] = [
        (&[3, 4], &[4, 5]),
        (&[2, 1, 3, 4], &[3, 4, 2]), // batch axes broadcast both ways
        (&[5], &[5, 3]),             // vector · matrix
        (&[3, 5], &[5]),             // matrix · vector
        (&[4], &[4]),                // dot product
        (&[2, 3, 4], &[4, 1]),       // matrix broadcast over the batch
    ];
    for (lhs, rhs) in pairs {
        let a = randn(lhs, &mut rng);
        let b = randn(rhs, &mut rng);
        check(
            &format!("matmul {lhs:?}·{rhs:?}"),
            |v| v[0].matmul(&v[1]),
            [a, b],
        );
    }
    // A transposed view as the left operand.
    let a = randn(&[4, 3], &mut rng);
    let b = randn(&[4, 2], &mut rng);
    check(
        "matmul of a transposed view",
        |v| v[0].transpose(0, 1)?.matmul(&v[1]),
        [a, b],
    );
}
