//! Helpers shared by the kernel tests that check backward kernels by finite differences and
//! error paths by message (`batch_norm.rs`, `pool.rs`, `softmax.rs`).

use approx::relative_eq;
use unravel_tensor::{Float, Tensor, TensorError};

/// Central-difference gradient of `loss(x) = Σ weights ⊙ f(x)` for each element of `x`:
/// `(loss(x + h·eᵢ) − loss(x − h·eᵢ)) / 2h` with `h = 1e-6`.
pub fn numerical_gradient(
    x: &Tensor<f64>,
    weights: &[f64],
    f: impl Fn(&Tensor<f64>) -> Vec<f64>,
) -> Vec<f64> {
    let step = 1e-6;
    let base = x.to_vec();
    (0..base.len())
        .map(|i| {
            let loss_at = |delta: f64| {
                let mut shifted = base.clone();
                shifted[i] += delta;
                let y = f(&Tensor::from_vec(shifted, x.shape()).unwrap());
                y.iter().zip(weights).map(|(a, b)| a * b).sum::<f64>()
            };
            (loss_at(step) - loss_at(-step)) / (2.0 * step)
        })
        .collect()
}

/// Every element of `actual` equals the f64 `expected` within `tolerance`, absolute or relative.
#[allow(dead_code)] // pool.rs compares two tensors of one precision with its own helper
pub fn assert_close<E: Float>(actual: &[E], expected: &[f64], tolerance: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, &e)) in actual.iter().zip(expected).enumerate() {
        let a = a.to_f64();
        assert!(
            relative_eq!(a, e, epsilon = tolerance, max_relative = tolerance),
            "{what}: element {i}: {a} vs {e}"
        );
    }
}

/// Every element agrees to 1e-6, relative to max(|analytic|, |numeric|, 1).
pub fn assert_gradient(analytic: &[f64], numeric: &[f64], what: &str) {
    assert_eq!(analytic.len(), numeric.len(), "{what}: lengths differ");
    for (i, (a, n)) in analytic.iter().zip(numeric).enumerate() {
        let error = (a - n).abs() / a.abs().max(n.abs()).max(1.0);
        assert!(
            error <= 1e-6,
            "{what}: element {i}: analytic {a} vs numeric {n}"
        );
    }
}

/// The result is an `InvalidArgument` error whose message mentions `needle`.
pub fn is_invalid<T: std::fmt::Debug>(result: Result<T, TensorError>, needle: &str) {
    match result {
        Err(TensorError::InvalidArgument { message, .. }) => {
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?}"
            )
        }
        other => panic!("expected InvalidArgument mentioning {needle:?}, got {other:?}"),
    }
}
