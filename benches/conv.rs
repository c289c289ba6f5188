//! criterion benchmarks of conv2d on the layer table of `../shared/bench/README.md`: forward
//! (im2col + GEMM), im2col alone, backward input and backward weight, and the direct seven-loop
//! reference on a small layer for scale.
//!
//! Throughput is `Throughput::Elements(flops)` with FLOPs = 2·N·C_out·oh·ow·C_in·kh·kw, so the
//! "elements/s" criterion prints read as FLOP/s (the backward kernels each do as many FLOPs as
//! the forward). im2col reports bytes of columns written per second.
//!
//! Run: `cargo bench --bench conv` (filter with e.g. `-- l1_3x3`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use unravel::tensor::ops::conv::{
    conv2d, conv2d_backward_input, conv2d_backward_weight, im2col, reference, Conv2dParams,
};
use unravel::{Rng, Tensor};

/// (name, C_in, C_out, kernel, stride, padding, H = W, batch).
type Layer = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// The layer table of `../shared/bench/README.md`.
const LAYERS: [Layer; 8] = [
    ("stem7x7s2", 3, 64, 7, 2, 3, 224, 8),
    ("l1_3x3", 64, 64, 3, 1, 1, 56, 8),
    ("l1_1x1_up", 64, 256, 1, 1, 0, 56, 8),
    ("l2_3x3s2", 128, 128, 3, 2, 1, 56, 8),
    ("l3_3x3", 256, 256, 3, 1, 1, 14, 8),
    ("l4_1x1_down", 2048, 512, 1, 1, 0, 7, 8),
    ("cifar_3x3_16", 16, 16, 3, 1, 1, 32, 128),
    ("cifar_3x3_64", 64, 64, 3, 1, 1, 8, 128),
];

/// One layer's tensors: input `[N, C_in, H, W]`, weight, grad of the output, params, FLOPs.
struct Setup {
    x: Tensor<f32>,
    w: Tensor<f32>,
    dy: Tensor<f32>,
    params: Conv2dParams,
    kernel: usize,
    flops: u64,
}

fn setup(layer: Layer) -> Setup {
    let (_, c_in, c_out, k, stride, padding, size, batch) = layer;
    let mut rng = Rng::seed_from(0);
    let x = Tensor::randn(&[batch, c_in, size, size], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&[c_out, c_in, k, k], 0.0, 1.0, &mut rng);
    let params = Conv2dParams::square(stride, padding, 1, 1);
    let out = (size + 2 * padding - k) / stride + 1;
    let dy = Tensor::randn(&[batch, c_out, out, out], 0.0, 1.0, &mut rng);
    let flops = 2 * (batch * c_out * out * out * c_in * k * k) as u64;
    Setup {
        x,
        w,
        dy,
        params,
        kernel: k,
        flops,
    }
}

fn configure<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    group
}

fn forward(c: &mut Criterion) {
    let mut group = configure(c, "conv2d_forward");
    for layer in LAYERS {
        let s = setup(layer);
        group.throughput(Throughput::Elements(s.flops));
        group.bench_function(BenchmarkId::from_parameter(layer.0), |b| {
            b.iter(|| conv2d(&s.x, &s.w, None, &s.params).unwrap())
        });
    }
    group.finish();
}

fn forward_vs_direct(c: &mut Criterion) {
    // The seven-loop reference is slow: a CIFAR layer at batch 4 only.
    let mut group = configure(c, "conv2d_forward_vs_direct");
    let s = setup(("cifar_3x3_16_b4", 16, 16, 3, 1, 1, 32, 4));
    group.throughput(Throughput::Elements(s.flops));
    group.bench_function("im2col_gemm", |b| {
        b.iter(|| conv2d(&s.x, &s.w, None, &s.params).unwrap())
    });
    group.bench_function("direct", |b| {
        b.iter(|| reference::conv2d_direct(&s.x, &s.w, None, &s.params).unwrap())
    });
    group.finish();
}

fn im2col_alone(c: &mut Criterion) {
    let mut group = configure(c, "im2col");
    for layer in LAYERS {
        let s = setup(layer);
        let columns = im2col(&s.x, [s.kernel; 2], &s.params).unwrap();
        group.throughput(Throughput::Bytes((columns.numel() * 4) as u64));
        group.bench_function(BenchmarkId::from_parameter(layer.0), |b| {
            b.iter(|| im2col(&s.x, [s.kernel; 2], &s.params).unwrap())
        });
    }
    group.finish();
}

fn backward(c: &mut Criterion) {
    let mut group = configure(c, "conv2d_backward_input");
    for layer in LAYERS {
        let s = setup(layer);
        group.throughput(Throughput::Elements(s.flops));
        group.bench_function(BenchmarkId::from_parameter(layer.0), |b| {
            b.iter(|| conv2d_backward_input(&s.dy, &s.w, s.x.shape(), &s.params).unwrap())
        });
    }
    group.finish();
    let mut group = configure(c, "conv2d_backward_weight");
    for layer in LAYERS {
        let s = setup(layer);
        group.throughput(Throughput::Elements(s.flops));
        group.bench_function(BenchmarkId::from_parameter(layer.0), |b| {
            b.iter(|| conv2d_backward_weight(&s.dy, &s.x, s.w.shape(), &s.params).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, forward, forward_vs_direct, im2col_alone, backward);
criterion_main!(benches);
