//! Batch norm in training mode (closed-form backward) and evaluation mode.

use unravel_tensor::{Rng, Tensor};

use crate::common::{check, randn};

#[test]
fn batch_norm_train_with_and_without_affine() {
    let mut rng = Rng::seed_from(30);
    let x = Tensor::randn(&[3, 4, 3, 5], 0.5, 2.0, &mut rng);
    let gamma = Tensor::randn(&[4], 1.0, 0.5, &mut rng);
    let beta = randn(&[4], &mut rng);
    check(
        "batch_norm_train affine",
        |v| Ok(v[0].batch_norm_train(Some(&v[1]), Some(&v[2]), 1e-5)?.0),
        &[x.clone(), gamma, beta],
    );
    check(
        "batch_norm_train no affine",
        |v| Ok(v[0].batch_norm_train(None, None, 1e-5)?.0),
        &[x],
    );
    // BatchNorm1d shape [N, C].
    let x = randn(&[6, 3], &mut rng);
    let gamma = randn(&[3], &mut rng);
    check(
        "batch_norm_train [N, C]",
        |v| Ok(v[0].batch_norm_train(Some(&v[1]), None, 1e-3)?.0),
        &[x, gamma],
    );
}

#[test]
fn batch_norm_eval() {
    let mut rng = Rng::seed_from(31);
    let x = randn(&[2, 3, 4, 5], &mut rng);
    let gamma = randn(&[3], &mut rng);
    let beta = randn(&[3], &mut rng);
    let running_mean = randn(&[3], &mut rng);
    let running_var = Tensor::rand_uniform(&[3], 0.5, 2.0, &mut rng);
    check(
        "batch_norm_eval",
        |v| v[0].batch_norm_eval(&running_mean, &running_var, Some(&v[1]), Some(&v[2]), 1e-5),
        &[x, gamma, beta],
    );
}

#[test]
fn batch_norm_relu_train_and_eval() {
    // Fused batch norm + ReLU: the mask then the batch norm's backward, checked against
    // finite differences (inputs shifted so that about a third of the outputs are clamped).
    let mut rng = Rng::seed_from(32);
    let x = Tensor::randn(&[3, 4, 3, 5], 0.5, 2.0, &mut rng);
    let gamma = Tensor::randn(&[4], 1.0, 0.5, &mut rng);
    let beta = Tensor::randn(&[4], -0.3, 0.5, &mut rng);
    check(
        "batch_norm_train_relu affine",
        |v| {
            Ok(v[0]
                .batch_norm_train_relu(Some(&v[1]), Some(&v[2]), 1e-5)?
                .0)
        },
        &[x.clone(), gamma.clone(), beta.clone()],
    );
    check(
        "batch_norm_train_relu no affine",
        |v| Ok(v[0].batch_norm_train_relu(None, None, 1e-5)?.0),
        std::slice::from_ref(&x),
    );
    let running_mean = randn(&[4], &mut rng);
    let running_var = Tensor::rand_uniform(&[4], 0.5, 2.0, &mut rng);
    check(
        "batch_norm_eval_relu",
        |v| v[0].batch_norm_eval_relu(&running_mean, &running_var, Some(&v[1]), Some(&v[2]), 1e-5),
        &[x, gamma, beta],
    );
}
