//! The crate's typed error. Every public op validates its arguments and reports what is wrong,
//! naming the op and the offending shapes, axes, dtypes or devices; user input never panics.

use crate::{DType, Device};

/// Result alias used by every fallible op.
pub type Result<T> = std::result::Result<T, TensorError>;

/// What went wrong, and in which op.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TensorError {
    /// Two shapes that must be equal are not.
    #[error("{op}: shape mismatch: {lhs:?} vs {rhs:?}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    /// Two shapes cannot be broadcast together (NumPy rules).
    #[error("{op}: shapes {lhs:?} and {rhs:?} cannot be broadcast together")]
    Broadcast {
        op: &'static str,
        lhs: Vec<usize>,
        rhs: Vec<usize>,
    },
    /// The number of elements given does not fill the shape.
    #[error("{op}: shape {shape:?} holds {expected} elements, got {got}")]
    ElementCount {
        op: &'static str,
        shape: Vec<usize>,
        expected: usize,
        got: usize,
    },
    /// An axis index is not below the tensor's rank.
    #[error("{op}: axis {axis} is out of range for a tensor of rank {rank}")]
    AxisOutOfRange {
        op: &'static str,
        axis: usize,
        rank: usize,
    },
    /// The tensor has the wrong number of dimensions for the op.
    #[error("{op}: expected a tensor of rank {expected}, got shape {shape:?}")]
    Rank {
        op: &'static str,
        expected: usize,
        shape: Vec<usize>,
    },
    /// A shape with more elements than can exist: their count, or their size in bytes,
    /// exceeds `isize::MAX` (see [`crate::layout::size_checked`]).
    #[error("{op}: shape {shape:?} is too large: its element count or size in bytes overflows isize::MAX")]
    ShapeOverflow { op: &'static str, shape: Vec<usize> },
    /// The memory for a tensor could not be allocated.
    #[error("{op}: out of memory: cannot allocate {bytes} bytes for shape {shape:?}")]
    OutOfMemory {
        op: &'static str,
        shape: Vec<usize>,
        bytes: usize,
    },
    /// Any other argument the op cannot accept, with an explanation.
    #[error("{op}: {message}")]
    InvalidArgument { op: &'static str, message: String },
    /// The operands live on different devices.
    #[error("{op}: operands are on different devices: {lhs} and {rhs}")]
    DeviceMismatch {
        op: &'static str,
        lhs: Device,
        rhs: Device,
    },
    /// The op has no kernel for this device (yet).
    #[error("{op}: not supported on device {device}")]
    UnsupportedDevice { op: &'static str, device: Device },
    /// The CUDA driver, NVRTC or a kernel launch failed (also: the driver or NVRTC library
    /// could not be loaded, or the crate was built without the `cuda` feature).
    #[error("{op}: CUDA: {message}")]
    Cuda { op: &'static str, message: String },
    /// A dtype that the op cannot take (for example when reading a file).
    #[error("{op}: unsupported dtype {dtype}")]
    UnsupportedDType { op: &'static str, dtype: DType },
}

impl TensorError {
    /// Shorthand for [`TensorError::InvalidArgument`].
    pub fn invalid(op: &'static str, message: impl Into<String>) -> Self {
        TensorError::InvalidArgument {
            op,
            message: message.into(),
        }
    }
}
