//! Helpers of the huge-view tests (`huge_views.rs`, `huge_views_nn.rs`): views that show far
//! more elements than they store, and the check of the error an op returns for them.
#![allow(dead_code)] // each test file uses some of them

use std::fmt::Debug;

use unravel_tensor::{Result, Tensor, TensorError};

/// `[len]` zeros, all one stored element (stride 0).
pub fn huge(len: usize) -> Tensor<f32> {
    Tensor::<f32>::zeros(&[1]).broadcast_to(&[len]).unwrap()
}

/// A column `[len, 1]` and a row `[1, len]` of one stored element each: small operands whose
/// broadcast (or product) has `len²` elements.
pub fn huge_2d(len: usize) -> (Tensor<f32>, Tensor<f32>) {
    let one = Tensor::<f32>::ones(&[1, 1]);
    (
        one.broadcast_to(&[len, 1]).unwrap(),
        one.broadcast_to(&[1, len]).unwrap(),
    )
}

/// A view of `shape` showing one stored element everywhere.
pub fn huge_of(shape: &[usize]) -> Tensor<f32> {
    let ones = vec![1; shape.len()];
    Tensor::<f32>::ones(&ones).broadcast_to(shape).unwrap()
}

/// `result` is `OutOfMemory` naming `op`, and its message starts with `op`.
pub fn expect_out_of_memory<T: Debug>(result: Result<T>, op: &str) {
    match result {
        Err(error @ TensorError::OutOfMemory { op: got, .. }) => {
            assert_eq!(got, op, "{error}");
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("{op}: out of memory")),
                "{message}"
            );
        }
        other => panic!("{op}: expected OutOfMemory, got {other:?}"),
    }
}
