//! Plain reference kernels, written straight from the definitions: the direct seven-loop
//! convolution, its direct backward, and im2col/col2im one element at a time. They are slow and
//! obviously right; the tests hold the fast kernels to them.

use super::{check_shape, Conv2dParams, ConvShape};
use crate::error::Result;
use crate::{Float, Tensor};

/// The input pixel `(iy, ix)` that tap `(ky, kx)` meets at output position `(oy, ox)`, or `None`
/// in the padding.
fn input_pixel(
    shape: &ConvShape,
    [oy, ox]: [usize; 2],
    [ky, kx]: [usize; 2],
) -> Option<(usize, usize)> {
    let iy = (oy * shape.stride[0] + ky * shape.dilation[0]) as isize - shape.padding[0] as isize;
    let ix = (ox * shape.stride[1] + kx * shape.dilation[1]) as isize - shape.padding[1] as isize;
    if iy < 0 || ix < 0 || iy as usize >= shape.height || ix as usize >= shape.width {
        None
    } else {
        Some((iy as usize, ix as usize))
    }
}

/// Calls `visit(n, o, c_in, ky, kx, oy, ox, iy, ix)` for every term of the convolution sum
/// (`c_in` is the absolute input channel), in a fixed order.
#[allow(clippy::type_complexity)]
fn for_each_term(shape: &ConvShape, mut visit: impl FnMut([usize; 9])) {
    let (group_in, group_out) = (shape.group_in(), shape.group_out());
    for n in 0..shape.batch {
        for o in 0..shape.out_channels {
            let g = o / group_out;
            for oy in 0..shape.out[0] {
                for ox in 0..shape.out[1] {
                    for c in 0..group_in {
                        for ky in 0..shape.kernel[0] {
                            for kx in 0..shape.kernel[1] {
                                if let Some((iy, ix)) = input_pixel(shape, [oy, ox], [ky, kx]) {
                                    visit([n, o, g * group_in + c, ky, kx, oy, ox, iy, ix]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Direct convolution: `y[n, o, oy, ox] = b[o] + Σ_{c, ky, kx} w[o, c, ky, kx] ·
/// x[n, g·C_in/G + c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]`, seven nested loops.
///
/// ```
/// use unravel_tensor::ops::conv::{conv2d, reference, Conv2dParams};
/// use unravel_tensor::{Rng, Tensor};
/// let mut rng = Rng::seed_from(1);
/// let x = Tensor::<f64>::randn(&[1, 2, 5, 5], 0.0, 1.0, &mut rng);
/// let w = Tensor::<f64>::randn(&[3, 2, 3, 3], 0.0, 1.0, &mut rng);
/// let p = Conv2dParams::default();
/// let (fast, slow) = (conv2d(&x, &w, None, &p)?, reference::conv2d_direct(&x, &w, None, &p)?);
/// assert!(fast.to_vec().iter().zip(slow.to_vec()).all(|(a, b)| (a - b).abs() < 1e-12));
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn conv2d_direct<E: Float>(
    input: &Tensor<E>,
    weight: &Tensor<E>,
    bias: Option<&Tensor<E>>,
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "conv2d_direct";
    let shape = ConvShape::new(OP, input.shape(), weight.shape(), params)?;
    if let Some(bias) = bias {
        check_shape(OP, bias.shape(), &[shape.out_channels])?;
    }
    let [_, out_c, oh, ow] = shape.output_shape();
    let mut output = vec![E::ZERO; shape.batch * out_c * oh * ow];
    if let Some(bias) = bias {
        for (i, value) in output.iter_mut().enumerate() {
            *value = bias.get(&[(i / (oh * ow)) % out_c])?;
        }
    }
    let (x, w) = (input.to_vec(), weight.to_vec());
    let [_, in_c, h, wd] = shape.input_shape();
    let [_, group_in, kh, kw] = shape.weight_shape();
    for_each_term(&shape, |[n, o, c, ky, kx, oy, ox, iy, ix]| {
        let c_in_group = c % group_in;
        output[((n * out_c + o) * oh + oy) * ow + ox] += w
            [((o * group_in + c_in_group) * kh + ky) * kw + kx]
            * x[((n * in_c + c) * h + iy) * wd + ix];
    });
    Ok(Tensor::from_contiguous(output, &shape.output_shape()))
}

/// Direct input gradient: `dx[n, c, iy, ix] = Σ w[o, c, ky, kx] · dy[n, o, oy, ox]` over every
/// term of the convolution sum that reads `x[n, c, iy, ix]`.
pub fn conv2d_backward_input_direct<E: Float>(
    grad_output: &Tensor<E>,
    weight: &Tensor<E>,
    input_shape: &[usize],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "conv2d_backward_input_direct";
    let shape = ConvShape::new(OP, input_shape, weight.shape(), params)?;
    check_shape(OP, grad_output.shape(), &shape.output_shape())?;
    let [_, out_c, oh, ow] = shape.output_shape();
    let [n_, in_c, h, wd] = shape.input_shape();
    let [_, group_in, kh, kw] = shape.weight_shape();
    let (dy, w) = (grad_output.to_vec(), weight.to_vec());
    let mut dx = vec![E::ZERO; n_ * in_c * h * wd];
    for_each_term(&shape, |[n, o, c, ky, kx, oy, ox, iy, ix]| {
        dx[((n * in_c + c) * h + iy) * wd + ix] += w
            [((o * group_in + c % group_in) * kh + ky) * kw + kx]
            * dy[((n * out_c + o) * oh + oy) * ow + ox];
    });
    Ok(Tensor::from_contiguous(dx, &shape.input_shape()))
}

/// Direct weight gradient: `dw[o, c, ky, kx] = Σ_{n, oy, ox} dy[n, o, oy, ox] ·
/// x[n, g·C_in/G + c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]`.
pub fn conv2d_backward_weight_direct<E: Float>(
    grad_output: &Tensor<E>,
    input: &Tensor<E>,
    weight_shape: &[usize],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    const OP: &str = "conv2d_backward_weight_direct";
    let shape = ConvShape::new(OP, input.shape(), weight_shape, params)?;
    check_shape(OP, grad_output.shape(), &shape.output_shape())?;
    let [_, out_c, oh, ow] = shape.output_shape();
    let [_, in_c, h, wd] = shape.input_shape();
    let [_, group_in, kh, kw] = shape.weight_shape();
    let (dy, x) = (grad_output.to_vec(), input.to_vec());
    let mut dw = vec![E::ZERO; out_c * group_in * kh * kw];
    for_each_term(&shape, |[n, o, c, ky, kx, oy, ox, iy, ix]| {
        dw[((o * group_in + c % group_in) * kh + ky) * kw + kx] +=
            dy[((n * out_c + o) * oh + oy) * ow + ox] * x[((n * in_c + c) * h + iy) * wd + ix];
    });
    Ok(Tensor::from_contiguous(dw, &shape.weight_shape()))
}

/// Direct bias gradient: `db[o] = Σ_{n, oy, ox} dy[n, o, oy, ox]`, one element at a time.
pub fn conv2d_backward_bias_direct<E: Float>(grad_output: &Tensor<E>) -> Result<Tensor<E>> {
    let shape = grad_output.shape();
    if shape.len() != 4 {
        return Err(crate::TensorError::Rank {
            op: "conv2d_backward_bias_direct",
            expected: 4,
            shape: shape.to_vec(),
        });
    }
    let mut db = vec![E::ZERO; shape[1]];
    for n in 0..shape[0] {
        for (o, sum) in db.iter_mut().enumerate() {
            for y in 0..shape[2] {
                for x in 0..shape[3] {
                    *sum += grad_output.get(&[n, o, y, x])?;
                }
            }
        }
    }
    Ok(Tensor::from_contiguous(db, &[shape[1]]))
}

/// im2col one element at a time: `cols[n, (c·kh + ky)·kw + kx, oy·ow + ox] = x[n, c, iy, ix]`
/// (0 in the padding).
pub fn im2col_direct<E: Float>(
    input: &Tensor<E>,
    kernel_size: [usize; 2],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    let shape = super::transform_shape("im2col_direct", input.shape(), kernel_size, params)?;
    let [kh, kw] = kernel_size;
    let [oh, ow] = shape.out;
    let rows = shape.in_channels * kh * kw;
    let mut cols = vec![E::ZERO; shape.batch * rows * oh * ow];
    for n in 0..shape.batch {
        for c in 0..shape.in_channels {
            for ky in 0..kh {
                for kx in 0..kw {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            if let Some((iy, ix)) = input_pixel(&shape, [oy, ox], [ky, kx]) {
                                let row = (c * kh + ky) * kw + kx;
                                cols[(n * rows + row) * oh * ow + oy * ow + ox] =
                                    input.get(&[n, c, iy, ix])?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(Tensor::from_contiguous(cols, &[shape.batch, rows, oh * ow]))
}

/// col2im one element at a time: `x[n, c, iy, ix] += cols[n, (c·kh + ky)·kw + kx, oy·ow + ox]`
/// for every `(ky, kx, oy, ox)` that reads `(iy, ix)`.
pub fn col2im_direct<E: Float>(
    columns: &Tensor<E>,
    input_shape: &[usize],
    kernel_size: [usize; 2],
    params: &Conv2dParams,
) -> Result<Tensor<E>> {
    let shape = super::transform_shape("col2im_direct", input_shape, kernel_size, params)?;
    let [kh, kw] = kernel_size;
    let [oh, ow] = shape.out;
    let rows = shape.in_channels * kh * kw;
    check_shape(
        "col2im_direct",
        columns.shape(),
        &[shape.batch, rows, oh * ow],
    )?;
    let [_, in_c, h, w] = shape.input_shape();
    let mut x = vec![E::ZERO; shape.batch * in_c * h * w];
    for n in 0..shape.batch {
        for c in 0..in_c {
            for ky in 0..kh {
                for kx in 0..kw {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            if let Some((iy, ix)) = input_pixel(&shape, [oy, ox], [ky, kx]) {
                                let row = (c * kh + ky) * kw + kx;
                                x[((n * in_c + c) * h + iy) * w + ix] +=
                                    columns.get(&[n, row, oy * ow + ox])?;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(Tensor::from_contiguous(x, &shape.input_shape()))
}
