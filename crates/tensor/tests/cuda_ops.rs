//! The general CUDA ops against the CPU result on fresh random data, in f32 and in f64 (each
//! test is generic over the element type and runs as `in_f32::name` and `in_f64::name`):
//! copies, elementwise ops, sums, matmul, the fused add + ReLU, SGD, and the refusals; the
//! network layers are in `cuda_nn_ops.rs`. Max-norm relative error ≤ 1e-5 for f32 and ≤ 1e-12
//! for f64 (TF32 ≤ 1e-3; f64 has no TF32 and must refuse it), odd sizes, tile edges and
//! non-contiguous views. Before each op the device's
//! memory pool is filled with NaN and released, so the op's fresh output very likely reuses
//! poisoned memory and an element a kernel fails to write shows up as NaN.
//!
//! These tests need a GPU; without one each prints that it was skipped and passes.
#![cfg(feature = "cuda")]

use unravel_tensor::{DType, Device, Float, Rng, Tensor, TensorError};

#[macro_use]
mod cuda_common;
use cuda_common::{assert_close, num, on, poison, random, standard, tolerance};

gpu_tests!(
    copies_round_trip_including_views,
    binary_ops_broadcast_and_views,
    unary_ops,
    sums_over_axes,
    matmul_exact_and_tf32,
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
    // The dispatching op: one shape (the fused kernel, which keeps a NaN sum as relu does) and
    // a broadcast operand (the unfused kernels).
    let mut with_nan = a.to_vec();
    with_nan[7] = num(f64::NAN);
    let with_nan = Tensor::from_vec(with_nan, a.shape()).unwrap();
    poison::<E>();
    let fused = on(device, &with_nan).add_relu(&on(device, &b)).unwrap();
    assert!(fused.to_vec()[7].is_nan(), "add_relu must keep a NaN sum");
    assert_close(
        "Tensor::add_relu",
        &fused,
        &with_nan.add_relu(&b).unwrap(),
        0.0,
    );
    let row = random::<E>(&[129], &mut rng);
    poison::<E>();
    assert_close(
        "Tensor::add_relu broadcast",
        &on(device, &a).add_relu(&on(device, &row)).unwrap(),
        &a.add_relu(&row).unwrap(),
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
