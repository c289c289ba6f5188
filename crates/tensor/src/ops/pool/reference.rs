//! Plain reference pooling: direct loops over padded windows, computed in `f64`, written for
//! reading rather than speed. The tests compare the fast kernels against these; they are the
//! specification of what the fast kernels compute.
//!
//! Inputs are read element by element through [`Tensor::get`], so any layout works.

use super::Pool2dParams;
use crate::error::Result;
use crate::{Float, Tensor};

fn output_len(input: usize, kernel: usize, stride: usize, padding: usize) -> usize {
    (input + 2 * padding - kernel) / stride + 1
}

/// Max pooling by definition: scans each padded window (padding = −∞), first maximum wins, NaN
/// wins. Returns the pooled values and the flat argmax `h·W + w` of each, row-major.
///
/// ```
/// use unravel_tensor::{ops::pool::{max_pool2d, reference, Pool2dParams}, Tensor};
/// let x = Tensor::<f64>::from_vec(vec![3.0, 1.0, 2.0, 5.0], &[1, 1, 2, 2])?;
/// let params = Pool2dParams::square(2, 1, 1);
/// let (values, argmax) = reference::max_pool2d(&x, params)?;
/// let (fast, fast_argmax) = max_pool2d(&x, params)?;
/// assert_eq!((fast.to_vec(), fast_argmax.into_vec()), (values, argmax));
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn max_pool2d<E: Float>(
    input: &Tensor<E>,
    params: Pool2dParams,
) -> Result<(Vec<E>, Vec<usize>)> {
    let shape = input.shape().to_vec();
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let oh = output_len(h, params.kernel[0], params.stride[0], params.padding[0]);
    let ow = output_len(w, params.kernel[1], params.stride[1], params.padding[1]);
    let (mut values, mut argmax) = (Vec::new(), Vec::new());
    for b in 0..n {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let mut best = f64::NEG_INFINITY;
                    let mut best_index = None;
                    for ki in 0..params.kernel[0] {
                        for kj in 0..params.kernel[1] {
                            let hh =
                                (i * params.stride[0] + ki) as isize - params.padding[0] as isize;
                            let ww =
                                (j * params.stride[1] + kj) as isize - params.padding[1] as isize;
                            if hh < 0 || ww < 0 || hh >= h as isize || ww >= w as isize {
                                continue; // padding: −∞ never wins
                            }
                            let (hh, ww) = (hh as usize, ww as usize);
                            let value = input.get(&[b, ch, hh, ww])?.to_f64();
                            if best_index.is_none() || value > best || value.is_nan() {
                                best = value;
                                best_index = Some(hh * w + ww);
                            }
                        }
                    }
                    values.push(E::from_f64(best));
                    argmax.push(best_index.unwrap_or(0));
                }
            }
        }
    }
    Ok((values, argmax))
}

/// Average pooling by definition, with PyTorch's two divisors.
///
/// ```
/// use unravel_tensor::{ops::pool::{reference, Pool2dParams}, Tensor};
/// let x = Tensor::<f64>::ones(&[1, 1, 2, 2]);
/// let params = Pool2dParams::square(2, 2, 1);
/// assert_eq!(reference::avg_pool2d(&x, params, true)?, vec![0.25; 4]);
/// assert_eq!(reference::avg_pool2d(&x, params, false)?, vec![1.0; 4]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn avg_pool2d<E: Float>(
    input: &Tensor<E>,
    params: Pool2dParams,
    count_include_pad: bool,
) -> Result<Vec<E>> {
    let shape = input.shape().to_vec();
    let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3]);
    let oh = output_len(h, params.kernel[0], params.stride[0], params.padding[0]);
    let ow = output_len(w, params.kernel[1], params.stride[1], params.padding[1]);
    let mut values = Vec::new();
    for b in 0..n {
        for ch in 0..c {
            for i in 0..oh {
                for j in 0..ow {
                    let (mut sum, mut inside, mut padded) = (0.0f64, 0usize, 0usize);
                    for ki in 0..params.kernel[0] {
                        for kj in 0..params.kernel[1] {
                            let hh =
                                (i * params.stride[0] + ki) as isize - params.padding[0] as isize;
                            let ww =
                                (j * params.stride[1] + kj) as isize - params.padding[1] as isize;
                            // Positions inside the padded input count for `count_include_pad`.
                            if hh < (h + params.padding[0]) as isize
                                && ww < (w + params.padding[1]) as isize
                            {
                                padded += 1;
                            }
                            if hh < 0 || ww < 0 || hh >= h as isize || ww >= w as isize {
                                continue;
                            }
                            sum += input.get(&[b, ch, hh as usize, ww as usize])?.to_f64();
                            inside += 1;
                        }
                    }
                    let divisor = if count_include_pad { padded } else { inside };
                    values.push(E::from_f64(sum / divisor as f64));
                }
            }
        }
    }
    Ok(values)
}

/// Global average pooling by definition: `[N, C, H, W]` → `[N, C]` row-major.
///
/// ```
/// use unravel_tensor::{ops::pool::reference, Tensor};
/// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 2, 2, 1])?;
/// assert_eq!(reference::global_avg_pool2d(&x)?, vec![1.5, 3.5]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
pub fn global_avg_pool2d<E: Float>(input: &Tensor<E>) -> Result<Vec<E>> {
    let shape = input.shape().to_vec();
    let mut values = Vec::new();
    for b in 0..shape[0] {
        for ch in 0..shape[1] {
            let mut sum = 0.0f64;
            for hh in 0..shape[2] {
                for ww in 0..shape[3] {
                    sum += input.get(&[b, ch, hh, ww])?.to_f64();
                }
            }
            values.push(E::from_f64(sum / (shape[2] * shape[3]) as f64));
        }
    }
    Ok(values)
}
