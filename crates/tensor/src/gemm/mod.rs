//! General matrix multiply: `C ← α·A·B + β·C` over strided matrices.
//!
//! Transposed operands are strided views (`MatRef::t`), so one entry point covers all four
//! transpose cases. The implementation is BLIS-style (Goto & van de Geijn, "Anatomy of
//! high-performance matrix multiplication", 2008; Van Zee & van de Geijn, "BLIS", 2015):
//!
//! - `blocking.rs`: the loop nest over cache blocks (NC, KC, MC) and the threading;
//! - `pack.rs`: copying blocks of A and B into the micro-kernel's order;
//! - `kernel_avx512.rs`, `kernel_avx2.rs`, `kernel_portable.rs`: register-blocked micro-kernels,
//!   one of which is chosen at run time from the CPU's features ([`Isa::best`]);
//! - `small.rs`: tiny products, computed row by row without packing;
//! - `reference.rs`: the triple loop they are all tested against.
//!
//! See `docs/gemm.md` for a walk-through.

use std::cell::Cell;
use std::sync::OnceLock;
use std::thread::LocalKey;

use crate::error::{Result, TensorError};
use crate::Float;

mod blocking;
#[cfg(target_arch = "x86_64")]
mod kernel_avx2;
#[cfg(target_arch = "x86_64")]
mod kernel_avx512;
mod kernel_portable;
mod pack;
pub mod reference;
mod small;

/// A read-only strided matrix view: element `(i, j)` is `data[i·row_stride + j·col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, E> {
    data: &'a [E],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A mutable strided matrix view, laid out as [`MatRef`].
#[derive(Debug)]
pub struct MatMut<'a, E> {
    data: &'a mut [E],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

fn check_extent(
    op: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(TensorError::invalid(
            op,
            format!("a {rows}×{cols} matrix with strides ({rs}, {cs}) does not fit in a buffer of {len} elements"),
        )),
    }
}

impl<'a, E> MatRef<'a, E> {
    /// A strided view; fails if an element would fall outside `data`.
    pub fn new(
        data: &'a [E],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        check_extent(
            "MatRef::new",
            data.len(),
            rows,
            cols,
            row_stride,
            col_stride,
        )?;
        Ok(MatRef {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A dense row-major `rows × cols` view.
    pub fn row_major(data: &'a [E], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose, as a view.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    pub fn col_stride(&self) -> usize {
        self.col_stride
    }
    pub fn data(&self) -> &'a [E] {
        self.data
    }

    /// Element `(i, j)`, unchecked beyond the slice's own bounds check.
    #[inline(always)]
    pub fn at(&self, i: usize, j: usize) -> &'a E {
        &self.data[i * self.row_stride + j * self.col_stride]
    }
}

impl<'a, E> MatMut<'a, E> {
    /// A strided mutable view; fails if an element would fall outside `data`.
    pub fn new(
        data: &'a mut [E],
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        check_extent(
            "MatMut::new",
            data.len(),
            rows,
            cols,
            row_stride,
            col_stride,
        )?;
        Ok(MatMut {
            data,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// A dense row-major `rows × cols` view.
    pub fn row_major(data: &'a mut [E], rows: usize, cols: usize) -> Result<Self> {
        Self::new(data, rows, cols, cols, 1)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_stride(&self) -> usize {
        self.row_stride
    }
    pub fn col_stride(&self) -> usize {
        self.col_stride
    }
    pub fn data_mut(&mut self) -> &mut [E] {
        self.data
    }

    /// Element `(i, j)`, mutably.
    #[inline(always)]
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut E {
        &mut self.data[i * self.row_stride + j * self.col_stride]
    }
}

/// An instruction set a GEMM micro-kernel is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// x86-64 AVX-512F: 32 zmm registers (f32 tile 14 × 32, f64 14 × 16).
    Avx512,
    /// x86-64 AVX2 + FMA: 16 ymm registers (f32 tile 6 × 16, f64 6 × 8).
    Avx2Fma,
    /// Plain Rust, vectorised by the compiler for the build target (tile 4 × 8 f32, 4 × 4 f64).
    Portable,
}

impl Isa {
    /// Whether this CPU can run kernels for `self`.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            Isa::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// The fastest instruction set this CPU supports (detected once, then cached).
    pub fn best() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(|| {
            [Isa::Avx512, Isa::Avx2Fma]
                .into_iter()
                .find(|isa| isa.is_available())
                .unwrap_or(Isa::Portable)
        })
    }
}

/// A micro-kernel: `C[..m_eff, ..n_eff] ← α·(A_panel·B_panel) + β·C` for one `mr × nr` tile,
/// arguments `(kc, α, A_panel, B_panel, β, C, rs_c, cs_c, m_eff, n_eff)`.
type MicroKernel<E> =
    unsafe fn(usize, E, *const E, *const E, E, *mut E, usize, usize, usize, usize);

/// A micro-kernel with its tile and cache-block sizes.
pub struct Kernel<E: 'static> {
    /// The instruction set it uses.
    pub isa: Isa,
    /// Tile rows (values of A broadcast per k step).
    pub mr: usize,
    /// Tile columns (values of B loaded per k step).
    pub nr: usize,
    /// Depth of a packed block (k values summed per micro-kernel call).
    pub kc: usize,
    /// Rows of a packed A block `mc × kc` (kept in L2).
    pub mc: usize,
    /// Columns of a packed B block `kc × nc` (kept in L3).
    pub nc: usize,
    micro: MicroKernel<E>,
    /// A variant with fewer rows for matrices whose height it tiles with less padding.
    narrow: Option<&'static Kernel<E>>,
    a_scratch: &'static LocalKey<Cell<Vec<E>>>,
    b_scratch: &'static LocalKey<Cell<Vec<E>>>,
}

impl<E> Kernel<E> {
    /// This kernel, or its narrow variant when that pads `m` rows to at least 5 % fewer.
    fn for_rows(&'static self, m: usize) -> &'static Kernel<E> {
        match self.narrow {
            Some(narrow)
                if 20 * m.next_multiple_of(narrow.mr) < 19 * m.next_multiple_of(self.mr) =>
            {
                narrow
            }
            _ => self,
        }
    }
}

impl<E> std::fmt::Debug for Kernel<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Kernel {{ isa: {:?}, tile: {}×{}, kc: {}, mc: {}, nc: {} }}",
            self.isa, self.mr, self.nr, self.kc, self.mc, self.nc
        )
    }
}

/// Element types with a GEMM kernel.
pub trait GemmElement: Sized + 'static {
    /// `C ← α·A·B + β·C` with the best kernel for this CPU, for callers that have checked the
    /// operands already ([`gemm`] is the checked entry point). With β = 0, C's old contents
    /// (even NaN) are ignored, as in BLAS.
    ///
    /// # Panics
    /// If the shapes do not agree or C's elements overlap (the kernels write C through raw
    /// pointers, so this is checked here too rather than trusted).
    fn gemm_unchecked(
        alpha: Self,
        a: MatRef<'_, Self>,
        b: MatRef<'_, Self>,
        beta: Self,
        c: MatMut<'_, Self>,
    );

    /// The kernel for `isa`, or `None` if this CPU cannot run it.
    fn kernel(isa: Isa) -> Option<&'static Kernel<Self>>;
}

macro_rules! impl_gemm_element {
    ($elem:ty, $avx512:ident, $avx2:ident, $nr512:expr, $nr2:expr, $nrp:expr, $kc:expr, $mc:expr, $nc:expr) => {
        impl GemmElement for $elem {
            fn gemm_unchecked(
                alpha: $elem,
                a: MatRef<'_, $elem>,
                b: MatRef<'_, $elem>,
                beta: $elem,
                c: MatMut<'_, $elem>,
            ) {
                if let Err(error) = check_operands("gemm_unchecked", &a, &b, &c) {
                    panic!("{error}");
                }
                static BEST: OnceLock<&'static Kernel<$elem>> = OnceLock::new();
                let kernel = BEST.get_or_init(|| {
                    <$elem>::kernel(Isa::best())
                        .or(<$elem>::kernel(Isa::Portable))
                        .expect("the portable kernel always exists")
                });
                if small::applies(&a, &b) {
                    small::gemm_small(alpha, a, b, beta, c);
                } else {
                    blocking::gemm_blocked(kernel.for_rows(a.rows()), alpha, a, b, beta, c);
                }
            }

            fn kernel(isa: Isa) -> Option<&'static Kernel<$elem>> {
                thread_local! {
                    static A_SCRATCH: Cell<Vec<$elem>> = const { Cell::new(Vec::new()) };
                    static B_SCRATCH: Cell<Vec<$elem>> = const { Cell::new(Vec::new()) };
                }
                #[cfg(target_arch = "x86_64")]
                static AVX512_NARROW: Kernel<$elem> = Kernel {
                    isa: Isa::Avx512,
                    mr: kernel_avx512::MR_NARROW,
                    nr: $nr512,
                    // Few rows reuse each B micro-panel only a few times: keep it (192 × 32 × 4 B
                    // = 24 KiB) within L1 (measured: ~4 % faster at 64 rows than KC = 384).
                    kc: $kc / 2,
                    mc: $mc,
                    nc: $nc,
                    micro: kernel_avx512::$avx512::<{ kernel_avx512::MR_NARROW }>,
                    narrow: None,
                    a_scratch: &A_SCRATCH,
                    b_scratch: &B_SCRATCH,
                };
                #[cfg(target_arch = "x86_64")]
                static AVX512: Kernel<$elem> = Kernel {
                    isa: Isa::Avx512,
                    mr: kernel_avx512::MR,
                    nr: $nr512,
                    kc: $kc,
                    mc: $mc,
                    nc: $nc,
                    micro: kernel_avx512::$avx512::<{ kernel_avx512::MR }>,
                    narrow: Some(&AVX512_NARROW),
                    a_scratch: &A_SCRATCH,
                    b_scratch: &B_SCRATCH,
                };
                #[cfg(target_arch = "x86_64")]
                static AVX2: Kernel<$elem> = Kernel {
                    isa: Isa::Avx2Fma,
                    mr: kernel_avx2::MR,
                    nr: $nr2,
                    kc: $kc,
                    mc: $mc,
                    nc: $nc,
                    micro: kernel_avx2::$avx2,
                    narrow: None,
                    a_scratch: &A_SCRATCH,
                    b_scratch: &B_SCRATCH,
                };
                static PORTABLE: Kernel<$elem> = Kernel {
                    isa: Isa::Portable,
                    mr: kernel_portable::MR,
                    nr: $nrp,
                    kc: $kc,
                    mc: $mc,
                    nc: $nc,
                    micro: kernel_portable::kernel::<$elem, { $nrp }>,
                    narrow: None,
                    a_scratch: &A_SCRATCH,
                    b_scratch: &B_SCRATCH,
                };
                if !isa.is_available() {
                    return None;
                }
                match isa {
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx512 => Some(&AVX512),
                    #[cfg(target_arch = "x86_64")]
                    Isa::Avx2Fma => Some(&AVX2),
                    Isa::Portable => Some(&PORTABLE),
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }
        }
    };
}

// Cache blocks for Zen 4 (32 KiB L1d, 1 MiB L2 per core, 32 MiB L3), f32: the A block
// MC × KC × 4 B ≈ 0.5 MiB stays in L2, the B block KC × NC × 4 B = 6 MiB in L3; the B micro-panel
// (KC × 32 × 4 B = 48 KiB) is re-read from L2 by each tile row, 128 B per 28 FMAs, well within
// L2's bandwidth. KC = 384 was measured best (1024³, one core: 69, 85, 91, 94 GFLOP/s for
// KC = 64, 128, 256, 384): each kernel call ends with a read-modify-write of its C tile.
// f64 uses the same sizes in bytes.
impl_gemm_element!(
    f32,
    kernel_f32,
    kernel_f32,
    kernel_avx512::NR_F32,
    kernel_avx2::NR_F32,
    kernel_portable::NR_F32,
    384,
    336,
    4096
);
impl_gemm_element!(
    f64,
    kernel_f64,
    kernel_f64,
    kernel_avx512::NR_F64,
    kernel_avx2::NR_F64,
    kernel_portable::NR_F64,
    384,
    168,
    2048
);

/// Checks that `A: m×k`, `B: k×n`, `C: m×n` agree, and that no two elements of C share memory
/// (C is written in parallel).
fn check_operands<E>(
    op: &'static str,
    a: &MatRef<'_, E>,
    b: &MatRef<'_, E>,
    c: &MatMut<'_, E>,
) -> Result<()> {
    if a.cols != b.rows || c.rows != a.rows || c.cols != b.cols {
        return Err(TensorError::invalid(
            op,
            format!(
                "A is {}×{}, B is {}×{}, C is {}×{}: need A m×k, B k×n, C m×n",
                a.rows, a.cols, b.rows, b.cols, c.rows, c.cols
            ),
        ));
    }
    // Sufficient condition for distinct addresses: along the axis with the smaller stride the
    // elements are distinct, and the larger stride steps past a whole run of them.
    let ((inner_len, inner_stride), (outer_len, outer_stride)) = {
        let rows = (c.rows, c.row_stride);
        let cols = (c.cols, c.col_stride);
        if rows.1 <= cols.1 {
            (rows, cols)
        } else {
            (cols, rows)
        }
    };
    let empty = inner_len == 0 || outer_len == 0;
    let inner_ok = inner_len <= 1 || inner_stride > 0;
    let outer_ok = outer_len <= 1 || outer_stride > inner_len.saturating_sub(1) * inner_stride;
    if !(empty || (inner_ok && outer_ok)) {
        return Err(TensorError::invalid(
            op,
            format!(
                "C ({}×{}, strides ({}, {})) has elements that share memory",
                c.rows, c.cols, c.row_stride, c.col_stride
            ),
        ));
    }
    Ok(())
}

/// `C ← α·A·B + β·C` for `A: m×k`, `B: k×n`, `C: m×n`, any strides, on the current rayon
/// pool. With `β = 0`, C's old contents (even NaN) are ignored, as in BLAS. The result does not
/// depend on the number of threads (bit for bit).
///
/// ```
/// use unravel_tensor::gemm::{gemm, MatMut, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0f32, 0.0, 0.0, 1.0]; // identity
/// let mut c = [0.0f32; 4];
/// gemm(1.0, MatRef::row_major(&a, 2, 2)?, MatRef::row_major(&b, 2, 2)?.t(), 0.0,
///      MatMut::row_major(&mut c, 2, 2)?)?;
/// assert_eq!(c, a);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn gemm<E: Float>(
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: MatMut<'_, E>,
) -> Result<()> {
    check_operands("gemm", &a, &b, &c)?;
    E::gemm_unchecked(alpha, a, b, beta, c);
    Ok(())
}

/// [`gemm`] with the micro-kernel for a chosen instruction set (to compare kernels, or test each
/// one), always through the packed path (never the unpacked one [`gemm`] takes for tiny
/// products). Fails if this CPU cannot run `isa`.
///
/// ```
/// use unravel_tensor::gemm::{gemm_with_isa, Isa, MatMut, MatRef};
/// let a = [1.0f64, 2.0, 3.0]; // 1×3
/// let b = [4.0f64, 5.0, 6.0]; // 3×1
/// let mut c = [0.0f64];
/// gemm_with_isa(Isa::Portable, 1.0, MatRef::row_major(&a, 1, 3)?, MatRef::row_major(&b, 3, 1)?,
///               0.0, MatMut::row_major(&mut c, 1, 1)?)?;
/// assert_eq!(c, [32.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn gemm_with_isa<E: Float>(
    isa: Isa,
    alpha: E,
    a: MatRef<'_, E>,
    b: MatRef<'_, E>,
    beta: E,
    c: MatMut<'_, E>,
) -> Result<()> {
    check_operands("gemm", &a, &b, &c)?;
    let kernel = E::kernel(isa).ok_or_else(|| {
        TensorError::invalid("gemm", format!("this CPU cannot run the {isa:?} kernel"))
    })?;
    blocking::gemm_blocked(kernel.for_rows(a.rows()), alpha, a, b, beta, c);
    Ok(())
}
