//! Outputs and scratch buffers too large to allocate in the network ops (convolution, pooling,
//! softmax, cross-entropy, batch norm): `TensorError::OutOfMemory` naming the op, never an
//! abort. See `huge_views.rs` for the other ops.

mod huge_common;

use huge_common::{expect_out_of_memory, huge_of};
use unravel_tensor::ops::batch_norm::{batch_norm_eval, batch_norm_train};
use unravel_tensor::ops::conv::{
    col2im, conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, im2col,
    Conv2dParams,
};
use unravel_tensor::ops::pool::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward, max_pool2d,
    max_pool2d_backward, Pool2dParams,
};
use unravel_tensor::ops::softmax::{
    cross_entropy, cross_entropy_backward, log_softmax, softmax, softmax_backward, Reduction,
};
use unravel_tensor::{Indices, Tensor, TensorError};

/// A batch of 2^60 one-pixel images, one stored element.
fn huge_batch() -> Tensor<f32> {
    huge_of(&[1 << 60, 1, 1, 1])
}

#[test]
fn convolutions_with_huge_outputs() {
    let pixel = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let params = Conv2dParams::default();
    expect_out_of_memory(conv2d(&huge_batch(), &pixel, None, &params), "conv2d");
    // Padding alone: one pixel padded by 2^29 on every side gives (2^30 + 1)² outputs.
    let padded = Conv2dParams::square(1, 1 << 29, 1, 1);
    expect_out_of_memory(conv2d(&pixel, &pixel, None, &padded), "conv2d");
    let error = im2col(&pixel, [1, 1], &padded).unwrap_err();
    assert!(
        matches!(error, TensorError::OutOfMemory { op: "im2col", .. }),
        "{error}"
    );
    // The gradients of a huge batch.
    let dy = huge_batch();
    expect_out_of_memory(conv2d_backward_bias(&dy), "conv2d_backward_bias");
    expect_out_of_memory(
        conv2d_backward_weight(&dy, &huge_batch(), &[1, 1, 1, 1], &params),
        "conv2d_backward_weight",
    );
    expect_out_of_memory(
        conv2d_backward_input(&dy, &pixel, &[1 << 60, 1, 1, 1], &params),
        "conv2d_backward_input",
    );
}

#[test]
fn convolutions_whose_staged_image_is_huge() {
    // A 3×3 kernel over one pixel padded by 2^28 with stride 2^29: the output is one pixel,
    // but the zero-padded, stride-split copy the CPU kernels stage the image in would hold
    // (2^29 + 1)·2^29·2 ≈ 2^59 values. That scratch buffer is refused too.
    let pixel = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let kernel = Tensor::<f32>::ones(&[1, 1, 3, 3]);
    let params = Conv2dParams::square(1 << 29, 1 << 28, 1, 1);
    assert_eq!(params.output_size([1, 1], [3, 3]).unwrap(), [1, 1]);
    expect_out_of_memory(conv2d(&pixel, &kernel, None, &params), "conv2d");
    expect_out_of_memory(
        conv2d_backward_input(&pixel, &kernel, &[1, 1, 1, 1], &params),
        "conv2d_backward_input",
    );
    expect_out_of_memory(
        conv2d_backward_weight(&pixel, &pixel, &[1, 1, 3, 3], &params),
        "conv2d_backward_weight",
    );
    expect_out_of_memory(im2col(&pixel, [3, 3], &params), "im2col");
    let columns = Tensor::<f32>::ones(&[1, 9, 1]);
    expect_out_of_memory(col2im(&columns, &[1, 1, 1, 1], [3, 3], &params), "col2im");
    // A staged image whose size cannot even be counted: 2^40 channels of 2^30 padded rows.
    let params = Conv2dParams::square(1 << 30, 1 << 29, 1, 1);
    let error = conv2d(
        &huge_of(&[1, 1 << 40, 1, 1]),
        &huge_of(&[1, 1 << 40, 3, 3]),
        None,
        &params,
    );
    assert!(
        matches!(error, Err(TensorError::ShapeOverflow { op: "conv2d", .. })),
        "{error:?}"
    );
}

#[test]
fn pooling_with_huge_inputs_or_input_shapes() {
    let params = Pool2dParams::square(1, 1, 0);
    expect_out_of_memory(max_pool2d(&huge_batch(), params), "max_pool2d");
    expect_out_of_memory(avg_pool2d(&huge_batch(), params, true), "avg_pool2d");
    expect_out_of_memory(global_avg_pool2d(&huge_batch()), "global_avg_pool2d");
    // The gradients of one output scattered back onto a 2^30 × 2^30 input plane.
    let plane = [1, 1, 1 << 30, 1 << 30];
    let dy = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let indices = Indices::new(vec![0], &[1, 1, 1, 1]).unwrap();
    expect_out_of_memory(
        max_pool2d_backward(&dy, &indices, &plane),
        "max_pool2d_backward",
    );
    let window = Pool2dParams::new([1 << 30, 1 << 30], [1, 1], [0, 0]);
    expect_out_of_memory(
        avg_pool2d_backward(&dy, &plane, window, true),
        "avg_pool2d_backward",
    );
    expect_out_of_memory(
        global_avg_pool2d_backward(&Tensor::<f32>::ones(&[1, 1]), &plane),
        "global_avg_pool2d_backward",
    );
}

#[test]
fn softmax_and_cross_entropy_of_huge_views() {
    let logits = huge_of(&[1, 1 << 60]);
    expect_out_of_memory(softmax(&logits, 1), "softmax");
    expect_out_of_memory(log_softmax(&logits, 1), "log_softmax");
    expect_out_of_memory(softmax_backward(&logits, &logits, 1), "softmax_backward");
    expect_out_of_memory(
        cross_entropy(&logits, &[0], Reduction::Mean),
        "cross_entropy",
    );
    expect_out_of_memory(
        cross_entropy_backward(&logits, &[0], Reduction::Sum, 1.0),
        "cross_entropy_backward",
    );
}

#[test]
fn batch_norm_of_huge_views() {
    // 2^59 channels: the default weight alone (one f64 per channel) would take 4 EiB.
    let x = huge_of(&[2, 1 << 59]);
    expect_out_of_memory(batch_norm_train(&x, None, None, 1e-5), "batch_norm_train");
    let statistics = huge_of(&[1 << 59]);
    expect_out_of_memory(
        batch_norm_eval(&x, &statistics, &statistics, None, None, 1e-5),
        "batch_norm_eval",
    );
}
