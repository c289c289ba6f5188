//! Outputs too large to allocate: a view can show far more elements than it stores (one
//! element broadcast to 2^60, 4 EiB of f32), and padding or an `input_shape` argument can ask
//! for any size. Every op returns `TensorError::OutOfMemory` naming itself for such an output
//! (or for the dense copy of such an input), never aborts in the allocator; an output whose
//! size cannot even be counted is `ShapeOverflow`. Convolution, pooling, softmax and batch
//! norm are in `huge_views_nn.rs`.

mod huge_common;

use huge_common::{expect_out_of_memory, huge, huge_2d};
use unravel_tensor::ops::sgd::{sgd_momentum_step, SgdParams};
use unravel_tensor::{Tensor, TensorError};

#[test]
fn unary_elementwise_ops_on_a_huge_view() {
    let x = huge(1 << 60);
    expect_out_of_memory(x.relu(), "relu");
    expect_out_of_memory(x.exp(), "exp");
    expect_out_of_memory(x.neg(), "neg");
    expect_out_of_memory(x.add_scalar(1.0), "add_scalar");
    expect_out_of_memory(x.map(|v| v + 1.0), "map");
    let error = x.sqrt().unwrap_err();
    assert!(
        error.to_string().starts_with("sqrt: out of memory"),
        "{error}"
    );
}

#[test]
fn binary_elementwise_ops_on_a_huge_view() {
    let x = huge(1 << 60);
    let one = Tensor::<f32>::scalar(1.0);
    expect_out_of_memory(x.add(&one), "add");
    expect_out_of_memory(one.mul(&x), "mul");
    expect_out_of_memory(x.gt(&one), "gt");
    expect_out_of_memory(x.zip_map(&x, |a, b| a + b), "zip_map");
    // Two small views whose broadcast is huge.
    let (column, row) = huge_2d(1 << 30);
    expect_out_of_memory(column.sub(&row), "sub");
    let y = huge(1 << 60);
    expect_out_of_memory(x.relu_backward(&y), "relu_backward");
}

#[test]
fn select_on_huge_views() {
    let x = huge(1 << 60);
    let (zero, one) = (Tensor::<f32>::scalar(0.0), Tensor::<f32>::scalar(1.0));
    expect_out_of_memory(Tensor::select(&x, &one, &zero), "select");
    expect_out_of_memory(Tensor::select(&one, &zero, &x), "select");
}

#[test]
fn select_reports_an_uncountable_broadcast_as_shape_overflow() {
    // condition and on_true broadcast to [2^40, 1]; with on_false [1, 2^40] the result would
    // hold 2^80 elements. Like add and the other broadcasting ops, that is ShapeOverflow (it
    // was reported as an impossible broadcast).
    let one = Tensor::<f32>::ones(&[1, 1]);
    let column = one.broadcast_to(&[1 << 40, 1]).unwrap();
    let row = one.broadcast_to(&[1, 1 << 40]).unwrap();
    let scalar = Tensor::<f32>::scalar(1.0);
    for (c, t, f) in [
        (&column, &scalar, &row),
        (&scalar, &column, &row),
        (&column, &row, &scalar),
    ] {
        assert_eq!(
            Tensor::select(c, t, f).unwrap_err(),
            TensorError::ShapeOverflow {
                op: "select",
                shape: vec![1 << 40, 1 << 40]
            }
        );
    }
    // A real mismatch is still Broadcast.
    let three = Tensor::<f32>::zeros(&[3]);
    let four = Tensor::<f32>::zeros(&[4]);
    assert!(matches!(
        Tensor::select(&scalar, &three, &four),
        Err(TensorError::Broadcast { op: "select", .. })
    ));
}

#[test]
fn dense_copies_of_a_huge_view() {
    let x = huge(1 << 60);
    expect_out_of_memory(x.try_contiguous(), "contiguous");
    expect_out_of_memory(x.try_to_vec(), "to_vec");
    expect_out_of_memory(x.contiguous_data("caller").map(|_| ()), "caller");
    let mut y = x.clone();
    expect_out_of_memory(y.data_mut().map(|_| ()), "data_mut");
    assert_eq!(
        y.shape(),
        x.shape(),
        "a failed data_mut leaves the tensor as it was"
    );
    let to_vec = std::panic::AssertUnwindSafe(|| x.to_vec());
    let message = std::panic::catch_unwind(to_vec).unwrap_err();
    let message = message.downcast_ref::<String>().unwrap();
    assert!(message.contains("out of memory"), "{message}");
    // Debug of a huge view shows the error instead of aborting.
    assert!(format!("{x:?}").contains("out of memory"));
}

#[test]
fn reductions_of_huge_views() {
    let x = huge(1 << 60);
    expect_out_of_memory(x.sum(&[0], true), "sum");
    expect_out_of_memory(x.sum_all(), "sum_all");
    expect_out_of_memory(x.max(&[0], false), "max");
    expect_out_of_memory(x.argmax(0, true), "argmax");
    expect_out_of_memory(x.mean(&[0], true), "sum");
    // An empty input reduced over its empty axis leaves 2^60 elements: no view needed.
    let empty = Tensor::<f32>::zeros(&[0, 1 << 60]);
    expect_out_of_memory(empty.sum(&[0], false), "sum");
}

#[test]
fn matmul_of_huge_views() {
    // [2^30, 1] · [1, 2^30]: a 2^60-element product of two one-element storages.
    let (column, row) = huge_2d(1 << 30);
    expect_out_of_memory(column.matmul(&row), "matmul");
    // Batch axes that broadcast to more elements than can be counted: ShapeOverflow, not
    // Broadcast.
    let one = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let lhs = one.broadcast_to(&[1 << 40, 1, 1, 1]).unwrap();
    let rhs = one.broadcast_to(&[1, 1 << 40, 1, 1]).unwrap();
    assert!(matches!(
        lhs.matmul(&rhs),
        Err(TensorError::ShapeOverflow { op: "matmul", .. })
    ));
    let bad = Tensor::<f32>::ones(&[3, 1, 1]);
    assert!(matches!(
        bad.matmul(&Tensor::<f32>::ones(&[2, 1, 1])),
        Err(TensorError::Broadcast { op: "matmul", .. })
    ));
}

#[test]
fn concat_pad_and_slice_scatter_with_huge_outputs() {
    let x = huge(1 << 59);
    expect_out_of_memory(Tensor::concat(&[&x, &x], 0), "concat");
    // Padding alone: one stored element padded to 2^60 + 1.
    let one = Tensor::<f32>::ones(&[1]);
    expect_out_of_memory(one.pad(&[(1 << 59, 1 << 59)], 0.0), "pad");
    let src = Tensor::<f32>::ones(&[1]);
    expect_out_of_memory(x.slice_scatter(&src, 0, 0, 1, 1), "slice_scatter");
}

#[test]
fn sgd_step_on_a_huge_view() {
    let (param, grad) = (huge(1 << 60), huge(1 << 60));
    let params = SgdParams {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0.0,
        weight_decay: 0.0,
        nesterov: false,
    };
    expect_out_of_memory(
        sgd_momentum_step(&param, &grad, None, &params),
        "sgd_momentum_step",
    );
}

#[test]
fn ops_on_ordinary_views_still_work() {
    // The same paths with sizes that fit: broadcast views are materialised as before.
    let x = Tensor::<f32>::from_vec(vec![1.0, -2.0], &[2, 1]).unwrap();
    let wide = x.broadcast_to(&[2, 3]).unwrap();
    assert_eq!(
        wide.relu().unwrap().to_vec(),
        [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    );
    assert_eq!(wide.try_contiguous().unwrap().to_vec(), wide.to_vec());
    assert_eq!(wide.sum(&[1], true).unwrap().to_vec(), [3.0, -6.0]);
    assert_eq!(
        Tensor::<f32>::zeros(&[0, 3])
            .sum(&[0], false)
            .unwrap()
            .to_vec(),
        [0.0; 3]
    );
    let product = wide.transpose(0, 1).unwrap().matmul(&wide).unwrap();
    assert_eq!(product.shape(), &[3, 3]);
    assert_eq!(product.to_vec()[0], 5.0);
    let padded = Tensor::<f32>::ones(&[1]).pad(&[(1, 2)], 0.0).unwrap();
    assert_eq!(padded.to_vec(), [0.0, 1.0, 0.0, 0.0]);
    let joined = Tensor::concat(&[&wide, &wide], 0).unwrap();
    assert_eq!(joined.shape(), &[4, 3]);
}
