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
use unravel::{Float, Rng};

/// A convolution layer of `../shared/bench/README.md` (square input and kernel).
struct ConvLayer {
    name: &'static str,
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
    /// Input height = width.
    size: usize,
    batch: usize,
}

impl ConvLayer {
    #[allow(clippy::too_many_arguments)]
    const fn new(
        name: &'static str,
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        size: usize,
        batch: usize,
    ) -> Self {
        ConvLayer {
            name,
            c_in,
            c_out,
            kernel,
            stride,
            padding,
            size,
            batch,
        }
    }

    /// Forward conv as one im2col GEMM over the whole batch:
    /// `out [C_out, N·oh·ow] = W [C_out, C_in·k·k] · cols [C_in·k·k, N·oh·ow]`, so
    /// `(m, n, k) = (C_out, N·oh·ow, C_in·k²)`.
    fn gemm_shape(&self) -> (usize, usize, usize) {
        let out = (self.size + 2 * self.padding - self.kernel) / self.stride + 1;
        (
            self.c_out,
            self.batch * out * out,
            self.c_in * self.kernel * self.kernel,
        )
    }
}

/// The conv layers of `../shared/bench/README.md`.
const CONV_LAYERS: [ConvLayer; 8] = [
    ConvLayer::new("stem7x7s2", 3, 64, 7, 2, 3, 224, 8),
    ConvLayer::new("l1_3x3", 64, 64, 3, 1, 1, 56, 8),
    ConvLayer::new("l1_1x1_up", 64, 256, 1, 1, 0, 56, 8),
    ConvLayer::new("l2_3x3s2", 128, 128, 3, 2, 1, 56, 8),
    ConvLayer::new("l3_3x3", 256, 256, 3, 1, 1, 14, 8),
    ConvLayer::new("l4_1x1_down", 2048, 512, 1, 1, 0, 7, 8),
    ConvLayer::new("cifar_3x3_16", 16, 16, 3, 1, 1, 32, 128),
    ConvLayer::new("cifar_3x3_64", 64, 64, 3, 1, 1, 8, 128),
];

/// matrixmultiply's GEMM per element type (dense row-major operands).
trait Baseline: Float {
    fn matrixmultiply(a: &[Self], b: &[Self], c: &mut [Self], m: usize, n: usize, k: usize);
}

impl Baseline for f32 {
    fn matrixmultiply(a: &[f32], b: &[f32], c: &mut [f32], m: usize, n: usize, k: usize) {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        // SAFETY: dense row-major buffers of at least m·k, k·n, m·n elements (checked above).
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        }
    }
}

impl Baseline for f64 {
    fn matrixmultiply(a: &[f64], b: &[f64], c: &mut [f64], m: usize, n: usize, k: usize) {
        assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
        // SAFETY: as for f32.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            )
        }
    }
}

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
fn compare<E: Baseline>(
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
        bencher.iter(|| E::matrixmultiply(&a, &b, &mut out, m, n, k))
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

/// The im2col GEMM shapes of the conv layers (see [`ConvLayer::gemm_shape`]).
fn conv_shapes(c: &mut Criterion) {
    for layer in &CONV_LAYERS {
        compare::<f32>(c, "gemm_conv_f32", layer.name, layer.gemm_shape(), false);
    }
}

criterion_group!(benches, square, conv_shapes);
criterion_main!(benches);
