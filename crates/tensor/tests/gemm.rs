//! The packed GEMM against the triple-loop reference and matrixmultiply: every edge-tile case,
//! all transposes, strided C, α/β (β = 0 over NaN), f32 and f64, every kernel this CPU runs,
//! bit-identical results across thread counts, and the argument errors.

use unravel_tensor::gemm::{
    gemm, gemm_with_isa, reference::gemm_reference, GemmElement, Isa, MatMut, MatRef,
};
use unravel_tensor::{Float, Rng, TensorError};

/// How an operand is laid out in its buffer.
#[derive(Debug, Clone, Copy)]
enum Layout {
    RowMajor,
    /// Column-major: the transpose of a row-major buffer, as `MatRef::t` makes it.
    ColMajor,
    /// Both strides > 1 with padding: a stepped, narrowed view.
    Strided,
}

const LAYOUTS: [Layout; 3] = [Layout::RowMajor, Layout::ColMajor, Layout::Strided];

/// A `rows × cols` operand: buffer and strides, filled with U[-1, 1) (padding too, with NaN
/// in the gaps so a kernel that reads outside the view is caught).
struct Operand<E> {
    data: Vec<E>,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<E: Float> Operand<E> {
    fn new(rows: usize, cols: usize, layout: Layout, rng: &mut Rng) -> Self {
        let (row_stride, col_stride, len) = match layout {
            Layout::RowMajor => (cols, 1, rows * cols),
            Layout::ColMajor => (1, rows, rows * cols),
            Layout::Strided => (2 * cols + 3, 2, (2 * cols + 3) * rows + 1),
        };
        let mut data = vec![E::from_f64(f64::NAN); len.max(1)];
        for i in 0..rows {
            for j in 0..cols {
                data[i * row_stride + j * col_stride] = E::from_f64(rng.uniform(-1.0, 1.0));
            }
        }
        Operand {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        }
    }

    fn view(&self) -> MatRef<'_, E> {
        MatRef::new(
            &self.data,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
        )
        .unwrap()
    }

    fn view_mut(&mut self) -> MatMut<'_, E> {
        MatMut::new(
            &mut self.data,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
        )
        .unwrap()
    }

    fn get(&self, i: usize, j: usize) -> E {
        self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// Checks `got` against `α·A·B + β·C₀` computed in f64, with the error bound of a k-term
/// dot product: `|got − exact| ≤ (k + 2)·ε·(|α|·Σ|a||b| + |β·c₀|)` (plus a tiny absolute term).
fn check_close<E: Float>(
    what: &str,
    alpha: E,
    a: &Operand<E>,
    b: &Operand<E>,
    beta: E,
    c0: &Operand<E>,
    got: &Operand<E>,
) {
    let k = a.cols;
    for i in 0..a.rows {
        for j in 0..b.cols {
            let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
            for p in 0..k {
                let product = a.get(i, p).to_f64() * b.get(p, j).to_f64();
                exact += product;
                magnitude += product.abs();
            }
            let old = if beta == E::ZERO {
                0.0
            } else {
                beta.to_f64() * c0.get(i, j).to_f64()
            };
            let expected = alpha.to_f64() * exact + old;
            let bound = (k as f64 + 2.0)
                * E::EPSILON.to_f64()
                * (alpha.to_f64().abs() * magnitude + old.abs())
                + 1e-30;
            let value = got.get(i, j).to_f64();
            assert!(
                (value - expected).abs() <= bound,
                "{what}: C[{i}][{j}] = {value}, expected {expected} (bound {bound})"
            );
        }
    }
}

fn available_isas() -> Vec<Isa> {
    [Isa::Avx512, Isa::Avx2Fma, Isa::Portable]
        .into_iter()
        .filter(|isa| isa.is_available())
        .collect()
}

/// One case: every available kernel and the reference against the f64 truth.
#[allow(clippy::too_many_arguments)]
fn run_case<E: Float>(
    m: usize,
    n: usize,
    k: usize,
    layouts: (Layout, Layout, Layout),
    alpha: f64,
    beta: f64,
    rng: &mut Rng,
) {
    let (alpha, beta) = (E::from_f64(alpha), E::from_f64(beta));
    let a = Operand::<E>::new(m, k, layouts.0, rng);
    let b = Operand::<E>::new(k, n, layouts.1, rng);
    let mut c0 = Operand::<E>::new(m, n, layouts.2, rng);
    if beta == E::ZERO {
        // β = 0 must ignore C entirely, NaN included.
        for i in 0..m {
            for j in 0..n {
                let index = i * c0.row_stride + j * c0.col_stride;
                c0.data[index] = E::from_f64(f64::NAN);
            }
        }
    }
    let what = |name: &str| {
        format!(
            "{name} {} m={m} n={n} k={k} {layouts:?} α={alpha} β={beta}",
            E::DTYPE
        )
    };
    let mut c = Operand {
        data: c0.data.clone(),
        ..c0
    };
    gemm_reference(alpha, a.view(), b.view(), beta, c.view_mut()).unwrap();
    check_close(&what("reference"), alpha, &a, &b, beta, &c0, &c);
    for isa in available_isas() {
        let mut c = Operand {
            data: c0.data.clone(),
            ..c0
        };
        gemm_with_isa(isa, alpha, a.view(), b.view(), beta, c.view_mut()).unwrap();
        check_close(&what(&format!("{isa:?}")), alpha, &a, &b, beta, &c0, &c);
        // Padding around a strided C stays untouched.
        for (index, (&new, &old)) in c.data.iter().zip(&c0.data).enumerate() {
            let inside =
                (0..m).any(|i| (0..n).any(|j| i * c.row_stride + j * c.col_stride == index));
            if !inside {
                assert!(
                    new.to_f64().to_bits() == old.to_f64().to_bits(),
                    "{}: wrote outside C at {index}",
                    what(&format!("{isa:?}"))
                );
            }
        }
    }
    let mut c = Operand {
        data: c0.data.clone(),
        ..c0
    };
    gemm(alpha, a.view(), b.view(), beta, c.view_mut()).unwrap();
    check_close(&what("gemm"), alpha, &a, &b, beta, &c0, &c);
}

/// Sizes around every tile edge: 1, primes, MR ± 1 (4, 6, 14), NR ± 1 (4, 8, 16, 32).
const EDGE_SIZES: [usize; 14] = [1, 2, 3, 5, 7, 13, 14, 15, 16, 17, 31, 32, 33, 47];
/// Depths around KC = 384, and k = 0.
const DEPTHS: [usize; 7] = [0, 1, 2, 7, 193, 383, 385];

fn edge_grid<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    let mut case = 0usize;
    for &m in &EDGE_SIZES {
        for &n in &EDGE_SIZES {
            // Cycle depths, layouts and scalars through the (m, n) grid so every combination of
            // each pair appears without the full product.
            let k = DEPTHS[case % DEPTHS.len()];
            let layouts = (
                LAYOUTS[case % 3],
                LAYOUTS[(case / 3) % 3],
                LAYOUTS[(case / 9) % 3],
            );
            let (alpha, beta) = [(1.0, 0.0), (-0.5, 0.75), (2.0, 1.0), (1.0, 0.0)][case % 4];
            run_case::<E>(m, n, k, layouts, alpha, beta, &mut rng);
            case += 1;
        }
    }
}

#[test]
fn edge_tiles_f32() {
    edge_grid::<f32>(1);
}

#[test]
fn edge_tiles_f64() {
    edge_grid::<f64>(2);
}

#[test]
fn all_transposes_and_c_layouts() {
    let mut rng = Rng::seed_from(3);
    for a_layout in LAYOUTS {
        for b_layout in LAYOUTS {
            for c_layout in LAYOUTS {
                run_case::<f32>(
                    37,
                    45,
                    29,
                    (a_layout, b_layout, c_layout),
                    1.5,
                    0.0,
                    &mut rng,
                );
                run_case::<f64>(
                    29,
                    33,
                    41,
                    (a_layout, b_layout, c_layout),
                    -1.0,
                    0.5,
                    &mut rng,
                );
            }
        }
    }
}

#[test]
fn cache_block_edges() {
    // MC (336 f32 / 168 f64) ± 1 rows, KC (384) multiples ± 1, and a parallel-sized product.
    let mut rng = Rng::seed_from(4);
    let layouts = (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor);
    run_case::<f32>(337, 40, 385, layouts, 1.0, 0.0, &mut rng);
    run_case::<f32>(
        335,
        65,
        193,
        (Layout::ColMajor, Layout::Strided, Layout::RowMajor),
        1.0,
        2.0,
        &mut rng,
    );
    run_case::<f64>(169, 47, 769, layouts, 1.0, 0.0, &mut rng);
    run_case::<f64>(
        167,
        33,
        192,
        (Layout::RowMajor, Layout::ColMajor, Layout::ColMajor),
        0.5,
        1.0,
        &mut rng,
    );
    run_case::<f32>(130, 150, 200, layouts, 1.0, 0.5, &mut rng);
}

#[test]
fn nc_edge() {
    // NC = 4096 (f32) and 2048 (f64) columns ± 1, with a small depth to keep it quick.
    let mut rng = Rng::seed_from(5);
    let layouts = (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor);
    run_case::<f32>(3, 4097, 5, layouts, 1.0, 0.0, &mut rng);
    run_case::<f64>(5, 2049, 3, layouts, 1.0, 1.0, &mut rng);
    run_case::<f64>(2, 2047, 2, layouts, 1.0, 0.0, &mut rng);
}

#[test]
fn empty_matrices() {
    let mut rng = Rng::seed_from(6);
    for (m, n, k) in [(0, 5, 3), (4, 0, 3), (0, 0, 0), (3, 4, 0)] {
        run_case::<f32>(
            m,
            n,
            k,
            (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor),
            1.0,
            0.5,
            &mut rng,
        );
        run_case::<f64>(
            m,
            n,
            k,
            (Layout::RowMajor, Layout::ColMajor, Layout::Strided),
            1.0,
            0.0,
            &mut rng,
        );
    }
}

/// The same product, against matrixmultiply (which rounds differently: compare approximately).
fn matches_matrixmultiply<E: Float>(mm: impl Fn(&[E], &[E], &mut [E], usize, usize, usize)) {
    let mut rng = Rng::seed_from(7);
    for (m, n, k) in [(1, 1, 1), (17, 33, 15), (64, 48, 300), (129, 131, 137)] {
        let a = Operand::<E>::new(m, k, Layout::RowMajor, &mut rng);
        let b = Operand::<E>::new(k, n, Layout::RowMajor, &mut rng);
        let mut ours = vec![E::ZERO; m * n];
        let mut theirs = vec![E::ZERO; m * n];
        gemm(
            E::ONE,
            a.view(),
            b.view(),
            E::ZERO,
            MatMut::row_major(&mut ours, m, n).unwrap(),
        )
        .unwrap();
        mm(&a.data, &b.data, &mut theirs, m, n, k);
        for (x, y) in ours.iter().zip(&theirs) {
            let tolerance = 4.0 * (k as f64) * E::EPSILON.to_f64();
            assert!(
                (x.to_f64() - y.to_f64()).abs() <= tolerance,
                "{} m={m} n={n} k={k}: {x} vs {y}",
                E::DTYPE
            );
        }
    }
}

#[test]
fn agrees_with_matrixmultiply() {
    matches_matrixmultiply::<f32>(|a, b, c, m, n, k| {
        // SAFETY: dense row-major buffers of the stated sizes.
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
    });
    matches_matrixmultiply::<f64>(|a, b, c, m, n, k| {
        // SAFETY: dense row-major buffers of the stated sizes.
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
    });
}

/// Runs the product on rayon pools of 1, 2 and 3 threads and demands identical bits.
fn deterministic<E: Float>(m: usize, n: usize, k: usize) {
    let mut rng = Rng::seed_from(8);
    let a = Operand::<E>::new(m, k, Layout::RowMajor, &mut rng);
    let b = Operand::<E>::new(k, n, Layout::ColMajor, &mut rng);
    let c0 = Operand::<E>::new(m, n, Layout::RowMajor, &mut rng);
    for isa in available_isas() {
        let results: Vec<Vec<u64>> = [1, 2, 3]
            .into_iter()
            .map(|threads| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut c = Operand {
                    data: c0.data.clone(),
                    ..c0
                };
                pool.install(|| {
                    gemm_with_isa(
                        isa,
                        E::from_f64(0.7),
                        a.view(),
                        b.view(),
                        E::from_f64(0.3),
                        c.view_mut(),
                    )
                })
                .unwrap();
                c.data.iter().map(|v| v.to_f64().to_bits()).collect()
            })
            .collect();
        assert_eq!(
            results[0],
            results[1],
            "{isa:?} {}: 1 vs 2 threads",
            E::DTYPE
        );
        assert_eq!(
            results[0],
            results[2],
            "{isa:?} {}: 1 vs 3 threads",
            E::DTYPE
        );
    }
}

#[test]
fn bit_identical_across_thread_counts() {
    deterministic::<f32>(211, 190, 450);
    // 64 rows: the 8-row AVX-512 variant (with its own KC), split by columns.
    deterministic::<f32>(64, 300, 500);
    deterministic::<f64>(150, 77, 400);
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, TensorError>, needle: &str) {
    match result {
        Err(TensorError::InvalidArgument { message, .. }) => {
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?}"
            )
        }
        other => panic!("expected InvalidArgument containing {needle:?}, got {other:?}"),
    }
}

#[test]
fn errors() {
    let a = vec![1.0f32; 6];
    let b = vec![1.0f32; 9];
    let mut c = vec![0.0f32; 9];
    // A 2×3 times B 2×3: inner dimensions differ.
    assert_invalid(
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 2, 3).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 2).unwrap(),
        ),
        "need A m×k",
    );
    // C of the wrong shape.
    assert_invalid(
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 2).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 3, 3).unwrap(),
        ),
        "need A m×k",
    );
    // C with a zero stride, and with overlapping rows.
    assert_invalid(
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 2).unwrap(),
            0.0,
            MatMut::new(&mut c, 2, 2, 0, 1).unwrap(),
        ),
        "share memory",
    );
    assert_invalid(
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 1).unwrap(),
            0.0,
            MatMut::new(&mut c, 2, 1, 0, 1).unwrap(),
        ),
        "share memory",
    );
    assert_invalid(
        gemm(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 3).unwrap(),
            0.0,
            MatMut::new(&mut c, 2, 3, 2, 1).unwrap(),
        ),
        "share memory",
    );
    // Views that do not fit their buffers.
    assert_invalid(MatRef::new(&a, 3, 3, 3, 1), "does not fit");
    assert_invalid(MatMut::new(&mut c, 2, 5, 5, 1), "does not fit");
    assert_invalid(MatRef::row_major(&a, usize::MAX, 2), "does not fit");
    // The reference makes the same checks.
    assert_invalid(
        gemm_reference(
            1.0,
            MatRef::row_major(&a, 3, 2).unwrap(),
            MatRef::row_major(&b, 3, 2).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 3, 2).unwrap(),
        ),
        "need A m×k",
    );
    // A kernel this CPU cannot run is refused, one it can run is accepted.
    for isa in [Isa::Avx512, Isa::Avx2Fma, Isa::Portable] {
        let result = gemm_with_isa(
            isa,
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 2).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 2).unwrap(),
        );
        assert_eq!(result.is_ok(), isa.is_available(), "{isa:?}");
        assert_eq!(
            <f64 as GemmElement>::kernel(isa).is_some(),
            isa.is_available()
        );
    }
}

#[test]
#[should_panic(expected = "need A m×k")]
fn unchecked_entry_still_refuses_bad_shapes() {
    // The kernels write C through raw pointers: a mismatched C must stop them, not be overrun.
    let (a, b) = (vec![1.0f64; 6], vec![1.0f64; 6]);
    let mut c = vec![0.0f64; 1];
    f64::gemm_unchecked(
        1.0,
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&b, 3, 2).unwrap(),
        0.0,
        MatMut::row_major(&mut c, 1, 1).unwrap(),
    );
}
