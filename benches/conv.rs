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
use unravel::workloads::{ConvLayer, CONV_LAYERS};
use unravel::{Rng, Tensor};

/// One layer's tensors: input `[N, C_in, H, W]`, weight, grad of the output, params, FLOPs.
struct Setup {
    x: Tensor<f32>,
    w: Tensor<f32>,
    dy: Tensor<f32>,
    params: Conv2dParams,
    kernel: usize,
    flops: u64,
}

fn setup(layer: &ConvLayer) -> Setup {
    let mut rng = Rng::seed_from(0);
    let (batch, size, k) = (layer.batch, layer.size, layer.kernel);
    let x = Tensor::randn(&[batch, layer.in_channels, size, size], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(
        &[layer.out_channels, layer.in_channels, k, k],
        0.0,
        1.0,
        &mut rng,
    );
    let params = layer.params();
    let out = layer.output_size();
    let dy = Tensor::randn(&[batch, layer.out_channels, out, out], 0.0, 1.0, &mut rng);
    Setup {
        x,
        w,
        dy,
        params,
        kernel: k,
        flops: layer.forward_flops(),
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
    for layer in &CONV_LAYERS {
        let s = setup(layer);
        group.throughput(Throughput::Elements(s.flops));
        group.bench_function(BenchmarkId::from_parameter(layer.name), |b| {
            b.iter(|| conv2d(&s.x, &s.w, None, &s.params).unwrap())
        });
    }
    group.finish();
}

fn forward_vs_direct(c: &mut Criterion) {
    // The seven-loop reference is slow: a CIFAR layer at batch 4 only.
    let mut group = configure(c, "conv2d_forward_vs_direct");
    let s = setup(&ConvLayer::new("cifar_3x3_16_b4", 16, 16, 3, 1, 1, 32, 4));
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
    for layer in &CONV_LAYERS {
        let s = setup(layer);
        let columns = im2col(&s.x, [s.kernel; 2], &s.params).unwrap();
        group.throughput(Throughput::Bytes((columns.numel() * 4) as u64));
        group.bench_function(BenchmarkId::from_parameter(layer.name), |b| {
            b.iter(|| im2col(&s.x, [s.kernel; 2], &s.params).unwrap())
        });
    }
    group.finish();
}

fn backward(c: &mut Criterion) {
    let mut group = configure(c, "conv2d_backward_input");
    for layer in &CONV_LAYERS {
        let s = setup(layer);
        group.throughput(Throughput::Elements(s.flops));
        group.bench_function(BenchmarkId::from_parameter(layer.name), |b| {
            b.iter(|| conv2d_backward_input(&s.dy, &s.w, s.x.shape(), &s.params).unwrap())
        });
    }
    group.finish();
    let mut group = configure(c, "conv2d_backward_weight");
    for layer in &CONV_LAYERS {
        let s = setup(layer);
        group.throughput(Throughput::Elements(s.flops));
        group.bench_function(BenchmarkId::from_parameter(layer.name), |b| {
            b.iter(|| conv2d_backward_weight(&s.dy, &s.x, s.w.shape(), &s.params).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, forward, forward_vs_direct, im2col_alone, backward);
criterion_main!(benches);
