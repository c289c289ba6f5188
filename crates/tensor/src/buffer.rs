//! Fallible allocation of the buffers that ops size from a shape.
//!
//! An op's output can be far larger than its inputs: a stride-0 view of one element can claim
//! 2⁶⁰ of them, padding and convolution parameters can ask for any size, and `input_shape`
//! arguments come from the caller. `vec![…; n]` and `Vec::with_capacity(n)` abort the process
//! when the allocator refuses `n` elements. Every op output, every dense copy of an input
//! (`to_vec`, `contiguous`, the copies kernels make of views) and every scratch buffer whose
//! size follows from the op's parameters (the staged images of a convolution) is therefore
//! allocated here: a shape whose size in bytes cannot exist is
//! [`TensorError::ShapeOverflow`], memory the allocator refuses is
//! [`TensorError::OutOfMemory`], both naming the op and the shape.
//!
//! Not allocated here: buffers no larger than one the op already holds (a reduction's partial
//! sums, per-channel statistics, GEMM packing panels of fixed size), and the plain reference
//! kernels of the `reference` modules, which exist to define what the ops compute.

use crate::error::{Result, TensorError};
use crate::layout::check_shape;

/// [`TensorError::OutOfMemory`] for `count` elements of `T` of the buffer of `shape`.
fn out_of_memory<T>(op: &'static str, shape: &[usize], count: usize) -> TensorError {
    TensorError::OutOfMemory {
        op,
        shape: shape.to_vec(),
        // `check_shape` has bounded `count · size_of::<T>()` by `isize::MAX`.
        bytes: count * std::mem::size_of::<T>(),
    }
}

/// An empty buffer with room for exactly the elements of `shape`, and their count.
pub(crate) fn with_capacity<T>(op: &'static str, shape: &[usize]) -> Result<(Vec<T>, usize)> {
    let count = check_shape(op, shape, std::mem::size_of::<T>())?;
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(count)
        .map_err(|_| out_of_memory::<T>(op, shape, count))?;
    Ok((buffer, count))
}

/// The elements of `shape`, every one `value` (a fallible `vec![value; n]`).
pub(crate) fn filled<T: Clone>(op: &'static str, shape: &[usize], value: T) -> Result<Vec<T>> {
    let (mut buffer, count) = with_capacity(op, shape)?;
    buffer.resize(count, value);
    Ok(buffer)
}

/// The elements of `shape` taken from `values`, which must yield at least that many (only
/// that many are taken).
pub(crate) fn collect<T>(
    op: &'static str,
    shape: &[usize],
    values: impl IntoIterator<Item = T>,
) -> Result<Vec<T>> {
    let (mut buffer, count) = with_capacity(op, shape)?;
    buffer.extend(values.into_iter().take(count));
    debug_assert_eq!(buffer.len(), count);
    Ok(buffer)
}

/// Resizes the scratch buffer `buffer` to the elements of `shape`, new elements `value`
/// (a fallible `Vec::resize`; shrinking never allocates).
pub(crate) fn resize<T: Clone>(
    op: &'static str,
    shape: &[usize],
    buffer: &mut Vec<T>,
    value: T,
) -> Result<()> {
    let count = check_shape(op, shape, std::mem::size_of::<T>())?;
    if count > buffer.len() {
        buffer
            .try_reserve_exact(count - buffer.len())
            .map_err(|_| out_of_memory::<T>(op, shape, count))?;
    }
    buffer.resize(count, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_that_exist_are_allocated() {
        assert_eq!(filled("t", &[2, 3], 1.5f32).unwrap(), vec![1.5; 6]);
        assert_eq!(filled("t", &[0, 1 << 40], 0u8).unwrap(), Vec::<u8>::new());
        assert_eq!(collect("t", &[3], 0..10usize).unwrap(), vec![0, 1, 2]);
        let (buffer, count) = with_capacity::<f64>("t", &[4, 5]).unwrap();
        assert_eq!((buffer.len(), buffer.capacity(), count), (0, 20, 20));
        let mut scratch = vec![7i32; 2];
        resize("t", &[3], &mut scratch, 0).unwrap();
        assert_eq!(scratch, vec![7, 7, 0]);
        resize("t", &[1], &mut scratch, 0).unwrap();
        assert_eq!(scratch, vec![7]);
    }

    #[test]
    fn sizes_that_cannot_exist_or_be_allocated_are_errors() {
        // 2^62 f32 = 2^64 bytes: cannot exist. 2^60 f32 = 4 EiB: can be asked for, not had.
        let error = filled("op", &[1 << 62], 0.0f32).unwrap_err();
        assert_eq!(
            error,
            TensorError::ShapeOverflow {
                op: "op",
                shape: vec![1 << 62]
            }
        );
        let error = filled("op", &[1 << 30, 1 << 30], 0.0f32).unwrap_err();
        assert_eq!(
            error,
            TensorError::OutOfMemory {
                op: "op",
                shape: vec![1 << 30, 1 << 30],
                bytes: 1 << 62
            }
        );
        let mut scratch = vec![1.0f64; 4];
        let error = resize("scratch", &[1 << 59], &mut scratch, 0.0).unwrap_err();
        assert!(
            matches!(error, TensorError::OutOfMemory { op: "scratch", bytes, .. } if bytes == 1 << 62)
        );
        assert_eq!(
            scratch,
            vec![1.0; 4],
            "a failed resize leaves the buffer as it was"
        );
        assert!(collect("op", &[1 << 60], std::iter::repeat(0.0f32)).is_err());
    }
}
