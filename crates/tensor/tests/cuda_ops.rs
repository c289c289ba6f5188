//! Every CUDA op against the CPU result on fresh random data, in f32 and in f64 (each test is
//! generic over the element type and runs as `in_f32::name` and `in_f64::name`): max-norm
//! relative error ≤ 1e-5 for f32 and ≤ 1e-12 for f64 (TF32 ≤ 1e-3; f64 has no TF32 and must
//! refuse it), odd sizes, tile edges and non-contiguous views. Before each op the device's
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
use unravel_tensor::{DType, Device, Float, Rng, Tensor, TensorError};

#[macro_use]
mod cuda_common;
use cuda_common::{assert_close, cancelling, num, on, poison, random, standard, tolerance};

gpu_tests!(
    copies_round_trip_including_views,
    binary_ops_broadcast_and_views,
    unary_ops,
    sums_over_axes,
    matmul_exact_and_tf32,
    conv2d_forward_and_backward,
    pooling_forward_and_backward,
    batch_norm_train_eval_backward,
    softmax_and_cross_entropy,
    cpu_only_ops_refuse_gpu_tensors_with_a_typed_error,
    fused_add_relu_and_relu_backward,
    sgd_momentum_matches_the_formula,
);

fn copies_round_trip_including_views<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(1);
    let x = random::<E>(&[3, 5, 7], &mut rng);
    let on_gpu = on(device, &x);
    assert_eq!(on_gpu.device(), device);
    assert_eq!(on_gpu.to_vec(), x.to_vec());
    let view = on_gpu.permute(&[2, 0, 1]).unwrap().narrow(0, 1, 4).unwrap();
    let expected = x.permute(&[2, 0, 1]).unwrap().narrow(0, 1, 4).unwrap();
    assert_eq!(view.to_vec(), expected.to_vec());
    assert_eq!(
        view.to_device(Device::Cpu).unwrap().to_vec(),
        expected.to_vec()
    );
    assert_eq!(view.try_contiguous().unwrap().to_vec(), expected.to_vec());
}

fn binary_ops_broadcast_and_views<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(2);
    let shapes: [(&[usize], &[usize]); 5] = [
        (&[1], &[1]),
        (&[1031], &[1031]),
        (&[7, 1, 13], &[5, 1]),
        (&[2, 3, 17, 19], &[3, 1, 1]),
        (&[257, 3], &[257, 1]),
    ];
    for (a_shape, b_shape) in shapes {
        let (a, b) = (
            random::<E>(a_shape, &mut rng),
            random::<E>(b_shape, &mut rng)
                .abs()
                .unwrap()
                .add_scalar(num(0.5))
                .unwrap(),
        );
        let (ga, gb) = (on(device, &a), on(device, &b));
        for (name, cpu, gpu) in [
            ("add", a.add(&b), ga.add(&gb)),
            ("sub", a.sub(&b), ga.sub(&gb)),
            ("mul", a.mul(&b), ga.mul(&gb)),
            ("div", a.div(&b), ga.div(&gb)),
            ("maximum", a.maximum(&b), ga.maximum(&gb)),
            ("minimum", a.minimum(&b), ga.minimum(&gb)),
            ("pow", b.pow(&a), gb.pow(&ga)),
            ("gt", a.gt(&b), ga.gt(&gb)),
            ("ge", a.ge(&b), ga.ge(&gb)),
            ("lt", a.lt(&b), ga.lt(&gb)),
            ("le", a.le(&b), ga.le(&gb)),
            ("eq", a.eq(&a), ga.eq(&ga)),
            (
                "mul by a CPU scalar",
                a.mul(&Tensor::scalar(num(3.0))),
                ga.mul(&Tensor::scalar(num(3.0))),
            ),
            (
                "gt a CPU scalar",
                Tensor::scalar(num(0.0)).gt(&a),
                Tensor::scalar(num(0.0)).gt(&ga),
            ),
        ] {
            poison::<E>();
            assert_close(
                &format!("{name} {a_shape:?} {b_shape:?}"),
                &gpu.unwrap(),
                &cpu.unwrap(),
                standard::<E>(),
            );
        }
    }
    // A transposed (non-contiguous) operand.
    let (a, b) = (
        random::<E>(&[33, 65], &mut rng),
        random::<E>(&[65, 33], &mut rng),
    );
    let cpu = a.add(&b.transpose(0, 1).unwrap()).unwrap();
    poison::<E>();
    let gpu = on(device, &a)
        .add(&on(device, &b).transpose(0, 1).unwrap())
        .unwrap();
    assert_close("add transposed", &gpu, &cpu, standard::<E>());
    // Dense operands at offsets of 102 and 204 elements (row slices): 16-byte aligned for f64
    // (the double2 path), 8 bytes off for f32 (the scalar path); 306 elements leave a tail.
    let (a, b) = (
        random::<E>(&[5, 102], &mut rng),
        random::<E>(&[7, 102], &mut rng),
    );
    let (a_rows, b_rows) = (a.narrow(0, 1, 3).unwrap(), b.narrow(0, 2, 3).unwrap());
    let cpu = a_rows.mul(&b_rows).unwrap();
    poison::<E>();
    let gpu = on(device, &a)
        .narrow(0, 1, 3)
        .unwrap()
        .mul(&on(device, &b).narrow(0, 2, 3).unwrap())
        .unwrap();
    assert_close("mul of row slices", &gpu, &cpu, standard::<E>());
}

fn unary_ops<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(4);
    let x = random::<E>(&[3, 1027], &mut rng);
    let positive = x.abs().unwrap().add_scalar(num(0.1)).unwrap();
    let (gx, gp) = (on(device, &x), on(device, &positive));
    for (name, cpu, gpu) in [
        ("neg", x.neg(), gx.neg()),
        ("relu", x.relu(), gx.relu()),
        ("exp", x.exp(), gx.exp()),
        ("abs", x.abs(), gx.abs()),
        (
            "add_scalar",
            x.add_scalar(num(0.25)),
            gx.add_scalar(num(0.25)),
        ),
        (
            "mul_scalar",
            x.mul_scalar(num(-3.0)),
            gx.mul_scalar(num(-3.0)),
        ),
        ("square", x.powf(num(2.0)), gx.powf(num(2.0))),
        ("log", positive.log(), gp.log()),
        ("sqrt", positive.sqrt(), gp.sqrt()),
        ("powf", positive.powf(num(1.5)), gp.powf(num(1.5))),
        (
            "relu of a view",
            x.transpose(0, 1).unwrap().relu(),
            gx.transpose(0, 1).unwrap().relu(),
        ),
    ] {
        poison::<E>();
        assert_close(
            name,
            &gpu.unwrap(),
            &cpu.unwrap(),
            tolerance::<E>(4e-6, 1e-13),
        );
    }
}

fn sums_over_axes<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(5);
    let x = random::<E>(&[5, 7, 1, 301], &mut rng);
    let gx = on(device, &x);
    for (axes, keepdim) in [
        (&[3][..], false),
        (&[0, 2][..], true),
        (&[1, 3][..], false),
        (&[0, 1, 2, 3][..], false),
        (&[][..], false),
    ] {
        poison::<E>();
        assert_close(
            &format!("sum {axes:?}"),
            &gx.sum(axes, keepdim).unwrap(),
            &x.sum(axes, keepdim).unwrap(),
            standard::<E>(),
        );
        assert_close(
            &format!("mean {axes:?}"),
            &gx.mean(axes, keepdim).unwrap(),
            &x.mean(axes, keepdim).unwrap(),
            standard::<E>(),
        );
    }
    assert_close(
        "sum_all",
        &gx.sum_all().unwrap(),
        &x.sum_all().unwrap(),
        standard::<E>(),
    );
    let t = gx.permute(&[3, 1, 0, 2]).unwrap();
    assert_close(
        "sum of a permuted view",
        &t.sum(&[0], false).unwrap(),
        &x.permute(&[3, 1, 0, 2]).unwrap().sum(&[0], false).unwrap(),
        standard::<E>(),
    );
}

fn matmul_exact_and_tf32<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(6);
    let cases: [(&[usize], &[usize]); 8] = [
        (&[1, 1], &[1, 1]),
        (&[127, 129], &[129, 131]),
        (&[128, 8], &[8, 128]),
        (&[257, 13], &[13, 255]),
        (&[64, 1000], &[1000, 10]),
        (&[3, 33, 17], &[17, 9]),
        (&[2, 1, 5, 7], &[4, 7, 3]),
        (&[19], &[19, 23]),
    ];
    for (a_shape, b_shape) in cases {
        let (a, b) = (
            random::<E>(a_shape, &mut rng),
            random::<E>(b_shape, &mut rng),
        );
        let cpu = a.matmul(&b).unwrap();
        poison::<E>();
        assert_close(
            &format!("matmul {a_shape:?}·{b_shape:?}"),
            &on(device, &a).matmul(&on(device, &b)).unwrap(),
            &cpu,
            standard::<E>(),
        );
        poison::<E>();
        let tf32 = on(device, &a).matmul_tf32(&on(device, &b));
        match E::DTYPE {
            DType::F32 => assert_close(
                &format!("matmul_tf32 {a_shape:?}·{b_shape:?}"),
                &tf32.unwrap(),
                &cpu,
                1e-3,
            ),
            // No TF32 for f64, and no silent fallback to the exact GEMM.
            DType::F64 => assert!(
                matches!(
                    tf32,
                    Err(TensorError::UnsupportedDType {
                        op: "matmul_tf32",
                        dtype: DType::F64
                    })
                ),
                "matmul_tf32 of f64: {tf32:?}"
            ),
        }
    }
    // Transposed operands are read through strides.
    let (a, b) = (
        random::<E>(&[129, 67], &mut rng),
        random::<E>(&[131, 129], &mut rng),
    );
    let cpu = a
        .transpose(0, 1)
        .unwrap()
        .matmul(&b.transpose(0, 1).unwrap())
        .unwrap();
    let gpu = on(device, &a)
        .transpose(0, 1)
        .unwrap()
        .matmul(&on(device, &b).transpose(0, 1).unwrap())
        .unwrap();
    assert_close("matmul of transposes", &gpu, &cpu, standard::<E>());
    // Row strides that are even but not multiples of 4 (f64 takes the double2 path, f32 the
    // scalar one), and an operand one element past its allocation's start (misaligned for both:
    // the kernel must check the pointer, not only the stride).
    let (a, b) = (
        random::<E>(&[33, 66], &mut rng),
        random::<E>(&[66, 130], &mut rng),
    );
    poison::<E>();
    assert_close(
        "matmul with row strides 66 and 130",
        &on(device, &a).matmul(&on(device, &b)).unwrap(),
        &a.matmul(&b).unwrap(),
        standard::<E>(),
    );
    let wide = random::<E>(&[65, 130], &mut rng);
    let a = wide.narrow(1, 1, 66).unwrap();
    poison::<E>();
    assert_close(
        "matmul of a column slice (offset 1)",
        &on(device, &wide)
            .narrow(1, 1, 66)
            .unwrap()
            .matmul(&on(device, &b))
            .unwrap(),
        &a.matmul(&b).unwrap(),
        standard::<E>(),
    );
}

/// (input shape, weight shape, stride, padding, dilation).
type ConvCase = ([usize; 4], [usize; 4], usize, usize, usize);

fn conv2d_forward_and_backward<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(7);
    // (input, weight, stride, padding, dilation): ResNet's stem, 3×3 s1/s2, 1×1 s2, dilation.
    let cases: [ConvCase; 5] = [
        ([2, 3, 23, 23], [8, 3, 7, 7], 2, 3, 1),
        ([3, 5, 9, 11], [7, 5, 3, 3], 1, 1, 1),
        ([2, 16, 15, 15], [32, 16, 3, 3], 2, 1, 1),
        ([2, 17, 8, 8], [9, 17, 1, 1], 2, 0, 1),
        ([1, 2, 12, 12], [3, 2, 3, 3], 1, 2, 2),
    ];
    for (x_shape, w_shape, stride, padding, dilation) in cases {
        let params = Conv2dParams::square(stride, padding, dilation, 1);
        let (x, w, b) = (
            random::<E>(&x_shape, &mut rng),
            random::<E>(&w_shape, &mut rng),
            random::<E>(&[w_shape[0]], &mut rng),
        );
        let (gx, gw, gb) = (on(device, &x), on(device, &w), on(device, &b));
        let what = format!("conv {x_shape:?} {w_shape:?} s{stride} p{padding} d{dilation}");
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

fn cpu_only_ops_refuse_gpu_tensors_with_a_typed_error<E: Float>(device: Device) {
    let x = on(device, &Tensor::ones(&[2, 3]));
    assert!(x.map(|v| v + E::ONE).is_err());
    assert!(x.clone().data_mut().is_err());
    let cpu = Tensor::<E>::ones(&[2, 3]);
    assert!(x.add(&cpu).is_err(), "mixing devices must fail");
}

fn fused_add_relu_and_relu_backward<E: Float>(device: Device) {
    use unravel_tensor::cuda::ops::elementwise::{add_relu, relu_backward};
    let mut rng = Rng::seed_from(11);
    let (a, b) = (
        random::<E>(&[3, 5, 129], &mut rng),
        random::<E>(&[3, 5, 129], &mut rng),
    );
    poison::<E>();
    assert_close(
        "add_relu",
        &add_relu(&on(device, &a), &on(device, &b)).unwrap(),
        &a.add(&b).unwrap().relu().unwrap(),
        0.0,
    );
    let mask = a.gt(&Tensor::scalar(num(0.0))).unwrap();
    poison::<E>();
    assert_close(
        "relu_backward",
        &relu_backward(&on(device, &a), &on(device, &b)).unwrap(),
        &b.mul(&mask).unwrap(),
        0.0,
    );
}

fn sgd_momentum_matches_the_formula<E: Float>(device: Device) {
    use unravel_tensor::cuda::ops::sgd::{sgd_momentum_step, SgdParams};
    let mut rng = Rng::seed_from(12);
    let (p, g, v) = (
        random::<E>(&[1001], &mut rng),
        random::<E>(&[1001], &mut rng),
        random::<E>(&[1001], &mut rng),
    );
    for nesterov in [false, true] {
        let params = SgdParams {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 5e-4,
            nesterov,
        };
        // The rule written plainly on the CPU.
        let step = |first: bool| {
            let gw = g.add(&p.mul_scalar(num(5e-4)).unwrap()).unwrap();
            let v2 = if first {
                gw.clone()
            } else {
                v.mul_scalar(num(0.9)).unwrap().add(&gw).unwrap()
            };
            let update = if nesterov {
                gw.add(&v2.mul_scalar(num(0.9)).unwrap()).unwrap()
            } else {
                v2.clone()
            };
            (p.sub(&update.mul_scalar(num(0.1)).unwrap()).unwrap(), v2)
        };
        for first in [true, false] {
            let (cpu_p, cpu_v) = step(first);
            let gv = on(device, &v);
            poison::<E>();
            let (gpu_p, gpu_v) = sgd_momentum_step(
                &on(device, &p),
                &on(device, &g),
                if first { None } else { Some(&gv) },
                &params,
            )
            .unwrap();
            assert_close("sgd param", &gpu_p, &cpu_p, standard::<E>());
            assert_close("sgd velocity", &gpu_v, &cpu_v, standard::<E>());
        }
    }
}
