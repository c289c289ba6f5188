//! Benchmark workloads shared by the criterion benches (`benches/`) and the `unravel bench`
//! command: the convolution-layer table of `../shared/bench/README.md` and matrixmultiply's GEMM
//! as the baseline for unravel's.

use std::fmt;

use unravel_tensor::ops::conv::Conv2dParams;
use unravel_tensor::Float;

/// A convolution layer of `../shared/bench/README.md`: square input and kernel, no dilation, one
/// group.
///
/// ```
/// use unravel::workloads::ConvLayer;
///
/// let layer = ConvLayer::by_name("cifar_3x3_16").unwrap();
/// assert_eq!(layer.output_size(), 32);
/// // im2col GEMM: (C_out, N·oh·ow, C_in·k²)
/// assert_eq!(layer.gemm_shape(), (16, 128 * 32 * 32, 16 * 9));
/// assert_eq!(layer.forward_flops(), 2 * 128 * 16 * 32 * 32 * 16 * 9);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvLayer {
    /// The layer's name in the table (e.g. `l1_3x3`).
    pub name: &'static str,
    /// Input channels, C_in.
    pub in_channels: usize,
    /// Output channels, C_out.
    pub out_channels: usize,
    /// Kernel height = width.
    pub kernel: usize,
    /// Stride along both axes.
    pub stride: usize,
    /// Zero padding on each side along both axes.
    pub padding: usize,
    /// Input height = width.
    pub size: usize,
    /// Batch size, N.
    pub batch: usize,
}

/// The conv layers of `../shared/bench/README.md` (ResNet-50 at batch 8, CIFAR ResNets at 128).
pub const CONV_LAYERS: [ConvLayer; 8] = [
    ConvLayer::new("stem7x7s2", 3, 64, 7, 2, 3, 224, 8),
    ConvLayer::new("l1_3x3", 64, 64, 3, 1, 1, 56, 8),
    ConvLayer::new("l1_1x1_up", 64, 256, 1, 1, 0, 56, 8),
    ConvLayer::new("l2_3x3s2", 128, 128, 3, 2, 1, 56, 8),
    ConvLayer::new("l3_3x3", 256, 256, 3, 1, 1, 14, 8),
    ConvLayer::new("l4_1x1_down", 2048, 512, 1, 1, 0, 7, 8),
    ConvLayer::new("cifar_3x3_16", 16, 16, 3, 1, 1, 32, 128),
    ConvLayer::new("cifar_3x3_64", 64, 64, 3, 1, 1, 8, 128),
];

impl ConvLayer {
    /// A layer from the columns of the table: name, C_in, C_out, kernel, stride, padding,
    /// H = W, batch.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        size: usize,
        batch: usize,
    ) -> Self {
        ConvLayer {
            name,
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            size,
            batch,
        }
    }

    /// The layer of [`CONV_LAYERS`] called `name`, if any.
    pub fn by_name(name: &str) -> Option<&'static ConvLayer> {
        let table: &'static [ConvLayer; 8] = &CONV_LAYERS;
        table.iter().find(|layer| layer.name == name)
    }

    /// The convolution parameters: the layer's stride and padding, dilation 1, one group.
    pub fn params(&self) -> Conv2dParams {
        Conv2dParams::square(self.stride, self.padding, 1, 1)
    }

    /// Output height = width: `(H + 2·padding − kernel) / stride + 1`.
    pub fn output_size(&self) -> usize {
        (self.size + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// FLOPs of the forward pass: 2·N·C_out·oh·ow·C_in·k².
    pub fn forward_flops(&self) -> u64 {
        let out = self.output_size();
        2 * (self.batch
            * self.out_channels
            * out
            * out
            * self.in_channels
            * self.kernel
            * self.kernel) as u64
    }

    /// Forward conv as one im2col GEMM over the whole batch:
    /// `out [C_out, N·oh·ow] = W [C_out, C_in·k·k] · cols [C_in·k·k, N·oh·ow]`, so
    /// `(m, n, k) = (C_out, N·oh·ow, C_in·k²)`.
    pub fn gemm_shape(&self) -> (usize, usize, usize) {
        let out = self.output_size();
        (
            self.out_channels,
            self.batch * out * out,
            self.in_channels * self.kernel * self.kernel,
        )
    }
}

/// Operands too short (or too large) for the GEMM shape asked of
/// [`MatrixmultiplyBaseline::matrixmultiply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperandLengthError {
    /// The shape asked for: `C [m×n] = A [m×k] · B [k×n]`.
    pub shape: (usize, usize, usize),
    /// The lengths given for A, B and C.
    pub lengths: (usize, usize, usize),
}

impl fmt::Display for OperandLengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (m, n, k) = self.shape;
        let (a, b, c) = self.lengths;
        write!(
            f,
            "matrixmultiply baseline: C [{m}×{n}] = A [{m}×{k}] · B [{k}×{n}] needs dense \
             row-major operands of at least {m}·{k}, {k}·{n} and {m}·{n} elements, got {a}, {b} \
             and {c}"
        )
    }
}

impl std::error::Error for OperandLengthError {}

/// matrixmultiply's GEMM for each element type, on dense row-major operands: the baseline the
/// GEMM benchmarks compare unravel's against.
pub trait MatrixmultiplyBaseline: Float {
    /// `C [m×n] ← A [m×k] · B [k×n]`, all dense row-major, with matrixmultiply's `sgemm` or
    /// `dgemm`.
    ///
    /// # Errors
    ///
    /// [`OperandLengthError`] when `a`, `b` or `c` is shorter than `m·k`, `k·n` or `m·n`, or when a
    /// dimension does not fit a stride (`isize`).
    fn matrixmultiply(
        a: &[Self],
        b: &[Self],
        c: &mut [Self],
        m: usize,
        n: usize,
        k: usize,
    ) -> Result<(), OperandLengthError>;
}

/// Checks that `a`, `b`, `c` hold dense row-major `m×k`, `k×n`, `m×n` matrices and returns the
/// row strides `(k, n)` as `isize`.
fn check_operands(
    (a, b, c): (usize, usize, usize),
    m: usize,
    n: usize,
    k: usize,
) -> Result<(isize, isize), OperandLengthError> {
    let error = OperandLengthError {
        shape: (m, n, k),
        lengths: (a, b, c),
    };
    let fits =
        |rows: usize, cols: usize, len: usize| rows.checked_mul(cols).is_some_and(|e| e <= len);
    if !(fits(m, k, a) && fits(k, n, b) && fits(m, n, c)) {
        return Err(error);
    }
    match (isize::try_from(k), isize::try_from(n)) {
        (Ok(k), Ok(n)) => Ok((k, n)),
        _ => Err(error),
    }
}

impl MatrixmultiplyBaseline for f32 {
    fn matrixmultiply(
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        m: usize,
        n: usize,
        k: usize,
    ) -> Result<(), OperandLengthError> {
        let (lda, ldb) = check_operands((a.len(), b.len(), c.len()), m, n, k)?;
        // SAFETY: dense row-major buffers of at least m·k, k·n and m·n elements, with row
        // strides k and n (checked above).
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                lda,
                1,
                b.as_ptr(),
                ldb,
                1,
                0.0,
                c.as_mut_ptr(),
                ldb,
                1,
            )
        }
        Ok(())
    }
}

impl MatrixmultiplyBaseline for f64 {
    fn matrixmultiply(
        a: &[f64],
        b: &[f64],
        c: &mut [f64],
        m: usize,
        n: usize,
        k: usize,
    ) -> Result<(), OperandLengthError> {
        let (lda, ldb) = check_operands((a.len(), b.len(), c.len()), m, n, k)?;
        // SAFETY: as for f32.
        unsafe {
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                lda,
                1,
                b.as_ptr(),
                ldb,
                1,
                0.0,
                c.as_mut_ptr(),
                ldb,
                1,
            )
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_shapes() {
        assert_eq!(CONV_LAYERS.len(), 8);
        for layer in &CONV_LAYERS {
            assert_eq!(ConvLayer::by_name(layer.name), Some(layer));
            let (m, n, k) = layer.gemm_shape();
            assert_eq!(layer.forward_flops(), 2 * (m * n * k) as u64);
        }
        assert_eq!(ConvLayer::by_name("nope"), None);
        assert_eq!(ConvLayer::by_name("stem7x7s2").unwrap().output_size(), 112);
    }

    #[test]
    fn baseline_multiplies_and_checks_lengths() {
        // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
        let mut c = [0.0f64; 4];
        f64::matrixmultiply(
            &[1.0, 2.0, 3.0, 4.0],
            &[5.0, 6.0, 7.0, 8.0],
            &mut c,
            2,
            2,
            2,
        )
        .unwrap();
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        let mut short = [0.0f32; 3];
        assert!(f32::matrixmultiply(&[1.0; 4], &[1.0; 4], &mut short, 2, 2, 2).is_err());
        assert!(f32::matrixmultiply(&[], &[], &mut [], usize::MAX, 2, 2).is_err());
    }
}
