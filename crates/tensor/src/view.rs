//! View ops: new layouts over the same storage, no data copied (except `reshape` of a layout that
//! cannot be reinterpreted, which copies, as in PyTorch).

use crate::error::{Result, TensorError};
use crate::layout::{check_axis, check_shape};
use crate::{Float, Tensor};

impl<E: Float> Tensor<E> {
    /// The same elements in a new shape, row-major. A view when the layout allows one.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        // A shape whose element count overflows could wrap around to ours.
        if check_shape("reshape", shape, std::mem::size_of::<E>())? != self.numel() {
            return Err(TensorError::ShapeMismatch {
                op: "reshape",
                lhs: self.shape().to_vec(),
                rhs: shape.to_vec(),
            });
        }
        Ok(match self.layout().reshape_view(shape) {
            Some(layout) => self.with_layout(layout),
            // A dense copy on the same device (a GPU gather for a GPU tensor), then a view.
            None => {
                let dense = self.try_contiguous()?;
                let offset = dense.layout().offset();
                dense.with_layout(crate::layout::Layout::from_parts(
                    shape.to_vec(),
                    crate::layout::contiguous_strides(shape),
                    offset,
                ))
            }
        })
    }

    /// Axes `start..=end` merged into one, e.g. `[N, C, H, W].flatten(1, 3)` → `[N, C·H·W]`.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Self> {
        check_axis("flatten", end, self.rank())?;
        if start > end {
            return Err(TensorError::invalid(
                "flatten",
                format!("start axis {start} > end axis {end}"),
            ));
        }
        let shape = self.shape();
        let mut new_shape = shape[..start].to_vec();
        new_shape.push(shape[start..=end].iter().product());
        new_shape.extend_from_slice(&shape[end + 1..]);
        self.reshape(&new_shape)
    }

    /// Axes reordered: output axis `i` is input axis `axes[i]`.
    pub fn permute(&self, axes: &[usize]) -> Result<Self> {
        Ok(self.with_layout(self.layout().permute(axes)?))
    }

    /// Axes `a` and `b` swapped.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Self> {
        check_axis("transpose", a, self.rank())?;
        check_axis("transpose", b, self.rank())?;
        let mut axes: Vec<usize> = (0..self.rank()).collect();
        axes.swap(a, b);
        self.permute(&axes)
    }

    /// `len` elements of `axis` starting at `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Self> {
        let end = start
            .checked_add(len)
            .ok_or_else(|| TensorError::invalid("narrow", "start + len overflows"))?;
        self.slice(axis, start, end, 1)
    }

    /// Elements `start, start + step, …` below `end` along `axis` (a stride-2 subsample is
    /// `slice(axis, 0, size, 2)`).
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Self> {
        Ok(self.with_layout(self.layout().slice(axis, start, end, step)?))
    }

    /// Broadcast to `shape` with NumPy rules (repeated elements share storage).
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        check_shape("broadcast_to", shape, std::mem::size_of::<E>())?;
        Ok(self.with_layout(self.layout().broadcast_to(shape)?))
    }

    /// PyTorch's `expand`: like [`Tensor::broadcast_to`], where `None` keeps an axis's size.
    pub fn expand(&self, shape: &[Option<usize>]) -> Result<Self> {
        let lead = shape
            .len()
            .checked_sub(self.rank())
            .ok_or_else(|| TensorError::Broadcast {
                op: "expand",
                lhs: self.shape().to_vec(),
                rhs: shape.iter().map(|s| s.unwrap_or(0)).collect(),
            })?;
        let mut target = Vec::with_capacity(shape.len());
        for (i, size) in shape.iter().enumerate() {
            target.push(match size {
                Some(s) => *s,
                None if i >= lead => self.shape()[i - lead],
                None => {
                    return Err(TensorError::invalid(
                        "expand",
                        format!("new leading axis {i} needs a size"),
                    ))
                }
            });
        }
        self.broadcast_to(&target)
    }

    /// A size-1 axis inserted at `axis`.
    pub fn unsqueeze(&self, axis: usize) -> Result<Self> {
        check_axis("unsqueeze", axis, self.rank() + 1)?;
        let mut shape = self.shape().to_vec();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// The size-1 axis `axis` removed.
    pub fn squeeze(&self, axis: usize) -> Result<Self> {
        check_axis("squeeze", axis, self.rank())?;
        if self.shape()[axis] != 1 {
            return Err(TensorError::invalid(
                "squeeze",
                format!("axis {axis} of shape {:?} is not 1", self.shape()),
            ));
        }
        let mut shape = self.shape().to_vec();
        shape.remove(axis);
        self.reshape(&shape)
    }
}
