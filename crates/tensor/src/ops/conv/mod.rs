//! 2-D convolution (cross-correlation, as in PyTorch) over NCHW tensors: forward, the three
//! backward kernels, and the im2col/col2im transforms they are built on.
//!
//! For input `x: [N, C_in, H, W]`, weight `w: [C_out, C_in/G, kh, kw]` and `G` groups, output
//! channel `o` of group `g = o / (C_out/G)` is
//!
//! ```text
//! y[n, o, oy, ox] = b[o] + Σ_{c, ky, kx} w[o, c, ky, kx] · x[n, g·C_in/G + c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]
//! ```
//!
//! with `x` read as 0 outside the image (zero padding), and
//! `oh = (H + 2·ph − dh·(kh − 1) − 1) / sh + 1` (likewise `ow`).
//!
//! # How it is computed
//!
//! **Column layout.** [`im2col`] turns one image into a matrix `cols: [C·kh·kw, oh·ow]`:
//! row `(c·kh + ky)·kw + kx`, column `oy·ow + ox` holds the input pixel that kernel tap
//! `(c, ky, kx)` meets at output position `(oy, ox)`. With it a convolution of one image is one
//! GEMM, `Y_n [C_out, oh·ow] = W [C_out, C·kh·kw] · cols_n`, and `Y_n` is already image `n` of the
//! NCHW output: no permute afterwards. This per-image layout (rather than one
//! `[C·kh·kw, N·oh·ow]` matrix for the whole batch) was chosen because
//! - images are independent tasks for the thread pool, each writing its own contiguous slice of
//!   the output, so no output transpose and no shared buffers are needed;
//! - the columns can be built a block of output positions at a time and consumed by the GEMM
//!   while still in cache, instead of writing and re-reading a batch-sized matrix (75 MB for the
//!   CIFAR layer `cifar_3x3_16` at batch 128) through main memory;
//! - the rows of group `g` are one contiguous block, so grouped convolution is a GEMM per group
//!   on a row block.
//!
//! **Blocks** (`blocking.rs`). Big images are cut into tiles of output positions whose columns
//! fit in the L2 cache; small images (fewer than 256 positions, e.g. 8×8 or 7×7) are put side by
//! side, several whole images per block, so that each GEMM is wide enough to be efficient. The
//! blocking depends only on the shapes, never on the thread count, so results are identical on
//! any number of threads.
//!
//! **Staging** (`staged.rs`). Before im2col, each image is copied once into a zero-padded form
//! whose rows are split by the horizontal stride into phases; then every output row's share of a
//! row of `cols` is one contiguous copy, with no bounds tests and no strided reads (3–4× faster
//! than a direct strided gather for the stride-2 7×7 stem). col2im adds into a staged image the
//! same way and adds it back onto `dX` at the end.
//!
//! **Backward.** With `dY_n: [C_out, oh·ow]` (per group):
//! - input:  `dX_n = col2im(Wᵀ · dY_n)` ([`conv2d_backward_input`]); [`col2im`] is the adjoint of
//!   [`im2col`]: it adds every column entry back onto the pixel it was read from. For stride 1
//!   (kernels above 1×1) the input gradient is computed instead as a forward convolution of `dY`
//!   with the flipped, transposed kernel and padding `d·(k − 1) − p`: copies instead of
//!   scattered additions, and a GEMM with inner dimension `C_out·kh·kw` rather than `C_out`
//!   (measured 17% faster on l1_3x3, 35% on cifar_3x3_16);
//! - weight: `dW = Σ_n dY_n · cols_nᵀ` ([`conv2d_backward_weight`]), summed in a fixed number of
//!   chunks of the batch whose partial sums are added in order;
//! - bias:   `db[o] = Σ_{n, oy, ox} dY[n, o, oy, ox]` ([`conv2d_backward_bias`]).
//!
//! **1×1 fast paths.** A 1×1 kernel with stride 1 and no padding needs no im2col: the image
//! `[C, H·W]` *is* its column matrix, and the GEMMs read it (and write `dX`) in place. A 1×1
//! kernel with a larger stride gathers the subsampled pixels `x[c, ::sh, ::sw]` with a plain
//! strided copy instead of the general im2col.
//!
//! The plain seven-loop reference kernels in [`mod@reference`] document what these compute; the
//! tests compare the two.

mod backward;
mod blocking;
mod col2im;
mod forward;
mod im2col;
pub mod reference;
mod staged;

use crate::error::{Result, TensorError};
use crate::{Float, Tensor};

/// Stride, zero padding, dilation and groups of a 2-D convolution, as `[height, width]` pairs.
///
/// ```
/// use unravel_tensor::ops::conv::Conv2dParams;
/// let params = Conv2dParams { stride: [2, 2], padding: [3, 3], ..Default::default() };
/// // ResNet's stem: 224×224 with a 7×7 kernel → 112×112.
/// assert_eq!(params.output_size([224, 224], [7, 7])?, [112, 112]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    /// Step between output positions, `[sh, sw]` (at least 1).
    pub stride: [usize; 2],
    /// Zeros added on each side of the input, `[ph, pw]`.
    pub padding: [usize; 2],
    /// Spacing between kernel taps, `[dh, dw]` (at least 1; 1 is a dense kernel).
    pub dilation: [usize; 2],
    /// Number of groups `G`: input and output channels are split into `G` blocks and block `g`
    /// of the output sees only block `g` of the input (`G = C_in` is depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dParams {
    /// Stride 1, no padding, dilation 1, one group.
    fn default() -> Self {
        Conv2dParams {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl Conv2dParams {
    /// The same parameters for every axis.
    ///
    /// ```
    /// use unravel_tensor::ops::conv::Conv2dParams;
    /// let p = Conv2dParams::square(2, 1, 1, 1);
    /// assert_eq!((p.stride, p.padding), ([2, 2], [1, 1]));
    /// ```
    pub fn square(stride: usize, padding: usize, dilation: usize, groups: usize) -> Self {
        Conv2dParams {
            stride: [stride; 2],
            padding: [padding; 2],
            dilation: [dilation; 2],
            groups,
        }
    }

    /// Output size `[oh, ow]` for an input of `[H, W]` and a kernel of `[kh, kw]`:
    /// `oh = (H + 2·ph − dh·(kh − 1) − 1) / sh + 1`.
    ///
    /// Fails on a zero stride, dilation or kernel size, or when the dilated kernel
    /// `dh·(kh − 1) + 1` is larger than the padded input `H + 2·ph`.
    ///
    /// ```
    /// use unravel_tensor::ops::conv::Conv2dParams;
    /// let same = Conv2dParams { padding: [1, 1], ..Default::default() };
    /// assert_eq!(same.output_size([56, 56], [3, 3])?, [56, 56]);
    /// assert!(Conv2dParams::default().output_size([2, 2], [3, 3]).is_err());
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn output_size(&self, input_hw: [usize; 2], kernel: [usize; 2]) -> Result<[usize; 2]> {
        self.output_size_for("Conv2dParams::output_size", input_hw, kernel)
    }

    fn check(&self, op: &'static str) -> Result<()> {
        if self.stride.contains(&0) {
            return Err(TensorError::invalid(
                op,
                format!("stride must be at least 1, got {:?}", self.stride),
            ));
        }
        if self.dilation.contains(&0) {
            return Err(TensorError::invalid(
                op,
                format!("dilation must be at least 1, got {:?}", self.dilation),
            ));
        }
        if self.groups == 0 {
            return Err(TensorError::invalid(op, "groups must be at least 1"));
        }
        Ok(())
    }

    fn output_size_for(
        &self,
        op: &'static str,
        input_hw: [usize; 2],
        kernel: [usize; 2],
    ) -> Result<[usize; 2]> {
        self.check(op)?;
        if kernel.contains(&0) {
            return Err(TensorError::invalid(
                op,
                format!("kernel size must be at least 1, got {kernel:?}"),
            ));
        }
        let mut out = [0; 2];
        for axis in 0..2 {
            let padded = self.padding[axis]
                .checked_mul(2)
                .and_then(|p| p.checked_add(input_hw[axis]));
            let span = self.dilation[axis]
                .checked_mul(kernel[axis] - 1)
                .and_then(|s| s.checked_add(1));
            match (padded, span) {
                (Some(padded), Some(span)) if span <= padded => {
                    out[axis] = (padded - span) / self.stride[axis] + 1;
                }
                _ => {
                    return Err(TensorError::invalid(
                        op,
                        format!(
                            "kernel {kernel:?} with dilation {:?} spans more than the input \
                             {input_hw:?} padded by {:?}",
                            self.dilation, self.padding
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// Sizes of one convolution, checked against each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConvShape {
    pub batch: usize,
    pub in_channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub out: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl ConvShape {
    /// Checks an input shape `[N, C_in, H, W]` and a weight shape `[C_out, C_in/G, kh, kw]`.
    pub(crate) fn new(
        op: &'static str,
        input_shape: &[usize],
        weight_shape: &[usize],
        params: &Conv2dParams,
    ) -> Result<Self> {
        params.check(op)?;
        let &[batch, in_channels, height, width] = input_shape else {
            return Err(TensorError::Rank {
                op,
                expected: 4,
                shape: input_shape.to_vec(),
            });
        };
        let &[out_channels, group_channels, kh, kw] = weight_shape else {
            return Err(TensorError::Rank {
                op,
                expected: 4,
                shape: weight_shape.to_vec(),
            });
        };
        let groups = params.groups;
        if in_channels == 0 || out_channels == 0 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "need at least one channel: input {input_shape:?}, weight {weight_shape:?}"
                ),
            ));
        }
        if in_channels % groups != 0 || out_channels % groups != 0 {
            return Err(TensorError::invalid(
                op,
                format!(
                    "{groups} groups do not divide the {in_channels} input channels \
                     (input {input_shape:?}) and the {out_channels} output channels \
                     (weight {weight_shape:?})"
                ),
            ));
        }
        if group_channels != in_channels / groups {
            return Err(TensorError::invalid(
                op,
                format!(
                    "weight {weight_shape:?} has {group_channels} input channels per group, but \
                     input {input_shape:?} with {groups} groups needs {}",
                    in_channels / groups
                ),
            ));
        }
        let out = params.output_size_for(op, [height, width], [kh, kw])?;
        let shape = ConvShape {
            batch,
            in_channels,
            height,
            width,
            out_channels,
            kernel: [kh, kw],
            out,
            stride: params.stride,
            padding: params.padding,
            dilation: params.dilation,
            groups,
        };
        // The kernels multiply these sizes (positions per image, image lengths, one staged
        // image, which 1×1 kernels without padding do not use): each array the CPU kernels
        // derive from them must be countable. Whether it can be allocated is checked when it
        // is (`crate::buffer`).
        for sizes in [input_shape, weight_shape, &shape.output_shape()] {
            crate::layout::check_shape(op, sizes, 1)?;
        }
        if !shape.is_one_by_one() {
            let staged = staged::Staging::new(&shape).image_shape(in_channels);
            crate::layout::check_shape(op, &staged, 1)?;
        }
        Ok(shape)
    }

    /// Input channels per group, `C_in / G`.
    pub(crate) fn group_in(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group, `C_out / G`.
    pub(crate) fn group_out(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of one group's column matrix, `C_in/G · kh · kw`.
    pub(crate) fn group_rows(&self) -> usize {
        self.group_in() * self.kernel[0] * self.kernel[1]
    }

    /// Output positions per image, `oh · ow`.
    pub(crate) fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }

    pub(crate) fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_channels, self.height, self.width]
    }

    pub(crate) fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.group_in(),
            self.kernel[0],
            self.kernel[1],
        ]
    }

    pub(crate) fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_channels, self.out[0], self.out[1]]
    }

    /// A 1×1 kernel without padding (any stride): the columns are a subsample of the image.
    pub(crate) fn is_one_by_one(&self) -> bool {
        self.kernel == [1, 1] && self.padding == [0, 0]
    }

    /// A 1×1 kernel with stride 1 and no padding: the image is its own column matrix.
    pub(crate) fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.padding == [0, 0]
    }
}

fn check_same_device<E: Float>(op: &'static str, a: &Tensor<E>, b: &Tensor<E>) -> Result<()> {
    if a.device() != b.device() {
        return Err(TensorError::DeviceMismatch {
            op,
            lhs: a.device(),
            rhs: b.device(),
        });
    }
    Ok(())
}

fn check_shape(op: &'static str, what: &[usize], expected: &[usize]) -> Result<()> {
    if what != expected {
        return Err(TensorError::ShapeMismatch {
            op,
            lhs: what.to_vec(),
            rhs: expected.to_vec(),
        });
    }
    Ok(())
}

/// 2-D convolution: `y = conv2d(x, w) + b`, see the [module documentation](self) for the
/// equation.
///
/// `input: [N, C_in, H, W]`, `weight: [C_out, C_in/G, kh, kw]`, `bias: [C_out]` → output
/// `[N, C_out, oh, ow]`. Any input layout (permuted, narrowed, stepped views) is read in place.
///
/// ```
/// use unravel_tensor::ops::conv::{conv2d, Conv2dParams};
/// use unravel_tensor::Tensor;
/// // A 3×3 box filter over a 4×4 image of ones, padded by 1: corners see 4 ones, edges 6.
/// let x = Tensor::<f32>::ones(&[1, 1, 4, 4]);
/// let w = Tensor::<f32>::ones(&[1, 1, 3, 3]);
/// let params = Conv2dParams { padding: [1, 1], ..Default::default() };
/// let y = conv2d(&x, &w, None, &params)?;
/// assert_eq!(y.shape(), &[1, 1, 4, 4]);
/// assert_eq!(y.to_vec()[..4], [4.0, 6.0, 6.0, 4.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn conv2d<E: Float>(
    input: &Tensor<E>,
    weight: &Tensor<E>,
    bias: Option<&Tensor<E>>,
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "conv2d";
    let shape = ConvShape::new(OP, input.shape(), weight.shape(), params)?;
    check_same_device(OP, input, weight)?;
    if let Some(bias) = bias {
        check_same_device(OP, input, bias)?;
        check_shape(OP, bias.shape(), &[shape.out_channels])?;
    }
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(input) {
        return crate::cuda::ops::conv::conv2d(OP, input, weight, bias, &shape);
    }
    let weight_data = weight.contiguous_data(OP)?;
    let bias_data = bias.map(|b| b.contiguous_data(OP)).transpose()?;
    let output = forward::conv2d_cpu(OP, input, &weight_data, bias_data.as_deref(), &shape)?;
    Ok(Tensor::from_contiguous(output, &shape.output_shape()))
}

/// The column matrix of every image: `[N, C, H, W]` → `[N, C·kh·kw, oh·ow]` with
///
/// ```text
/// cols[n, (c·kh + ky)·kw + kx, oy·ow + ox] = x[n, c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]
/// ```
///
/// (0 where that index falls in the padding). `params.groups` is not used: the rows of group `g`
/// are the contiguous block `g·(C/G)·kh·kw .. (g+1)·(C/G)·kh·kw`.
///
/// ```
/// use unravel_tensor::ops::conv::{im2col, Conv2dParams};
/// use unravel_tensor::Tensor;
/// let x = Tensor::<f32>::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3])?;
/// let cols = im2col(&x, [2, 2], &Conv2dParams::default())?;
/// assert_eq!(cols.shape(), &[1, 4, 4]);
/// // Row 0 is tap (0, 0) at each of the 2×2 output positions.
/// assert_eq!(cols.to_vec()[..4], [1.0, 2.0, 4.0, 5.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn im2col<E: Float>(
    input: &Tensor<E>,
    kernel_size: [usize; 2],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "im2col";
    let shape = transform_shape(OP, input.shape(), kernel_size, params)?;
    let columns = im2col::im2col_cpu(OP, input, &shape)?;
    Ok(Tensor::from_contiguous(
        columns,
        &[
            shape.batch,
            shape.in_channels * kernel_size[0] * kernel_size[1],
            shape.positions(),
        ],
    ))
}

/// The adjoint of [`im2col`]: `[N, C·kh·kw, oh·ow]` → `input_shape = [N, C, H, W]`, adding every
/// column entry onto the pixel it would have been read from (entries that fall in the padding
/// are dropped):
///
/// ```text
/// x[n, c, iy, ix] = Σ { cols[n, (c·kh + ky)·kw + kx, oy·ow + ox] : oy·sh − ph + ky·dh = iy, ox·sw − pw + kx·dw = ix }
/// ```
///
/// so that `⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩` for all `x`, `y`.
///
/// ```
/// use unravel_tensor::ops::conv::{col2im, Conv2dParams};
/// use unravel_tensor::Tensor;
/// // A 2×2 kernel sliding over 3×3: the centre pixel is covered by all four positions.
/// let cols = Tensor::<f32>::ones(&[1, 4, 4]);
/// let x = col2im(&cols, &[1, 1, 3, 3], [2, 2], &Conv2dParams::default())?;
/// assert_eq!(x.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn col2im<E: Float>(
    columns: &Tensor<E>,
    input_shape: &[usize],
    kernel_size: [usize; 2],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "col2im";
    let shape = transform_shape(OP, input_shape, kernel_size, params)?;
    check_shape(
        OP,
        columns.shape(),
        &[
            shape.batch,
            shape.in_channels * kernel_size[0] * kernel_size[1],
            shape.positions(),
        ],
    )?;
    let data = columns.contiguous_data(OP)?;
    let image = col2im::col2im_cpu(OP, &data, &shape)?;
    Ok(Tensor::from_contiguous(image, &shape.input_shape()))
}

/// The convolution shape of an im2col/col2im, which has no weight: one group, `C` "output"
/// channels (unused).
fn transform_shape(
    op: &'static str,
    input_shape: &[usize],
    kernel_size: [usize; 2],
    params: &Conv2dParams,
) -> Result<ConvShape> {
    if input_shape.len() != 4 {
        return Err(TensorError::Rank {
            op,
            expected: 4,
            shape: input_shape.to_vec(),
        });
    }
    let channels = input_shape[1];
    let ungrouped = Conv2dParams {
        groups: 1,
        ..*params
    };
    ConvShape::new(
        op,
        input_shape,
        &[channels, channels, kernel_size[0], kernel_size[1]],
        &ungrouped,
    )
}

/// Gradient of [`conv2d`] with respect to its input: `dX_n = col2im(Wᵀ · dY_n)` per group, i.e.
///
/// ```text
/// dx[n, g·C_in/G + c, iy, ix] = Σ_{o in group g, oy, ox, ky, kx : oy·sh − ph + ky·dh = iy, ox·sw − pw + kx·dw = ix} w[o, c, ky, kx] · dy[n, o, oy, ox]
/// ```
///
/// `grad_output: [N, C_out, oh, ow]`, `weight: [C_out, C_in/G, kh, kw]`, `input_shape`:
/// `[N, C_in, H, W]` of the forward input → `[N, C_in, H, W]`.
///
/// ```
/// use unravel_tensor::ops::conv::{conv2d_backward_input, Conv2dParams};
/// use unravel_tensor::Tensor;
/// // A 2×2 kernel of ones over 3×3: each input pixel gets one gradient per window covering it.
/// let dy = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// let w = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// let dx = conv2d_backward_input(&dy, &w, &[1, 1, 3, 3], &Conv2dParams::default())?;
/// assert_eq!(dx.to_vec(), vec![1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn conv2d_backward_input<E: Float>(
    grad_output: &Tensor<E>,
    weight: &Tensor<E>,
    input_shape: &[usize],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "conv2d_backward_input";
    let shape = ConvShape::new(OP, input_shape, weight.shape(), params)?;
    check_same_device(OP, grad_output, weight)?;
    check_shape(OP, grad_output.shape(), &shape.output_shape())?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(grad_output) {
        return crate::cuda::ops::conv::backward_input(OP, grad_output, weight, &shape);
    }
    let weight_data = weight.contiguous_data(OP)?;
    if let Some((flipped_shape, flipped_weight)) =
        backward::input_grad_as_convolution(&weight_data, &shape)
    {
        // stride 1: dX = conv2d(dY, flipped kernel), see input_grad_as_convolution
        let grad_input =
            forward::conv2d_cpu(OP, grad_output, &flipped_weight, None, &flipped_shape)?;
        return Ok(Tensor::from_contiguous(grad_input, &shape.input_shape()));
    }
    let grad_data = grad_output.contiguous_data(OP)?;
    let grad_input = backward::backward_input_cpu(&grad_data, &weight_data, &shape)?;
    Ok(Tensor::from_contiguous(grad_input, &shape.input_shape()))
}

/// Gradient of [`conv2d`] with respect to its weight: `dW_g = Σ_n dY_n,g · cols_n,gᵀ`, i.e.
///
/// ```text
/// dw[o, c, ky, kx] = Σ_{n, oy, ox} dy[n, o, oy, ox] · x[n, g·C_in/G + c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]
/// ```
///
/// `grad_output: [N, C_out, oh, ow]`, `input: [N, C_in, H, W]` (any layout), `weight_shape`:
/// `[C_out, C_in/G, kh, kw]` → `[C_out, C_in/G, kh, kw]`. The sum over the batch is split into
/// a fixed number of chunks whatever the thread count, so the result is deterministic.
///
/// ```
/// use unravel_tensor::ops::conv::{conv2d_backward_weight, Conv2dParams};
/// use unravel_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2])?;
/// let dy = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// // 1×1 kernel: dw = Σ x·dy = 10.
/// let dw = conv2d_backward_weight(&dy, &x, &[1, 1, 1, 1], &Conv2dParams::default())?;
/// assert_eq!(dw.to_vec(), vec![10.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn conv2d_backward_weight<E: Float>(
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    weight_shape: &[usize],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "conv2d_backward_weight";
    let shape = ConvShape::new(OP, input.shape(), weight_shape, params)?;
    check_same_device(OP, grad_output, input)?;
    check_shape(OP, grad_output.shape(), &shape.output_shape())?;
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(grad_output) {
        return crate::cuda::ops::conv::backward_weight(OP, grad_output, input, &shape);
    }
    let grad_data = grad_output.contiguous_data(OP)?;
    let grad_weight = backward::backward_weight_cpu(OP, &grad_data, input, &shape)?;
    Ok(Tensor::from_contiguous(grad_weight, &shape.weight_shape()))
}

/// Gradient of [`conv2d`] with respect to its bias: `db[o] = Σ_{n, oy, ox} dy[n, o, oy, ox]`.
///
/// `grad_output: [N, C_out, oh, ow]` → `[C_out]`.
///
/// ```
/// use unravel_tensor::ops::conv::conv2d_backward_bias;
/// use unravel_tensor::Tensor;
/// let dy = Tensor::<f32>::ones(&[2, 3, 4, 5]);
/// assert_eq!(conv2d_backward_bias(&dy)?.to_vec(), vec![40.0; 3]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn conv2d_backward_bias<E: Float>(grad_output: &Tensor<E>) -> Result<Tensor<E>> {
    const OP: &str = "conv2d_backward_bias";
    let &[batch, channels, height, width] = grad_output.shape() else {
        return Err(TensorError::Rank {
            op: OP,
            expected: 4,
            shape: grad_output.shape().to_vec(),
        });
    };
    #[cfg(feature = "cuda")]
    if crate::cuda::launch::is_cuda(grad_output) {
        let _ = (batch, height, width);
        return crate::cuda::ops::reduce::sum(
            OP,
            grad_output,
            &[true, false, true, true],
            &[channels],
            1.0,
        );
    }
    let grad_data = grad_output.contiguous_data(OP)?;
    let grad_bias = backward::backward_bias_cpu(OP, &grad_data, batch, channels, height * width)?;
    Ok(Tensor::from_contiguous(grad_bias, &[channels]))
}
