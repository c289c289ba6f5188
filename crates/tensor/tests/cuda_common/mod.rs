//! Helpers shared by the CUDA op tests (`cuda_ops.rs`, `cuda_training_ops.rs`): the GPU or a
//! printed skip, one test per element type ([`gpu_tests!`]), pool poisoning, uploads, and the
//! GPU-against-CPU comparison with per-dtype tolerances.
#![allow(dead_code)]

use unravel_tensor::cuda::ops::elementwise::full;
use unravel_tensor::{Device, Float, Rng, Tensor};

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

/// For each generic test `fn name<E: Float>(device: Device)` of the including file, defines
/// `#[test] in_f32::name` and `in_f64::name`, which run it on GPU 0 with `E = f32` / `f64`, or
/// print that they were skipped when there is no GPU. (`cargo test in_f64::` runs the f64 half.)
macro_rules! gpu_tests {
    ($($test:ident),* $(,)?) => {
        mod in_f32 {
            $(
                #[test]
                fn $test() {
                    let name = concat!("in_f32::", stringify!($test));
                    if let Some(device) = crate::cuda_common::gpu(name) {
                        super::$test::<f32>(device);
                    }
                }
            )*
        }
        mod in_f64 {
            $(
                #[test]
                fn $test() {
                    let name = concat!("in_f64::", stringify!($test));
                    if let Some(device) = crate::cuda_common::gpu(name) {
                        super::$test::<f64>(device);
                    }
                }
            )*
        }
    };
}

/// Fills 64 MiB of the pool with NaN (of `E`) and frees it, so the next allocations reuse
/// poison.
pub fn poison<E: Float>() {
    let elements = (64 << 20) / E::DTYPE.size_in_bytes();
    let _ = full::<E>(&[elements], E::from_f64(f64::NAN), 0);
}

pub fn random<E: Float>(shape: &[usize], rng: &mut Rng) -> Tensor<E> {
    Tensor::randn(shape, 0.0, 1.0, rng)
}

pub fn on<E: Float>(device: Device, x: &Tensor<E>) -> Tensor<E> {
    x.to_device(device).expect("upload")
}

/// `value` in the element type (test constants are written as f64).
pub fn num<E: Float>(value: f64) -> E {
    E::from_f64(value)
}

/// A host tensor of `E` from f64 values.
pub fn from_f64s<E: Float>(values: &[f64], shape: &[usize]) -> Tensor<E> {
    Tensor::from_vec(values.iter().map(|&v| E::from_f64(v)).collect(), shape).expect("shape")
}

/// max |gpu − cpu| / max(max |cpu|, 1e-300) ≤ tolerance, shapes equal, result on the GPU, no
/// NaN the CPU does not have.
#[track_caller]
pub fn assert_close<E: Float>(what: &str, gpu: &Tensor<E>, cpu: &Tensor<E>, tolerance: f64) {
    let dtype = E::DTYPE;
    assert_eq!(gpu.shape(), cpu.shape(), "{what} ({dtype}): shapes");
    assert!(
        matches!(gpu.device(), Device::Cuda(_)),
        "{what} ({dtype}): result left the GPU"
    );
    let (g, c) = (gpu.try_to_vec().expect("download"), cpu.to_vec());
    let scale = c
        .iter()
        .fold(0f64, |m, v| m.max(v.to_f64().abs()))
        .max(1e-300);
    let mut worst = 0f64;
    for (i, (a, b)) in g.iter().zip(&c).enumerate() {
        assert!(
            !a.is_nan() || b.is_nan(),
            "{what} ({dtype}): element {i} is NaN (unwritten?), CPU has {b}"
        );
        worst = worst.max((a.to_f64() - b.to_f64()).abs() / scale);
    }
    assert!(
        worst <= tolerance,
        "{what} ({dtype}): relative error {worst:e} > {tolerance:e}"
    );
}

/// `f32` or `f64`, whichever matches `E`.
pub fn tolerance<E: Float>(f32: f64, f64: f64) -> f64 {
    match E::DTYPE {
        unravel_tensor::DType::F32 => f32,
        unravel_tensor::DType::F64 => f64,
    }
}

/// The standard tolerance (max-norm relative error): 1e-5 for f32, 1e-12 for f64 — a few
/// hundred units in the last place of a result, for summation orders that differ from the CPU's.
pub fn standard<E: Float>() -> f64 {
    tolerance::<E>(1e-5, 1e-12)
}

/// For results that subtract nearly equal sums (the batch-norm and softmax backward passes):
/// 1e-4 for f32, 1e-11 for f64.
pub fn cancelling<E: Float>() -> f64 {
    tolerance::<E>(1e-4, 1e-11)
}
