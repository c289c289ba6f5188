//! Batch norm fused with ReLU on the GPU (the `relu` flag of `kernels/batch_norm.cu`'s forward
//! and training-mode backward kernels) against the CPU, in f32 and f64: forward in train and
//! eval mode, and both backwards, with odd sizes and views as inputs. The CPU backward is given
//! the GPU's output as its mask, so an output the two devices round to opposite sides of 0
//! cannot flip a gradient. The GPU's fused output also equals its own batch norm then ReLU.
//! Max-norm relative error ≤ 1e-5 for f32, ≤ 1e-12 for f64 (the training-mode dx, which
//! cancels: ≤ 1e-4 and ≤ 1e-11).
//!
//! These tests need a GPU; without one each prints that it was skipped and passes.
#![cfg(feature = "cuda")]

use unravel_tensor::ops::batch_norm::{
    batch_norm_eval, batch_norm_eval_relu, batch_norm_eval_relu_backward, batch_norm_train,
    batch_norm_train_relu, batch_norm_train_relu_backward,
};
use unravel_tensor::{Device, Float, Rng, Tensor};

#[macro_use]
mod cuda_common;
use cuda_common::{assert_close, cancelling, num, on, poison, random, standard};

gpu_tests!(batch_norm_relu_forward_and_backward);

fn cpu<E: Float>(x: &Tensor<E>) -> Tensor<E> {
    x.to_device(Device::Cpu).expect("download")
}

fn batch_norm_relu_forward_and_backward<E: Float>(device: Device) {
    let mut rng = Rng::seed_from(27);
    for shape in [vec![4, 3, 5, 7], vec![2, 17, 1, 3], vec![33, 6]] {
        let c = shape[1];
        // A permuted view: the wrappers must make it dense first.
        let mut stored = shape.clone();
        stored.reverse();
        let axes: Vec<usize> = (0..shape.len()).rev().collect();
        let x = random::<E>(&stored, &mut rng).permute(&axes).unwrap();
        let dy = random::<E>(&shape, &mut rng);
        let gamma = random::<E>(&[c], &mut rng);
        let beta = random::<E>(&[c], &mut rng);
        let (gx, gdy, ggamma, gbeta) = (
            on(device, &x),
            on(device, &dy),
            on(device, &gamma),
            on(device, &beta),
        );
        poison::<E>();
        let expected = batch_norm_train_relu(&x, Some(&gamma), Some(&beta), 1e-5).unwrap();
        let got = batch_norm_train_relu(&gx, Some(&ggamma), Some(&gbeta), 1e-5).unwrap();
        assert_close("train", &got.output, &expected.output, standard::<E>());
        let unfused = batch_norm_train(&gx, Some(&ggamma), Some(&gbeta), 1e-5).unwrap();
        let relu = unfused.output.relu().unwrap();
        assert_close("train vs unfused", &got.output, &cpu(&relu), 0.0);

        let mask = cpu(&got.output);
        let (mean, inverse_std) = (cpu(&got.mean), cpu(&got.inverse_std));
        let expected =
            batch_norm_train_relu_backward(&dy, &mask, &x, Some(&gamma), &mean, &inverse_std)
                .unwrap();
        poison::<E>();
        let grads = batch_norm_train_relu_backward(
            &gdy,
            &got.output,
            &gx,
            Some(&ggamma),
            &got.mean,
            &got.inverse_std,
        )
        .unwrap();
        assert_close(
            "train dx",
            &grads.grad_input,
            &expected.grad_input,
            cancelling::<E>(),
        );
        assert_close(
            "train dγ",
            &grads.grad_weight,
            &expected.grad_weight,
            standard::<E>(),
        );
        assert_close(
            "train dβ",
            &grads.grad_bias,
            &expected.grad_bias,
            standard::<E>(),
        );

        let mean = random::<E>(&[c], &mut rng);
        let var = random::<E>(&[c], &mut rng)
            .abs()
            .unwrap()
            .add_scalar(num(0.5))
            .unwrap();
        let (gmean, gvar) = (on(device, &mean), on(device, &var));
        poison::<E>();
        let got =
            batch_norm_eval_relu(&gx, &gmean, &gvar, Some(&ggamma), Some(&gbeta), 1e-5).unwrap();
        let expected =
            batch_norm_eval_relu(&x, &mean, &var, Some(&gamma), Some(&beta), 1e-5).unwrap();
        assert_close("eval", &got, &expected, standard::<E>());
        let unfused = batch_norm_eval(&gx, &gmean, &gvar, Some(&ggamma), Some(&gbeta), 1e-5)
            .unwrap()
            .relu()
            .unwrap();
        assert_close("eval vs unfused", &got, &cpu(&unfused), 0.0);
        let mask = cpu(&got);
        let expected =
            batch_norm_eval_relu_backward(&dy, &mask, &x, &mean, &var, Some(&gamma), 1e-5).unwrap();
        let grads =
            batch_norm_eval_relu_backward(&gdy, &got, &gx, &gmean, &gvar, Some(&ggamma), 1e-5)
                .unwrap();
        assert_close(
            "eval dx",
            &grads.grad_input,
            &expected.grad_input,
            standard::<E>(),
        );
        assert_close(
            "eval dγ",
            &grads.grad_weight,
            &expected.grad_weight,
            standard::<E>(),
        );
        assert_close(
            "eval dβ",
            &grads.grad_bias,
            &expected.grad_bias,
            standard::<E>(),
        );
    }
}
