//! criterion benchmarks of the GEMM: unravel vs matrixmultiply (and a naive triple loop at a
//! small size) on square sizes, f32 and f64, and on the im2col GEMM shapes of the conv layers of
//! `../shared/bench/README.md`.
//!
//! Throughput is set to `Elements(2·m·n·k)`: one "element" is one floating-point operation, so
//! criterion's "elem/s" reads as FLOP/s (e.g. "150 Gelem/s" = 150 GFLOP/s).
//!
//! Run: `cargo bench --bench gemm` (or `-- square_f32` for one group). Threads: rayon's default
//! pool (all cores); matrixmultiply uses MATMUL_NUM_THREADS (default: physical cores).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use unravel::tensor::gemm::{gemm, reference::gemm_reference, MatMut, MatRef};
use unravel::workloads::{MatrixmultiplyBaseline, CONV_LAYERS};
use unravel::{Float, Rng};

fn operands<E: Float>(m: usize, n: usize, k: usize) -> (Vec<E>, Vec<E>, Vec<E>) {
    let mut rng = Rng::seed_from(0);
    let mut fill = |len: usize| {
        (0..len)
            .map(|_| E::from_f64(rng.normal()))
            .collect::<Vec<E>>()
    };
    (fill(m * k), fill(k * n), vec![E::ZERO; m * n])
}

/// Benchmarks unravel and matrixmultiply (and the naive loop if `naive`) on `C [m×n] = A [m×k] · B [k×n]`.
fn compare<E: MatrixmultiplyBaseline>(
    c: &mut Criterion,
    group_name: &str,
    label: &str,
    (m, n, k): (usize, usize, usize),
    naive: bool,
) {
    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    // One element = one FLOP: elem/s reads as FLOP/s.
    group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
    let (a, b, mut out) = operands::<E>(m, n, k);
    group.bench_function(BenchmarkId::new("unravel", label), |bencher| {
        bencher.iter(|| {
            // C [m × n] ← A [m × k] · B [k × n]
            gemm(
                E::ONE,
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                E::ZERO,
                MatMut::row_major(&mut out, m, n).unwrap(),
            )
            .unwrap()
        })
    });
    group.bench_function(BenchmarkId::new("matrixmultiply", label), |bencher| {
        bencher.iter(|| E::matrixmultiply(&a, &b, &mut out, m, n, k).unwrap())
    });
    if naive {
        group.bench_function(BenchmarkId::new("naive", label), |bencher| {
            bencher.iter(|| {
                gemm_reference(
                    E::ONE,
                    MatRef::row_major(&a, m, k).unwrap(),
                    MatRef::row_major(&b, k, n).unwrap(),
                    E::ZERO,
                    MatMut::row_major(&mut out, m, n).unwrap(),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn square(c: &mut Criterion) {
    compare::<f32>(c, "gemm_square_f32", "128", (128, 128, 128), true);
    compare::<f64>(c, "gemm_square_f64", "128", (128, 128, 128), true);
    for size in [512, 1024, 2048] {
        compare::<f32>(
            c,
            "gemm_square_f32",
            &size.to_string(),
            (size, size, size),
            false,
        );
        compare::<f64>(
            c,
            "gemm_square_f64",
            &size.to_string(),
            (size, size, size),
            false,
        );
    }
}

/// The im2col GEMM shapes of the conv layers (see `unravel::workloads::ConvLayer::gemm_shape`).
fn conv_shapes(c: &mut Criterion) {
    for layer in &CONV_LAYERS {
        compare::<f32>(c, "gemm_conv_f32", layer.name, layer.gemm_shape(), false);
    }
}

criterion_group!(benches, square, conv_shapes);
criterion_main!(benches);
