//! Helpers shared by the CUDA op tests (`cuda_ops.rs`, `cuda_training_ops.rs`): the GPU or a
//! printed skip, pool poisoning, uploads, and the GPU-against-CPU comparison.
#![allow(dead_code)]

use unravel_tensor::cuda::ops::elementwise::full;
use unravel_tensor::{Device, Rng, Tensor};

/// The GPU, or `None` after printing why the test is skipped.
pub fn gpu(test: &str) -> Option<Device> {
    match Device::cuda(0) {
        Ok(device) => Some(device),
        Err(error) => {
            eprintln!("{test}: skipped (no GPU: {error})");
            None
        }
    }
}

/// Fills 64 MiB of the pool with NaN and frees it, so the next allocations reuse poison.
pub fn poison() {
    let _ = full::<f32>(&[16 << 20], f32::NAN, 0);
}

pub fn random(shape: &[usize], rng: &mut Rng) -> Tensor<f32> {
    Tensor::randn(shape, 0.0, 1.0, rng)
}

pub fn on(device: Device, x: &Tensor<f32>) -> Tensor<f32> {
    x.to_device(device).expect("upload")
}

/// max |gpu − cpu| / max(max |cpu|, 1e-30) ≤ tolerance, shapes equal, result on the GPU, no
/// NaN the CPU does not have.
#[track_caller]
pub fn assert_close(what: &str, gpu: &Tensor<f32>, cpu: &Tensor<f32>, tolerance: f64) {
    assert_eq!(gpu.shape(), cpu.shape(), "{what}: shapes");
    assert!(
        matches!(gpu.device(), Device::Cuda(_)),
        "{what}: result left the GPU"
    );
    let (g, c) = (gpu.try_to_vec().expect("download"), cpu.to_vec());
    let scale = c.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    let mut worst = 0f64;
    for (i, (a, b)) in g.iter().zip(&c).enumerate() {
        assert!(
            !a.is_nan() || b.is_nan(),
            "{what}: element {i} is NaN (unwritten?), CPU has {b}"
        );
        worst = worst.max((*a as f64 - *b as f64).abs() / scale);
    }
    assert!(
        worst <= tolerance,
        "{what}: relative error {worst:e} > {tolerance:e}"
    );
}

/// The f32 tolerance (max-norm relative error).
pub const F32: f64 = 1e-5;
