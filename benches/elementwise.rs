//! criterion benchmarks: elementwise ops and the batch-norm reduction, unravel against a naive
//! scalar loop over the same `Vec<f32>` (what a user would write by hand).
//!
//! Throughput is bytes read + written, so the figures compare with memory bandwidth.
//! Run: `cargo bench --bench elementwise` (add `-- <filter>` to pick one group).

// The baselines are deliberately the index loops a newcomer writes.
#![allow(clippy::needless_range_loop)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use unravel_tensor::{Rng, Tensor};

/// Activation shapes: one that fits in L2 (64 Ki elements) and a ResNet-sized one (2 Mi).
const SHAPES: &[[usize; 4]] = &[[4, 16, 32, 32], [32, 64, 32, 32]];
const F32_BYTES: u64 = 4;

fn label(shape: &[usize; 4]) -> String {
    format!("{}x{}x{}x{}", shape[0], shape[1], shape[2], shape[3])
}

fn configure<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    group
}

fn add(c: &mut Criterion) {
    let mut group = configure(c, "add");
    for shape in SHAPES {
        let mut rng = Rng::seed_from(1);
        let a = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut rng);
        let b = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut rng);
        let n = a.numel();
        group.throughput(Throughput::Bytes(3 * n as u64 * F32_BYTES));
        group.bench_function(BenchmarkId::new("unravel", label(shape)), |bench| {
            bench.iter(|| black_box(a.add(&b).unwrap()))
        });
        let (av, bv) = (a.to_vec(), b.to_vec());
        group.bench_function(BenchmarkId::new("naive", label(shape)), |bench| {
            bench.iter(|| {
                let mut out = vec![0.0f32; n];
                for i in 0..n {
                    out[i] = av[i] + bv[i];
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

/// The residual join: the fused one-pass `add_relu` against `add` then `relu` (two passes and
/// an intermediate), and the naive loop. Throughput counts the fused op's traffic (2 reads, 1
/// write) for all three.
fn add_relu(c: &mut Criterion) {
    let mut group = configure(c, "add_relu");
    for shape in SHAPES {
        let mut rng = Rng::seed_from(5);
        let a = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut rng);
        let b = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut rng);
        let n = a.numel();
        group.throughput(Throughput::Bytes(3 * n as u64 * F32_BYTES));
        group.bench_function(BenchmarkId::new("fused", label(shape)), |bench| {
            bench.iter(|| black_box(a.add_relu(&b).unwrap()))
        });
        group.bench_function(BenchmarkId::new("add_then_relu", label(shape)), |bench| {
            bench.iter(|| black_box(a.add(&b).unwrap().relu().unwrap()))
        });
        let (av, bv) = (a.to_vec(), b.to_vec());
        group.bench_function(BenchmarkId::new("naive", label(shape)), |bench| {
            bench.iter(|| {
                let mut out = vec![0.0f32; n];
                for i in 0..n {
                    out[i] = (av[i] + bv[i]).max(0.0);
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

fn broadcast_add(c: &mut Criterion) {
    let mut group = configure(c, "broadcast_add_channel");
    for shape in SHAPES {
        let [n, channels, h, w] = *shape;
        let mut rng = Rng::seed_from(2);
        let x = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut rng);
        let bias = Tensor::<f32>::randn(&[1, channels, 1, 1], 0.0, 1.0, &mut rng);
        let numel = x.numel();
        group.throughput(Throughput::Bytes((2 * numel + channels) as u64 * F32_BYTES));
        group.bench_function(BenchmarkId::new("unravel", label(shape)), |bench| {
            bench.iter(|| black_box(x.add(&bias).unwrap()))
        });
        let (xv, bv) = (x.to_vec(), bias.to_vec());
        group.bench_function(BenchmarkId::new("naive", label(shape)), |bench| {
            bench.iter(|| {
                let mut out = vec![0.0f32; numel];
                for i in 0..n {
                    for c in 0..channels {
                        for y in 0..h {
                            for z in 0..w {
                                let index = ((i * channels + c) * h + y) * w + z;
                                out[index] = xv[index] + bv[c];
                            }
                        }
                    }
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

/// One unary op, unravel against the same scalar function in a plain loop (generic, so the
/// naive loop gets the closure inlined and is autovectorised where the compiler can).
fn bench_unary(
    c: &mut Criterion,
    name: &str,
    positive_inputs: bool,
    fast: impl Fn(&Tensor<f32>) -> Tensor<f32>,
    plain: impl Fn(f32) -> f32,
) {
    let mut group = configure(c, name);
    for shape in SHAPES {
        let mut x = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut Rng::seed_from(3));
        if positive_inputs {
            x = x.abs().unwrap();
        }
        let n = x.numel();
        group.throughput(Throughput::Bytes(2 * n as u64 * F32_BYTES));
        group.bench_function(BenchmarkId::new("unravel", label(shape)), |bench| {
            bench.iter(|| black_box(fast(&x)))
        });
        let xv = x.to_vec();
        group.bench_function(BenchmarkId::new("naive", label(shape)), |bench| {
            bench.iter(|| {
                let mut out = vec![0.0f32; n];
                for i in 0..n {
                    out[i] = plain(xv[i]);
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

fn unary(c: &mut Criterion) {
    bench_unary(
        c,
        "relu",
        false,
        |t| t.relu().unwrap(),
        |v| {
            if v < 0.0 {
                0.0
            } else {
                v
            }
        },
    );
    bench_unary(c, "exp", false, |t| t.exp().unwrap(), f32::exp);
    bench_unary(c, "log", true, |t| t.log().unwrap(), f32::ln);
}

fn channel_sum(c: &mut Criterion) {
    let mut group = configure(c, "sum_axes_0_2_3");
    for shape in SHAPES {
        let [n, channels, h, w] = *shape;
        let x = Tensor::<f32>::randn(shape, 0.0, 1.0, &mut Rng::seed_from(4));
        group.throughput(Throughput::Bytes((x.numel() + channels) as u64 * F32_BYTES));
        group.bench_function(BenchmarkId::new("unravel", label(shape)), |bench| {
            bench.iter(|| black_box(x.sum(&[0, 2, 3], false).unwrap()))
        });
        let xv = x.to_vec();
        group.bench_function(BenchmarkId::new("naive", label(shape)), |bench| {
            bench.iter(|| {
                let mut out = vec![0.0f32; channels];
                for i in 0..n {
                    for (c, total) in out.iter_mut().enumerate() {
                        let start = (i * channels + c) * h * w;
                        for &v in &xv[start..start + h * w] {
                            *total += v;
                        }
                    }
                }
                black_box(out)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, add, add_relu, broadcast_add, unary, channel_sum);
criterion_main!(benches);
