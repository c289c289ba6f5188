//! GPU benchmarks for `scripts/gpu-check.sh`: GEMM GFLOP/s (f32 and TF32) at n = 512…4096 and
//! the convolution layers of `../shared/bench/README.md` (forward, and forward + backward for
//! input and weight). One JSON object per line on stdout; `scripts/gpu_table.py` joins them
//! with PyTorch's figures from the same run.
//!
//! Build: `cargo build -p unravel-tensor --release --features cuda --example cuda_bench`.

use std::time::Instant;

use unravel_tensor::ops::conv::{
    conv2d, conv2d_backward_input, conv2d_backward_weight, Conv2dParams,
};
use unravel_tensor::{Device, Rng, Tensor, TensorError};

/// Seconds per call of `f`, the median of `repeats` timed calls after two warm-up calls; each
/// call is followed by a device synchronisation so the time covers the kernels.
fn time<F: FnMut() -> Result<(), TensorError>>(
    repeats: usize,
    mut f: F,
) -> Result<f64, TensorError> {
    let device = unravel_tensor::cuda::device(0)?;
    for _ in 0..2 {
        f()?;
    }
    device.synchronize("bench")?;
    let mut samples = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let start = Instant::now();
        f()?;
        device.synchronize("bench")?;
        samples.push(start.elapsed().as_secs_f64());
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

/// (name, C_in, C_out, kernel, stride, padding, H = W, batch), from ../shared/bench/README.md.
type ConvLayer = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

fn main() -> Result<(), TensorError> {
    let device = Device::cuda(0)?;
    let mut rng = Rng::seed_from(0);
    for n in [512usize, 1024, 2048, 4096] {
        let a = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng).to_device(device)?;
        let b = Tensor::<f32>::randn(&[n, n], 0.0, 1.0, &mut rng).to_device(device)?;
        let flops = 2.0 * (n * n * n) as f64;
        let f32_time = time(10, || a.matmul(&b).map(|_| ()))?;
        let tf32_time = time(10, || a.matmul_tf32(&b).map(|_| ()))?;
        println!(
            "{{\"kind\":\"gemm\",\"n\":{n},\"f32_gflops\":{:.1},\"tf32_gflops\":{:.1}}}",
            flops / f32_time / 1e9,
            flops / tf32_time / 1e9
        );
    }
    let layers: [ConvLayer; 8] = [
        ("stem7x7s2", 3, 64, 7, 2, 3, 224, 8),
        ("l1_3x3", 64, 64, 3, 1, 1, 56, 8),
        ("l1_1x1_up", 64, 256, 1, 1, 0, 56, 8),
        ("l2_3x3s2", 128, 128, 3, 2, 1, 56, 8),
        ("l3_3x3", 256, 256, 3, 1, 1, 14, 8),
        ("l4_1x1_down", 2048, 512, 1, 1, 0, 7, 8),
        ("cifar_3x3_16", 16, 16, 3, 1, 1, 32, 128),
        ("cifar_3x3_64", 64, 64, 3, 1, 1, 8, 128),
    ];
    for (name, c_in, c_out, k, stride, padding, size, batch) in layers {
        let params = Conv2dParams::square(stride, padding, 1, 1);
        let x_shape = [batch, c_in, size, size];
        let w_shape = [c_out, c_in, k, k];
        let x = Tensor::<f32>::randn(&x_shape, 0.0, 1.0, &mut rng).to_device(device)?;
        let w = Tensor::<f32>::randn(&w_shape, 0.0, 0.1, &mut rng).to_device(device)?;
        let y = conv2d(&x, &w, None, &params)?;
        let dy = Tensor::<f32>::randn(y.shape(), 0.0, 1.0, &mut rng).to_device(device)?;
        let out = y.shape()[2] * y.shape()[3];
        let flops = 2.0 * (batch * c_out * out * c_in * k * k) as f64;
        let forward = time(10, || conv2d(&x, &w, None, &params).map(|_| ()))?;
        let training = time(5, || {
            conv2d(&x, &w, None, &params)?;
            conv2d_backward_input(&dy, &w, &x_shape, &params)?;
            conv2d_backward_weight(&dy, &x, &w_shape, &params)?;
            Ok(())
        })?;
        println!(
            "{{\"kind\":\"conv\",\"name\":\"{name}\",\"forward_gflops\":{:.1},\"training_gflops\":{:.1}}}",
            flops / forward / 1e9,
            3.0 * flops / training / 1e9
        );
    }
    Ok(())
}
