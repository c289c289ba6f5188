//! Every CUDA op against the CPU result on fresh random data: f32 max-norm relative error
//! ≤ 1e-5 (TF32 ≤ 1e-3), odd sizes, tile edges and non-contiguous views. Before each op the
//! device's memory pool is filled with NaN and released, so the op's fresh output very likely
//! reuses poisoned memory and an element a kernel fails to write shows up as NaN.
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
use unravel_tensor::{Device, Rng, Tensor};

mod cuda_common;
use cuda_common::{assert_close, gpu, on, poison, random, F32};

#[test]
fn copies_round_trip_including_views() {
    let Some(device) = gpu("copies_round_trip_including_views") else {
        return;
    };
    let mut rng = Rng::seed_from(1);
    let x = random(&[3, 5, 7], &mut rng);
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

#[test]
fn binary_ops_broadcast_and_views() {
    let Some(device) = gpu("binary_ops_broadcast_and_views") else {
        return;
    };
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
            random(a_shape, &mut rng),
            random(b_shape, &mut rng)
                .abs()
                .unwrap()
                .add_scalar(0.5)
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
                a.mul(&Tensor::scalar(3.0)),
                ga.mul(&Tensor::scalar(3.0)),
            ),
            (
                "gt a CPU scalar",
                Tensor::scalar(0.0).gt(&a),
                Tensor::scalar(0.0).gt(&ga),
            ),
        ] {
            poison();
            assert_close(
                &format!("{name} {a_shape:?} {b_shape:?}"),
                &gpu.unwrap(),
                &cpu.unwrap(),
                F32,
            );
        }
    }
    // A transposed (non-contiguous) operand.
    let (a, b) = (random(&[33, 65], &mut rng), random(&[65, 33], &mut rng));
    let cpu = a.add(&b.transpose(0, 1).unwrap()).unwrap();
    poison();
    let gpu = on(device, &a)
        .add(&on(device, &b).transpose(0, 1).unwrap())
        .unwrap();
    assert_close("add transposed", &gpu, &cpu, F32);
}

#[test]
fn unary_ops() {
    let Some(device) = gpu("unary_ops") else {
        return;
    };
    let mut rng = Rng::seed_from(4);
    let x = random(&[3, 1027], &mut rng);
    let positive = x.abs().unwrap().add_scalar(0.1).unwrap();
    let (gx, gp) = (on(device, &x), on(device, &positive));
    for (name, cpu, gpu) in [
        ("neg", x.neg(), gx.neg()),
        ("relu", x.relu(), gx.relu()),
        ("exp", x.exp(), gx.exp()),
        ("abs", x.abs(), gx.abs()),
        ("add_scalar", x.add_scalar(0.25), gx.add_scalar(0.25)),
        ("mul_scalar", x.mul_scalar(-3.0), gx.mul_scalar(-3.0)),
        ("square", x.powf(2.0), gx.powf(2.0)),
        ("log", positive.log(), gp.log()),
        ("sqrt", positive.sqrt(), gp.sqrt()),
        ("powf", positive.powf(1.5), gp.powf(1.5)),
        (
            "relu of a view",
            x.transpose(0, 1).unwrap().relu(),
            gx.transpose(0, 1).unwrap().relu(),
        ),
    ] {
        poison();
        assert_close(name, &gpu.unwrap(), &cpu.unwrap(), 4e-6);
    }
}

#[test]
fn sums_over_axes() {
    let Some(device) = gpu("sums_over_axes") else {
        return;
    };
    let mut rng = Rng::seed_from(5);
    let x = random(&[5, 7, 1, 301], &mut rng);
    let gx = on(device, &x);
    for (axes, keepdim) in [
        (&[3][..], false),
        (&[0, 2][..], true),
        (&[1, 3][..], false),
        (&[0, 1, 2, 3][..], false),
        (&[][..], false),
    ] {
        poison();
        assert_close(
            &format!("sum {axes:?}"),
            &gx.sum(axes, keepdim).unwrap(),
            &x.sum(axes, keepdim).unwrap(),
            F32,
        );
        assert_close(
            &format!("mean {axes:?}"),
            &gx.mean(axes, keepdim).unwrap(),
            &x.mean(axes, keepdim).unwrap(),
            F32,
        );
    }
    assert_close(
        "sum_all",
        &gx.sum_all().unwrap(),
        &x.sum_all().unwrap(),
        F32,
    );
    let t = gx.permute(&[3, 1, 0, 2]).unwrap();
    assert_close(
        "sum of a permuted view",
        &t.sum(&[0], false).unwrap(),
        &x.permute(&[3, 1, 0, 2]).unwrap().sum(&[0], false).unwrap(),
        F32,
    );
}

#[test]
fn matmul_f32_and_tf32() {
    let Some(device) = gpu("matmul_f32_and_tf32") else {
        return;
    };
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
        let (a, b) = (random(a_shape, &mut rng), random(b_shape, &mut rng));
        let cpu = a.matmul(&b).unwrap();
        poison();
        assert_close(
            &format!("matmul {a_shape:?}·{b_shape:?}"),
            &on(device, &a).matmul(&on(device, &b)).unwrap(),
            &cpu,
            F32,
        );
        poison();
        assert_close(
            &format!("matmul_tf32 {a_shape:?}·{b_shape:?}"),
            &on(device, &a).matmul_tf32(&on(device, &b)).unwrap(),
            &cpu,
            1e-3,
        );
    }
    // Transposed operands are read through strides.
    let (a, b) = (random(&[129, 67], &mut rng), random(&[131, 129], &mut rng));
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
    assert_close("matmul of transposes", &gpu, &cpu, F32);
}

/// (input shape, weight shape, stride, padding, dilation, groups).
type ConvCase = ([usize; 4], [usize; 4], usize, usize, usize, usize);

#[test]
fn conv2d_forward_and_backward() {
    let Some(device) = gpu("conv2d_forward_and_backward") else {
        return;
    };
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
            random(&x_shape, &mut rng),
            random(&w_shape, &mut rng),
            random(&[w_shape[0]], &mut rng),
        );
        let (gx, gw, gb) = (on(device, &x), on(device, &w), on(device, &b));
        let what =
            format!("conv {x_shape:?} {w_shape:?} s{stride} p{padding} d{dilation} g{groups}");
        poison();
        let y = conv2d(&x, &w, Some(&b), &params).unwrap();
        assert_close(
            &format!("{what} forward"),
            &conv2d(&gx, &gw, Some(&gb), &params).unwrap(),
            &y,
            F32,
        );
        let dy = random(y.shape(), &mut rng);
        let gdy = on(device, &dy);
        poison();
        assert_close(
            &format!("{what} dx"),
            &conv2d_backward_input(&gdy, &gw, &x_shape, &params).unwrap(),
            &conv2d_backward_input(&dy, &w, &x_shape, &params).unwrap(),
            F32,
        );
        poison();
        assert_close(
            &format!("{what} dw"),
            &conv2d_backward_weight(&gdy, &gx, &w_shape, &params).unwrap(),
            &conv2d_backward_weight(&dy, &x, &w_shape, &params).unwrap(),
            F32,
        );
        assert_close(
            &format!("{what} db"),
            &conv2d_backward_bias(&gdy).unwrap(),
            &conv2d_backward_bias(&dy).unwrap(),
            F32,
        );
    }
}

#[test]
fn pooling_forward_and_backward() {
    let Some(device) = gpu("pooling_forward_and_backward") else {
        return;
    };
    let mut rng = Rng::seed_from(8);
    for (shape, params) in [
        ([2, 3, 13, 13], Pool2dParams::square(3, 2, 1)),
        ([1, 4, 8, 9], Pool2dParams::square(2, 2, 0)),
        ([2, 2, 7, 5], Pool2dParams::new([3, 2], [1, 2], [1, 0])),
    ] {
        let x = random(&shape, &mut rng);
        let gx = on(device, &x);
        poison();
        let (y, argmax) = max_pool2d(&x, params).unwrap();
        let (gy, gargmax) = max_pool2d(&gx, params).unwrap();
        assert_close("max_pool2d", &gy, &y, 0.0);
        assert_eq!(gargmax, argmax, "max_pool2d indices");
        let dy = random(y.shape(), &mut rng);
        poison();
        assert_close(
            "max_pool2d_backward",
            &max_pool2d_backward(&on(device, &dy), &gargmax, &shape).unwrap(),
            &max_pool2d_backward(&dy, &argmax, &shape).unwrap(),
            F32,
        );
        poison();
        assert_close(
            "global_avg_pool2d",
            &global_avg_pool2d(&gx).unwrap(),
            &global_avg_pool2d(&x).unwrap(),
            F32,
        );
        let dg = random(&shape[..2], &mut rng);
        poison();
        assert_close(
            "global_avg_pool2d_backward",
            &global_avg_pool2d_backward(&on(device, &dg), &shape).unwrap(),
            &global_avg_pool2d_backward(&dg, &shape).unwrap(),
            F32,
        );
    }
}

#[test]
fn batch_norm_train_eval_backward() {
    let Some(device) = gpu("batch_norm_train_eval_backward") else {
        return;
    };
    let mut rng = Rng::seed_from(9);
    for shape in [vec![4, 3, 5, 7], vec![2, 17, 1, 1], vec![33, 6]] {
        let c = shape[1];
        let x = random(&shape, &mut rng)
            .mul_scalar(3.0)
            .unwrap()
            .add_scalar(2.0)
            .unwrap();
        let (gamma, beta) = (random(&[c], &mut rng), random(&[c], &mut rng));
        let (gx, gg, gb) = (on(device, &x), on(device, &gamma), on(device, &beta));
        poison();
        let cpu = batch_norm_train(&x, Some(&gamma), Some(&beta), 1e-5).unwrap();
        let gpu = batch_norm_train(&gx, Some(&gg), Some(&gb), 1e-5).unwrap();
        assert_close("bn output", &gpu.output, &cpu.output, F32);
        assert_close("bn mean", &gpu.mean, &cpu.mean, F32);
        assert_close("bn variance", &gpu.variance, &cpu.variance, F32);
        assert_close("bn inverse_std", &gpu.inverse_std, &cpu.inverse_std, F32);
        let dy = random(&shape, &mut rng);
        poison();
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
        assert_close("bn dx", &gpu_grads.grad_input, &cpu_grads.grad_input, 1e-4);
        assert_close(
            "bn dgamma",
            &gpu_grads.grad_weight,
            &cpu_grads.grad_weight,
            F32,
        );
        assert_close("bn dbeta", &gpu_grads.grad_bias, &cpu_grads.grad_bias, F32);
        let (rm, rv) = (
            random(&[c], &mut rng),
            random(&[c], &mut rng)
                .abs()
                .unwrap()
                .add_scalar(0.5)
                .unwrap(),
        );
        poison();
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
            F32,
        );
    }
}

#[test]
fn softmax_and_cross_entropy() {
    let Some(device) = gpu("softmax_and_cross_entropy") else {
        return;
    };
    let mut rng = Rng::seed_from(10);
    let x = random(&[7, 1001], &mut rng).mul_scalar(5.0).unwrap();
    let gx = on(device, &x);
    for axis in [1, 0] {
        poison();
        let (y, gy) = (softmax(&x, axis).unwrap(), softmax(&gx, axis).unwrap());
        assert_close("softmax", &gy, &y, F32);
        let (ly, gly) = (
            log_softmax(&x, axis).unwrap(),
            log_softmax(&gx, axis).unwrap(),
        );
        assert_close("log_softmax", &gly, &ly, F32);
        let dy = random(x.shape(), &mut rng);
        let gdy = on(device, &dy);
        assert_close(
            "softmax_backward",
            &softmax_backward(&gy, &gdy, axis).unwrap(),
            &softmax_backward(&y, &dy, axis).unwrap(),
            1e-4,
        );
        assert_close(
            "log_softmax_backward",
            &log_softmax_backward(&gly, &gdy, axis).unwrap(),
            &log_softmax_backward(&ly, &dy, axis).unwrap(),
            1e-4,
        );
    }
    let targets: Vec<usize> = (0..7).map(|i| (i * 131) % 1001).collect();
    for reduction in [Reduction::Mean, Reduction::Sum] {
        poison();
        assert_close(
            "cross_entropy",
            &cross_entropy(&gx, &targets, reduction).unwrap(),
            &cross_entropy(&x, &targets, reduction).unwrap(),
            F32,
        );
        assert_close(
            "cross_entropy_backward",
            &cross_entropy_backward(&gx, &targets, reduction, 0.5).unwrap(),
            &cross_entropy_backward(&x, &targets, reduction, 0.5).unwrap(),
            F32,
        );
    }
}

#[test]
fn cpu_only_ops_refuse_gpu_tensors_with_a_typed_error() {
    let Some(device) = gpu("cpu_only_ops_refuse_gpu_tensors_with_a_typed_error") else {
        return;
    };
    let x = on(device, &Tensor::ones(&[2, 3]));
    assert!(x.map(|v| v + 1.0).is_err());
    assert!(x.clone().data_mut().is_err());
    let cpu = Tensor::<f32>::ones(&[2, 3]);
    assert!(x.add(&cpu).is_err(), "mixing devices must fail");
    let double = Tensor::<f64>::ones(&[2]).to_device(device).unwrap();
    assert!(
        double.add(&double).is_err(),
        "f64 kernels do not exist on the GPU"
    );
}

#[test]
fn fused_add_relu_and_relu_backward() {
    use unravel_tensor::cuda::ops::elementwise::{add_relu, relu_backward};
    let Some(device) = gpu("fused_add_relu_and_relu_backward") else {
        return;
    };
    let mut rng = Rng::seed_from(11);
    let (a, b) = (
        random(&[3, 5, 129], &mut rng),
        random(&[3, 5, 129], &mut rng),
    );
    poison();
    assert_close(
        "add_relu",
        &add_relu(&on(device, &a), &on(device, &b)).unwrap(),
        &a.add(&b).unwrap().relu().unwrap(),
        0.0,
    );
    // The dispatching op: one shape (the fused kernel, which keeps a NaN sum as relu does) and
    // a broadcast operand (the unfused kernels).
    let mut with_nan = a.to_vec();
    with_nan[7] = f32::NAN;
    let with_nan = Tensor::from_vec(with_nan, a.shape()).unwrap();
    poison();
    let fused = on(device, &with_nan).add_relu(&on(device, &b)).unwrap();
    assert!(fused.to_vec()[7].is_nan(), "add_relu must keep a NaN sum");
    assert_close(
        "Tensor::add_relu",
        &fused,
        &with_nan.add_relu(&b).unwrap(),
        0.0,
    );
    let row = random(&[129], &mut rng);
    poison();
    assert_close(
        "Tensor::add_relu broadcast",
        &on(device, &a).add_relu(&on(device, &row)).unwrap(),
        &a.add_relu(&row).unwrap(),
        0.0,
    );
    let mask = a.gt(&Tensor::scalar(0.0)).unwrap();
    poison();
    assert_close(
        "relu_backward",
        &relu_backward(&on(device, &a), &on(device, &b)).unwrap(),
        &b.mul(&mask).unwrap(),
        0.0,
    );
}

#[test]
fn sgd_momentum_matches_the_formula() {
    use unravel_tensor::cuda::ops::sgd::{sgd_momentum_step, SgdParams};
    let Some(device) = gpu("sgd_momentum_matches_the_formula") else {
        return;
    };
    let mut rng = Rng::seed_from(12);
    let (p, g, v) = (
        random(&[1001], &mut rng),
        random(&[1001], &mut rng),
        random(&[1001], &mut rng),
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
            let gw = g.add(&p.mul_scalar(5e-4).unwrap()).unwrap();
            let v2 = if first {
                gw.clone()
            } else {
                v.mul_scalar(0.9).unwrap().add(&gw).unwrap()
            };
            let update = if nesterov {
                gw.add(&v2.mul_scalar(0.9).unwrap()).unwrap()
            } else {
                v2.clone()
            };
            (p.sub(&update.mul_scalar(0.1).unwrap()).unwrap(), v2)
        };
        for first in [true, false] {
            let (cpu_p, cpu_v) = step(first);
            let gv = on(device, &v);
            poison();
            let (gpu_p, gpu_v) = sgd_momentum_step(
                &on(device, &p),
                &on(device, &g),
                if first { None } else { Some(&gv) },
                &params,
            )
            .unwrap();
            assert_close("sgd param", &gpu_p, &cpu_p, F32);
            assert_close("sgd velocity", &gpu_v, &cpu_v, F32);
        }
    }
}
