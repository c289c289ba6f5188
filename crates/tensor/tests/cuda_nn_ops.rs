//! The network layers on the GPU against the CPU result on fresh random data, in f32 and in
//! f64 (each test is generic over the element type and runs as `in_f32::name` and
//! `in_f64::name`): convolution (forward, data, weight and bias gradients), max and global
//! average pooling, training- and eval-mode batch norm, softmax, log-softmax and cross-entropy.
//! Max-norm relative error ≤ 1e-5 for f32 and ≤ 1e-12 for f64 (1e-4 / 1e-11 for the batch-norm
//! and softmax backward passes, which subtract nearly equal sums). Before each op the device's
//! memory pool is filled with NaN and released, so the op's fresh output very likely reuses
//! poisoned memory and an element a kernel fails to write shows up as NaN.
//!
//! These tests need a GPU; without one each prints that it was skipped and passes.
#![cfg(feature = "cuda")]

use unravel_tensor::ops::batch_norm::{
    batch_norm_eval, batch_norm_train, batch_norm_train_backward,
};
use unravel_tensor::ops::conv::{
    conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, Conv2dParams,
};
use unravel_tensor::ops::pool::{
    global_avg_pool2d, global_avg_pool2d_backward, max_pool2d, max_pool2d_backward, Pool2dParams,
};
use unravel_tensor::ops::softmax::{
    cross_entropy, cross_entropy_backward, log_softmax, log_softmax_backward, softmax,
    softmax_backward, Reduction,
};
use unravel_tensor::{Device, Float, Rng};

#[macro_use]
mod cuda_common;
use cuda_common::{assert_close, cancelling, num, on, poison, random, standard};

gpu_tests!(
    conv2d_forward_and_backward,
    pooling_forward_and_backward,
    batch_norm_train_eval_backward,
    softmax_and_cross_entropy,
);

/// (input shape, weight shape, stride, padding, dilation, groups).
type ConvCase = ([usize; 4], [usize; 4], usize, usize, usize, usize);

fn conv2d_forward_and_backward<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(7);
    let cases: [ConvCase; 11] = [
        // ResNet's stem, 3×3 s1/s2, 1×1 s2, dilation
        ([2, 3, 23, 23], [8, 3, 7, 7], 2, 3, 1, 1),
        ([3, 5, 9, 11], [7, 5, 3, 3], 1, 1, 1, 1),
        ([2, 16, 15, 15], [32, 16, 3, 3], 2, 1, 1, 1),
        ([2, 17, 8, 8], [9, 17, 1, 1], 2, 0, 1, 1),
        ([1, 2, 12, 12], [3, 2, 3, 3], 1, 2, 2, 1),
        // groups 2 and 3 (odd sizes, stride 2, padding), a grouped 1×1 with stride 2
        ([2, 6, 11, 9], [8, 3, 3, 3], 2, 1, 1, 2),
        ([3, 9, 13, 7], [6, 3, 3, 3], 1, 1, 1, 3),
        ([2, 6, 8, 8], [9, 2, 1, 1], 2, 0, 1, 3),
        // depthwise (groups = C): plain, two outputs per channel, and 129 channels
        ([2, 7, 15, 15], [7, 1, 3, 3], 2, 1, 1, 7),
        ([2, 5, 9, 11], [10, 1, 5, 5], 1, 2, 1, 5),
        ([2, 129, 9, 9], [129, 1, 3, 3], 1, 1, 1, 129),
    ];
    for (x_shape, w_shape, stride, padding, dilation, groups) in cases {
        let params = Conv2dParams::square(stride, padding, dilation, groups);
        let (x, w, b) = (
            random::<E>(&x_shape, &mut rng),
            random::<E>(&w_shape, &mut rng),
            random::<E>(&[w_shape[0]], &mut rng),
        );
        let (gx, gw, gb) = (on(device, &x), on(device, &w), on(device, &b));
        let what =
            format!("conv {x_shape:?} {w_shape:?} s{stride} p{padding} d{dilation} g{groups}");
        poison::<E>();
        let y = conv2d(&x, &w, Some(&b), &params).unwrap();
        assert_close(
            &format!("{what} forward"),
            &conv2d(&gx, &gw, Some(&gb), &params).unwrap(),
            &y,
            standard::<E>(),
        );
        let dy = random::<E>(y.shape(), &mut rng);
        let gdy = on(device, &dy);
        poison::<E>();
        assert_close(
            &format!("{what} dx"),
            &conv2d_backward_input(&gdy, &gw, &x_shape, &params).unwrap(),
            &conv2d_backward_input(&dy, &w, &x_shape, &params).unwrap(),
            standard::<E>(),
        );
        poison::<E>();
        assert_close(
            &format!("{what} dw"),
            &conv2d_backward_weight(&gdy, &gx, &w_shape, &params).unwrap(),
            &conv2d_backward_weight(&dy, &x, &w_shape, &params).unwrap(),
            standard::<E>(),
        );
        assert_close(
            &format!("{what} db"),
            &conv2d_backward_bias(&gdy).unwrap(),
            &conv2d_backward_bias(&dy).unwrap(),
            standard::<E>(),
        );
    }
}

fn pooling_forward_and_backward<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(8);
    for (shape, params) in [
        ([2, 3, 13, 13], Pool2dParams::square(3, 2, 1)),
        ([1, 4, 8, 9], Pool2dParams::square(2, 2, 0)),
        ([2, 2, 7, 5], Pool2dParams::new([3, 2], [1, 2], [1, 0])),
    ] {
        let x = random::<E>(&shape, &mut rng);
        let gx = on(device, &x);
        poison::<E>();
        let (y, argmax) = max_pool2d(&x, params).unwrap();
        let (gy, gargmax) = max_pool2d(&gx, params).unwrap();
        assert_close("max_pool2d", &gy, &y, 0.0);
        assert_eq!(gargmax, argmax, "max_pool2d indices");
        let dy = random::<E>(y.shape(), &mut rng);
        poison::<E>();
        assert_close(
            "max_pool2d_backward",
            &max_pool2d_backward(&on(device, &dy), &gargmax, &shape).unwrap(),
            &max_pool2d_backward(&dy, &argmax, &shape).unwrap(),
            standard::<E>(),
        );
        poison::<E>();
        assert_close(
            "global_avg_pool2d",
            &global_avg_pool2d(&gx).unwrap(),
            &global_avg_pool2d(&x).unwrap(),
            standard::<E>(),
        );
        let dg = random::<E>(&shape[..2], &mut rng);
        poison::<E>();
        assert_close(
            "global_avg_pool2d_backward",
            &global_avg_pool2d_backward(&on(device, &dg), &shape).unwrap(),
            &global_avg_pool2d_backward(&dg, &shape).unwrap(),
            standard::<E>(),
        );
    }
}

fn batch_norm_train_eval_backward<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(9);
    for shape in [vec![4, 3, 5, 7], vec![2, 17, 1, 1], vec![33, 6]] {
        let c = shape[1];
        let x = random::<E>(&shape, &mut rng)
            .mul_scalar(num(3.0))
            .unwrap()
            .add_scalar(num(2.0))
            .unwrap();
        let (gamma, beta) = (random::<E>(&[c], &mut rng), random::<E>(&[c], &mut rng));
        let (gx, gg, gb) = (on(device, &x), on(device, &gamma), on(device, &beta));
        poison::<E>();
        let cpu = batch_norm_train(&x, Some(&gamma), Some(&beta), 1e-5).unwrap();
        let gpu = batch_norm_train(&gx, Some(&gg), Some(&gb), 1e-5).unwrap();
        assert_close("bn output", &gpu.output, &cpu.output, standard::<E>());
        assert_close("bn mean", &gpu.mean, &cpu.mean, standard::<E>());
        assert_close("bn variance", &gpu.variance, &cpu.variance, standard::<E>());
        assert_close(
            "bn inverse_std",
            &gpu.inverse_std,
            &cpu.inverse_std,
            standard::<E>(),
        );
        let dy = random::<E>(&shape, &mut rng);
        poison::<E>();
        let cpu_grads =
            batch_norm_train_backward(&dy, &x, Some(&gamma), &cpu.mean, &cpu.inverse_std).unwrap();
        let gpu_grads = batch_norm_train_backward(
            &on(device, &dy),
            &gx,
            Some(&gg),
            &gpu.mean,
            &gpu.inverse_std,
        )
        .unwrap();
        assert_close(
            "bn dx",
            &gpu_grads.grad_input,
            &cpu_grads.grad_input,
            cancelling::<E>(),
        );
        assert_close(
            "bn dgamma",
            &gpu_grads.grad_weight,
            &cpu_grads.grad_weight,
            standard::<E>(),
        );
        assert_close(
            "bn dbeta",
            &gpu_grads.grad_bias,
            &cpu_grads.grad_bias,
            standard::<E>(),
        );
        let (rm, rv) = (
            random::<E>(&[c], &mut rng),
            random::<E>(&[c], &mut rng)
                .abs()
                .unwrap()
                .add_scalar(num(0.5))
                .unwrap(),
        );
        poison::<E>();
        assert_close(
            "bn eval",
            &batch_norm_eval(
                &gx,
                &on(device, &rm),
                &on(device, &rv),
                Some(&gg),
                Some(&gb),
                1e-5,
            )
            .unwrap(),
            &batch_norm_eval(&x, &rm, &rv, Some(&gamma), Some(&beta), 1e-5).unwrap(),
            standard::<E>(),
        );
    }
}

fn softmax_and_cross_entropy<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(10);
    let x = random::<E>(&[7, 1001], &mut rng)
        .mul_scalar(num(5.0))
        .unwrap();
    let gx = on(device, &x);
    for axis in [1, 0] {
        poison::<E>();
        let (y, gy) = (softmax(&x, axis).unwrap(), softmax(&gx, axis).unwrap());
        assert_close("softmax", &gy, &y, standard::<E>());
        let (ly, gly) = (
            log_softmax(&x, axis).unwrap(),
            log_softmax(&gx, axis).unwrap(),
        );
        assert_close("log_softmax", &gly, &ly, standard::<E>());
        let dy = random::<E>(x.shape(), &mut rng);
        let gdy = on(device, &dy);
        assert_close(
            "softmax_backward",
            &softmax_backward(&gy, &gdy, axis).unwrap(),
            &softmax_backward(&y, &dy, axis).unwrap(),
            cancelling::<E>(),
        );
        assert_close(
            "log_softmax_backward",
            &log_softmax_backward(&gly, &gdy, axis).unwrap(),
            &log_softmax_backward(&ly, &dy, axis).unwrap(),
            cancelling::<E>(),
        );
    }
    let targets: Vec<usize> = (0..7).map(|i| (i * 131) % 1001).collect();
    for reduction in [Reduction::Mean, Reduction::Sum] {
        poison::<E>();
        assert_close(
            "cross_entropy",
            &cross_entropy(&gx, &targets, reduction).unwrap(),
            &cross_entropy(&x, &targets, reduction).unwrap(),
            standard::<E>(),
        );
        assert_close(
            "cross_entropy_backward",
            &cross_entropy_backward(&gx, &targets, reduction, num(0.5)).unwrap(),
            &cross_entropy_backward(&x, &targets, reduction, num(0.5)).unwrap(),
            standard::<E>(),
        );
    }
}
