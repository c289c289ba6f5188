//! The CUDA ops added so that a ResNet trains on the GPU, each against the CPU result on fresh
//! random data, in f32 and in f64 (each test is generic over the element type and runs as
//! `in_f32::name` and `in_f64::name`): pad, concat, slice scatter, select, max/min/var/argmax,
//! average pooling, eval-mode batch-norm backward, the running-statistics update, ReLU's
//! backward, SGD through `ops::sgd`, and the accessors that must keep (or read) GPU tensors
//! (`item`, `get`, a reshape that copies, `contiguous`). Odd sizes, views as inputs, and outputs
//! poisoned beforehand (64 MiB of the pool filled with NaN and released, as in `cuda_ops.rs`),
//! so an element a kernel fails to write shows up as NaN. Max-norm relative error ≤ 1e-5 for
//! f32, ≤ 1e-12 for f64; copies, max/min and selections must be exact.
//!
//! These tests need a GPU; without one each prints that it was skipped and passes.
#![cfg(feature = "cuda")]

use unravel_tensor::ops::batch_norm::{batch_norm_eval_backward, update_running_statistics};
use unravel_tensor::ops::pool::{avg_pool2d, avg_pool2d_backward, Pool2dParams};
use unravel_tensor::ops::sgd::{sgd_momentum_step, SgdParams};
use unravel_tensor::{Device, Float, Rng, Tensor};

#[macro_use]
mod cuda_common;
use cuda_common::{assert_close, from_f64s, num, on, poison, random, standard};

gpu_tests!(
    pad_concat_and_slice_scatter,
    select_with_broadcasting_and_cpu_scalars,
    max_min_var_and_argmax,
    average_pooling_forward_and_backward,
    batch_norm_eval_backward_and_running_statistics,
    relu_backward_and_sgd_through_the_device_agnostic_ops,
    accessors_keep_gpu_tensors_on_the_gpu,
);

fn pad_concat_and_slice_scatter<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(21);
    // The option-A shortcut: a stride-2 view of [N, C, H, W], channels zero-padded.
    let x = random::<E>(&[3, 5, 9, 11], &mut rng);
    let gx = on(device, &x);
    let (view, gview) = (
        x.slice(2, 0, 9, 2).unwrap().slice(3, 0, 11, 2).unwrap(),
        gx.slice(2, 0, 9, 2).unwrap().slice(3, 0, 11, 2).unwrap(),
    );
    for padding in [
        vec![(0, 0), (3, 4), (0, 0), (0, 0)],
        vec![(1, 0), (0, 2), (2, 1), (0, 3)],
    ] {
        poison::<E>();
        assert_close(
            "pad of a view",
            &gview.pad(&padding, num(0.5)).unwrap(),
            &view.pad(&padding, num(0.5)).unwrap(),
            0.0,
        );
    }
    let r = random::<E>(&[257], &mut rng);
    poison::<E>();
    assert_close(
        "pad rank 1",
        &on(device, &r).pad(&[(2, 3)], num(-1.0)).unwrap(),
        &r.pad(&[(2, 3)], num(-1.0)).unwrap(),
        0.0,
    );
    // Concat of views along each axis.
    let (a, b) = (
        random::<E>(&[4, 3, 7], &mut rng),
        random::<E>(&[7, 3, 4], &mut rng),
    );
    let gb = on(device, &b).permute(&[2, 1, 0]).unwrap(); // [4, 3, 7], a view
    let b = b.permute(&[2, 1, 0]).unwrap();
    let ga = on(device, &a);
    for axis in 0..3 {
        poison::<E>();
        assert_close(
            "concat",
            &Tensor::concat(&[&ga, &gb, &ga], axis).unwrap(),
            &Tensor::concat(&[&a, &b, &a], axis).unwrap(),
            0.0,
        );
    }
    // Slice scatter with a non-contiguous source (the backward of a stepped slice).
    let base = random::<E>(&[2, 13, 6], &mut rng);
    let src = random::<E>(&[7, 2, 6], &mut rng)
        .permute(&[1, 0, 2])
        .unwrap(); // [2, 7, 6]
                   // The same non-contiguous view on the GPU: [7, 2, 6] uploaded, then permuted.
    let gsrc = on(device, &src.permute(&[1, 0, 2]).unwrap().contiguous())
        .permute(&[1, 0, 2])
        .unwrap();
    poison::<E>();
    assert_close(
        "slice_scatter",
        &on(device, &base).slice_scatter(&gsrc, 1, 0, 13, 2).unwrap(),
        &base.slice_scatter(&src, 1, 0, 13, 2).unwrap(),
        0.0,
    );
    assert!(
        on(device, &base).slice_scatter(&gsrc, 1, 1, 13, 2).is_err(),
        "a source of the wrong shape is an error"
    );
}

fn select_with_broadcasting_and_cpu_scalars<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(22);
    let x = random::<E>(&[5, 1, 131], &mut rng);
    let y = random::<E>(&[3, 1], &mut rng);
    let mut condition = x.gt(&Tensor::scalar(num(0.0))).unwrap().to_vec();
    condition[7] = num(f64::NAN); // NaN is nonzero: picks on_true
    let condition = Tensor::from_vec(condition, &[5, 1, 131]).unwrap();
    let (gc, gx, gy) = (on(device, &condition), on(device, &x), on(device, &y));
    poison::<E>();
    assert_close(
        "select",
        &Tensor::select(&gc, &gx, &gy).unwrap(),
        &Tensor::select(&condition, &x, &y).unwrap(),
        0.0,
    );
    poison::<E>();
    assert_close(
        "select with a CPU scalar",
        &Tensor::select(&gc, &gx, &Tensor::scalar(num(0.25))).unwrap(),
        &Tensor::select(&condition, &x, &Tensor::scalar(num(0.25))).unwrap(),
        0.0,
    );
}

fn max_min_var_and_argmax<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(23);
    let x = random::<E>(&[3, 257, 5], &mut rng);
    let gx = on(device, &x);
    let xt = x.transpose(0, 2).unwrap();
    let gxt = gx.transpose(0, 2).unwrap();
    for axes in [vec![0], vec![1], vec![2], vec![0, 2], vec![0, 1, 2]] {
        for keepdim in [false, true] {
            poison::<E>();
            assert_close(
                "max",
                &gx.max(&axes, keepdim).unwrap(),
                &x.max(&axes, keepdim).unwrap(),
                0.0,
            );
            poison::<E>();
            assert_close(
                "min of a view",
                &gxt.min(&axes, keepdim).unwrap(),
                &xt.min(&axes, keepdim).unwrap(),
                0.0,
            );
            poison::<E>();
            assert_close(
                "var",
                &gx.var(&axes, keepdim, 1).unwrap(),
                &x.var(&axes, keepdim, 1).unwrap(),
                standard::<E>(),
            );
        }
    }
    let mut with_nan = x.to_vec();
    with_nan[300] = num(f64::NAN);
    let with_nan = Tensor::from_vec(with_nan, &[3, 257, 5]).unwrap();
    assert!(on(device, &with_nan).max(&[1], false).unwrap().to_vec()[0].is_nan());
    for axis in 0..3 {
        assert_eq!(
            gx.argmax(axis, false).unwrap(),
            x.argmax(axis, false).unwrap(),
            "argmax along {axis}"
        );
        assert_eq!(
            on(device, &with_nan).argmax(axis, true).unwrap(),
            with_nan.argmax(axis, true).unwrap(),
            "argmax with a NaN along {axis}"
        );
    }
    // Ties: the first maximum wins.
    let ties = from_f64s::<E>(&[1.0, 3.0, 3.0, 2.0, 2.0, 2.0], &[2, 3]);
    assert_eq!(
        on(device, &ties).argmax(1, false).unwrap().as_slice(),
        &[1, 0]
    );
}

fn average_pooling_forward_and_backward<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(24);
    for (shape, params) in [
        ([2, 3, 13, 13], Pool2dParams::square(3, 2, 1)),
        ([1, 4, 8, 9], Pool2dParams::square(2, 2, 0)),
        ([2, 2, 7, 5], Pool2dParams::new([3, 2], [1, 2], [1, 0])),
        ([3, 1, 17, 6], Pool2dParams::new([5, 3], [3, 1], [2, 1])),
    ] {
        let x = random::<E>(&shape, &mut rng);
        let gx = on(device, &x);
        for include_pad in [true, false] {
            poison::<E>();
            let y = avg_pool2d(&x, params, include_pad).unwrap();
            assert_close(
                "avg_pool2d",
                &avg_pool2d(&gx, params, include_pad).unwrap(),
                &y,
                standard::<E>(),
            );
            let dy = random::<E>(y.shape(), &mut rng);
            poison::<E>();
            assert_close(
                "avg_pool2d_backward",
                &avg_pool2d_backward(&on(device, &dy), &shape, params, include_pad).unwrap(),
                &avg_pool2d_backward(&dy, &shape, params, include_pad).unwrap(),
                standard::<E>(),
            );
        }
    }
}

fn batch_norm_eval_backward_and_running_statistics<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(25);
    for shape in [vec![4, 3, 5, 7], vec![2, 17, 1, 1], vec![33, 6]] {
        let c = shape[1];
        let x = random::<E>(&shape, &mut rng);
        let dy = random::<E>(&shape, &mut rng);
        let gamma = random::<E>(&[c], &mut rng);
        let mean = random::<E>(&[c], &mut rng);
        let var = random::<E>(&[c], &mut rng)
            .abs()
            .unwrap()
            .add_scalar(num(0.5))
            .unwrap();
        poison::<E>();
        let cpu = batch_norm_eval_backward(&dy, &x, &mean, &var, Some(&gamma), 1e-5).unwrap();
        let gpu = batch_norm_eval_backward(
            &on(device, &dy),
            &on(device, &x),
            &on(device, &mean),
            &on(device, &var),
            Some(&on(device, &gamma)),
            1e-5,
        )
        .unwrap();
        assert_close(
            "bn eval dx",
            &gpu.grad_input,
            &cpu.grad_input,
            standard::<E>(),
        );
        assert_close(
            "bn eval dgamma",
            &gpu.grad_weight,
            &cpu.grad_weight,
            standard::<E>(),
        );
        assert_close(
            "bn eval dbeta",
            &gpu.grad_bias,
            &cpu.grad_bias,
            standard::<E>(),
        );
        // A per-channel tensor of the wrong shape is an error, not an out-of-bounds read.
        assert!(batch_norm_eval_backward(
            &on(device, &dy),
            &on(device, &x),
            &on(device, &random::<E>(&[c + 1], &mut rng)),
            &on(device, &var),
            None,
            1e-5,
        )
        .is_err());

        let (batch_mean, batch_var) = (
            random::<E>(&[c], &mut rng),
            random::<E>(&[c], &mut rng).abs().unwrap(),
        );
        let (mut rm, mut rv) = (mean.clone(), var.clone());
        update_running_statistics(&mut rm, &mut rv, &batch_mean, &batch_var, 7, 0.1).unwrap();
        let (mut grm, mut grv) = (on(device, &mean), on(device, &var));
        poison::<E>();
        update_running_statistics(
            &mut grm,
            &mut grv,
            &on(device, &batch_mean),
            &on(device, &batch_var),
            7,
            0.1,
        )
        .unwrap();
        assert_close("running mean", &grm, &rm, standard::<E>());
        assert_close("running var", &grv, &rv, standard::<E>());
    }
}

fn relu_backward_and_sgd_through_the_device_agnostic_ops<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(26);
    let (y, dy) = (
        random::<E>(&[7, 131], &mut rng),
        random::<E>(&[7, 131], &mut rng),
    );
    let y = y.relu().unwrap();
    poison::<E>();
    assert_close(
        "relu_backward",
        &on(device, &y).relu_backward(&on(device, &dy)).unwrap(),
        &y.relu_backward(&dy).unwrap(),
        0.0,
    );
    let (p, g, v) = (
        random::<E>(&[3, 1001], &mut rng),
        random::<E>(&[3, 1001], &mut rng),
        random::<E>(&[3, 1001], &mut rng),
    );
    for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
        let params = SgdParams {
            lr: 0.1,
            momentum,
            dampening: 0.0,
            weight_decay: 5e-4,
            nesterov,
        };
        for velocity in [None, Some(&v)] {
            let (cpu_p, cpu_v) = sgd_momentum_step(&p, &g, velocity, &params).unwrap();
            let gv = velocity.map(|v| on(device, v));
            poison::<E>();
            let (gpu_p, gpu_v) =
                sgd_momentum_step(&on(device, &p), &on(device, &g), gv.as_ref(), &params).unwrap();
            assert_close("sgd param", &gpu_p, &cpu_p, standard::<E>());
            if momentum != 0.0 {
                assert_close("sgd velocity", &gpu_v, &cpu_v, standard::<E>());
            }
        }
    }
}

fn accessors_keep_gpu_tensors_on_the_gpu<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(27);
    let x = random::<E>(&[4, 6, 5], &mut rng);
    let gx = on(device, &x);
    // A reshape that cannot be a view copies, on the GPU.
    let (t, gt) = (x.transpose(0, 2).unwrap(), gx.transpose(0, 2).unwrap());
    poison::<E>();
    assert_close(
        "reshape of a transpose",
        &gt.reshape(&[30, 4]).unwrap(),
        &t.reshape(&[30, 4]).unwrap(),
        0.0,
    );
    poison::<E>();
    assert_close(
        "contiguous",
        &gt.try_contiguous().unwrap(),
        &t.contiguous(),
        0.0,
    );
    assert_eq!(gt.get(&[3, 2, 1]).unwrap(), t.get(&[3, 2, 1]).unwrap());
    assert_eq!(
        gx.sum_all().unwrap().item().unwrap(),
        gx.sum_all().unwrap().to_vec()[0]
    );
    assert_eq!(
        on(device, &x)
            .narrow(2, 3, 1)
            .unwrap()
            .narrow(1, 4, 1)
            .unwrap()
            .narrow(0, 2, 1)
            .unwrap()
            .reshape(&[])
            .unwrap()
            .item()
            .unwrap(),
        x.get(&[2, 4, 3]).unwrap()
    );
    let zeros = Tensor::<E>::zeros_on(&[3, 129], device).unwrap();
    assert_eq!(zeros.device(), device);
    assert!(zeros.to_vec().iter().all(|&v| v == E::ZERO));
}
