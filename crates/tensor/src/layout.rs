//! Shape, strides and offset: how a tensor's logical elements map onto its storage.
//!
//! Element `[i₀, i₁, …]` of a tensor lives at `offset + Σ iₖ·strides[k]` in its storage. Views
//! (reshape of a contiguous tensor, permute, narrow, stepped slices, broadcasting) only change
//! the layout, never the data. A stride of 0 repeats an element (broadcasting).

use crate::error::{Result, TensorError};

/// Shape, strides (in elements) and storage offset of a tensor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

/// Row-major (C-order) strides for `shape`: the last axis varies fastest.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut running = 1usize;
    for (stride, &size) in strides.iter_mut().zip(shape).rev() {
        *stride = running;
        running = running.saturating_mul(size.max(1));
    }
    strides
}

/// Number of elements of a shape (1 for a scalar of rank 0).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Checked element count: `None` if it overflows `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The element count of `shape` if a tensor of that shape, with elements of `element_bytes`
/// bytes, can exist: the product of its non-zero sizes times `element_bytes` must not exceed
/// `isize::MAX`, Rust's limit on one allocation. Zero sizes count as 1 in that product so that
/// the contiguous strides of an empty tensor are in range too; index arithmetic on a shape
/// that passes (with any `element_bytes ≥ 1`) cannot overflow.
///
/// ```
/// use unravel_tensor::layout::size_checked;
/// assert_eq!(size_checked(&[2, 3], 4), Some(6));
/// assert_eq!(size_checked(&[0, 5], 4), Some(0));
/// assert_eq!(size_checked(&[1 << 40, 1 << 40], 4), None); // 2^80 elements
/// assert_eq!(size_checked(&[0, 1 << 40, 1 << 40], 4), None); // empty, but strides overflow
/// assert_eq!(size_checked(&[1 << 62], 4), None); // 2^64 bytes
/// ```
pub fn size_checked(shape: &[usize], element_bytes: usize) -> Option<usize> {
    let mut elements = 1usize;
    let mut empty = false;
    for &size in shape {
        empty |= size == 0;
        elements = elements.checked_mul(size.max(1))?;
    }
    let bytes = elements.checked_mul(element_bytes.max(1))?;
    if bytes > isize::MAX as usize {
        return None;
    }
    Some(if empty { 0 } else { elements })
}

/// [`size_checked`] as a `Result`: a [`TensorError::ShapeOverflow`] naming `op` and `shape`.
pub fn check_shape(op: &'static str, shape: &[usize], element_bytes: usize) -> Result<usize> {
    size_checked(shape, element_bytes).ok_or_else(|| TensorError::ShapeOverflow {
        op,
        shape: shape.to_vec(),
    })
}

/// The NumPy broadcast of two shapes: align from the right; sizes must be equal or one of them 1.
pub fn broadcast_shape(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    let rank = lhs.len().max(rhs.len());
    let mut out = vec![0; rank];
    for (i, out_size) in out.iter_mut().enumerate() {
        let l = if i + lhs.len() >= rank {
            lhs[i + lhs.len() - rank]
        } else {
            1
        };
        let r = if i + rhs.len() >= rank {
            rhs[i + rhs.len() - rank]
        } else {
            1
        };
        *out_size = match (l, r) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => {
                return Err(TensorError::Broadcast {
                    op,
                    lhs: lhs.to_vec(),
                    rhs: rhs.to_vec(),
                })
            }
        };
    }
    // Each operand is valid, but together they can describe more elements than can exist
    // (`[2^40, 1]` with `[1, 2^40]`).
    check_shape(op, &out, 1)?;
    Ok(out)
}

/// Checks that `axis < rank`.
pub fn check_axis(op: &'static str, axis: usize, rank: usize) -> Result<()> {
    if axis < rank {
        Ok(())
    } else {
        Err(TensorError::AxisOutOfRange { op, axis, rank })
    }
}

impl Layout {
    /// A row-major layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            strides: contiguous_strides(shape),
            shape: shape.to_vec(),
            offset: 0,
        }
    }

    /// A layout from its parts. [`crate::Tensor::from_storage`] checks it against the storage.
    pub fn from_parts(shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Self {
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape,
            strides,
            offset,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether the elements are laid out row-major and densely (size-1 axes may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if size != 1 && stride != expected {
                return false;
            }
            expected *= size;
        }
        true
    }

    /// One past the largest storage index this layout touches (0 if it holds no element).
    ///
    /// # Panics
    /// If that index overflows `usize`, which only a layout from [`Layout::from_parts`] with
    /// huge strides can do; [`Layout::checked_storage_extent`] returns `None` instead.
    pub fn storage_extent(&self) -> usize {
        self.checked_storage_extent()
            .unwrap_or_else(|| panic!("layout {self:?} reaches past usize::MAX"))
    }

    /// [`Layout::storage_extent`], `None` if it overflows `usize`.
    pub fn checked_storage_extent(&self) -> Option<usize> {
        if self.shape.contains(&0) {
            return Some(0);
        }
        self.shape
            .iter()
            .zip(&self.strides)
            .try_fold(self.offset, |end, (&size, &stride)| {
                end.checked_add((size - 1).checked_mul(stride)?)
            })?
            .checked_add(1)
    }

    /// Storage index of a logical multi-index (no bounds check).
    #[inline]
    pub fn index_of(&self, index: &[usize]) -> usize {
        self.offset
            + index
                .iter()
                .zip(&self.strides)
                .map(|(&i, &s)| i * s)
                .sum::<usize>()
    }

    /// Storage indices of all elements in logical (row-major) order.
    pub fn storage_indices(&self) -> StorageIndices<'_> {
        StorageIndices::new(self)
    }

    /// The view with axes reordered: output axis `i` is input axis `axes[i]`.
    pub fn permute(&self, axes: &[usize]) -> Result<Layout> {
        const OP: &str = "permute";
        if axes.len() != self.rank() {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "{} axes given for a tensor of shape {:?}",
                    axes.len(),
                    self.shape
                ),
            ));
        }
        let mut seen = vec![false; self.rank()];
        for &axis in axes {
            check_axis(OP, axis, self.rank())?;
            if std::mem::replace(&mut seen[axis], true) {
                return Err(TensorError::invalid(
                    OP,
                    format!("axis {axis} appears twice in {axes:?}"),
                ));
            }
        }
        Ok(Layout {
            shape: axes.iter().map(|&a| self.shape[a]).collect(),
            strides: axes.iter().map(|&a| self.strides[a]).collect(),
            offset: self.offset,
        })
    }

    /// Elements `start, start+step, …` below `end` along `axis`, as a view.
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Layout> {
        const OP: &str = "slice";
        check_axis(OP, axis, self.rank())?;
        let size = self.shape[axis];
        if step == 0 {
            return Err(TensorError::invalid(OP, "step must be at least 1"));
        }
        if start > end || end > size {
            return Err(TensorError::invalid(
                OP,
                format!("range {start}..{end} is out of bounds for axis {axis} of size {size} (shape {:?})", self.shape),
            ));
        }
        let len = (end - start).div_ceil(step);
        let mut layout = self.clone();
        if len > 0 {
            layout.offset += start * self.strides[axis];
        }
        layout.shape[axis] = len;
        layout.strides[axis] *= step;
        Ok(layout)
    }

    /// The view broadcast to `shape` (NumPy rules: new leading axes, size-1 axes repeated with
    /// stride 0).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Layout> {
        const OP: &str = "broadcast_to";
        let error = || TensorError::Broadcast {
            op: OP,
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
        };
        if shape.len() < self.rank() {
            return Err(error());
        }
        check_shape(OP, shape, 1)?;
        let lead = shape.len() - self.rank();
        let mut strides = vec![0; shape.len()];
        for (i, &target) in shape.iter().enumerate().skip(lead) {
            let size = self.shape[i - lead];
            strides[i] = if size == target {
                self.strides[i - lead]
            } else if size == 1 {
                0
            } else {
                return Err(error());
            };
        }
        Ok(Layout {
            shape: shape.to_vec(),
            strides,
            offset: self.offset,
        })
    }

    /// A view with a new shape over the same elements, if the strides allow one without a copy
    /// (always for a contiguous layout). `None` means a copy is needed.
    pub fn reshape_view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout {
                strides: contiguous_strides(shape),
                shape: shape.to_vec(),
                offset: self.offset,
            });
        }
        // Merge/split only axes that are already contiguous with one another.
        let old: Vec<(usize, usize)> = self
            .shape
            .iter()
            .zip(&self.strides)
            .filter(|(&size, _)| size != 1)
            .map(|(&size, &stride)| (size, stride))
            .collect();
        let mut new_strides = vec![0; shape.len()];
        let mut old_index = 0;
        let mut new_index = 0;
        while new_index < shape.len() {
            if shape[new_index] == 1 {
                new_strides[new_index] = 0;
                new_index += 1;
                continue;
            }
            // Take a chunk of old axes that are mutually contiguous and whose product matches a
            // chunk of new axes.
            if old_index >= old.len() {
                return None;
            }
            let mut old_product = old[old_index].0;
            let mut old_end = old_index + 1;
            let mut new_product = shape[new_index];
            let mut new_end = new_index + 1;
            while old_product != new_product {
                if old_product < new_product {
                    if old_end >= old.len() || old[old_end - 1].1 != old[old_end].0 * old[old_end].1
                    {
                        return None;
                    }
                    old_product *= old[old_end].0;
                    old_end += 1;
                } else {
                    if new_end >= shape.len() {
                        return None;
                    }
                    new_product *= shape[new_end];
                    new_end += 1;
                }
            }
            for window in old[old_index..old_end].windows(2) {
                if window[0].1 != window[1].0 * window[1].1 {
                    return None;
                }
            }
            let mut stride = old[old_end - 1].1;
            for axis in (new_index..new_end).rev() {
                new_strides[axis] = stride;
                stride *= shape[axis];
            }
            old_index = old_end;
            new_index = new_end;
        }
        if old_index != old.len() {
            return None;
        }
        Some(Layout {
            shape: shape.to_vec(),
            strides: new_strides,
            offset: self.offset,
        })
    }
}

/// Iterator over the storage indices of a layout in logical order.
pub struct StorageIndices<'a> {
    layout: &'a Layout,
    index: Vec<usize>,
    next: usize,
    remaining: usize,
}

impl<'a> StorageIndices<'a> {
    fn new(layout: &'a Layout) -> Self {
        StorageIndices {
            layout,
            index: vec![0; layout.rank()],
            next: layout.offset,
            remaining: layout.numel(),
        }
    }
}

impl Iterator for StorageIndices<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        let current = self.next;
        self.remaining -= 1;
        if self.remaining > 0 {
            // Odometer increment from the last axis.
            for axis in (0..self.index.len()).rev() {
                self.index[axis] += 1;
                self.next += self.layout.strides[axis];
                if self.index[axis] < self.layout.shape[axis] {
                    break;
                }
                self.next -= self.layout.strides[axis] * self.layout.shape[axis];
                self.index[axis] = 0;
            }
        }
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for StorageIndices<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_and_contiguity() {
        let layout = Layout::contiguous(&[2, 3, 4]);
        assert_eq!(layout.strides(), &[12, 4, 1]);
        assert!(layout.is_contiguous());
        let permuted = layout.permute(&[2, 0, 1]).unwrap();
        assert!(!permuted.is_contiguous());
        assert_eq!(permuted.shape(), &[4, 2, 3]);
    }

    #[test]
    fn stepped_slice_indices() {
        let layout = Layout::contiguous(&[10]);
        let sliced = layout.slice(0, 1, 10, 3).unwrap();
        assert_eq!(sliced.storage_indices().collect::<Vec<_>>(), vec![1, 4, 7]);
    }

    #[test]
    fn reshape_view_of_non_contiguous() {
        // [4, 6] narrowed to columns 0..3 → [4, 3] with strides [6, 1]; splitting rows works.
        let layout = Layout::contiguous(&[4, 6]).slice(1, 0, 3, 1).unwrap();
        let view = layout.reshape_view(&[2, 2, 3]).unwrap();
        assert_eq!(view.strides(), &[12, 6, 1]);
        // Merging rows and columns does not.
        assert!(layout.reshape_view(&[12]).is_none());
    }

    #[test]
    fn broadcasting() {
        assert_eq!(broadcast_shape("t", &[3, 1], &[4]).unwrap(), vec![3, 4]);
        assert!(broadcast_shape("t", &[3], &[4]).is_err());
        let layout = Layout::contiguous(&[3, 1])
            .broadcast_to(&[2, 3, 4])
            .unwrap();
        assert_eq!(layout.strides(), &[0, 1, 0]);
    }
}
