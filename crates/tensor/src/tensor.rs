//! The tensor type: shared storage plus a layout, generic over its element type.

use std::fmt;
use std::sync::Arc;

use crate::error::{Result, TensorError};
use crate::layout::{checked_numel, Layout};
use crate::{Device, Float, Rng, Storage};

/// An n-dimensional array of `f32` or `f64` on a [`Device`].
///
/// Cloning a tensor is cheap: clones and views share storage. Ops never modify their inputs;
/// [`Tensor::data_mut`] is the one mutable access, and it copies first if the storage is shared.
///
/// ```
/// use unravel_tensor::Tensor;
/// let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
/// let t_transposed = t.transpose(0, 1)?; // a view: no copy
/// assert_eq!(t_transposed.shape(), &[3, 2]);
/// assert_eq!(t_transposed.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// # Ok::<(), unravel_tensor::TensorError>(())
/// ```
#[derive(Clone)]
pub struct Tensor<E: Float> {
    storage: Arc<Storage<E>>,
    layout: Layout,
}

impl<E: Float> Tensor<E> {
    // ---- construction -------------------------------------------------------------------

    /// Takes ownership of a row-major buffer. Fails if `data.len()` does not fill `shape`.
    pub fn from_vec(data: Vec<E>, shape: &[usize]) -> Result<Self> {
        let expected = checked_numel(shape).ok_or_else(|| {
            TensorError::invalid("from_vec", format!("shape {shape:?} overflows usize"))
        })?;
        if expected != data.len() {
            return Err(TensorError::ElementCount {
                op: "from_vec",
                shape: shape.to_vec(),
                expected,
                got: data.len(),
            });
        }
        Ok(Self::from_contiguous(data, shape))
    }

    /// Copies a row-major slice.
    pub fn from_slice(data: &[E], shape: &[usize]) -> Result<Self> {
        Self::from_vec(data.to_vec(), shape)
    }

    /// Wraps a buffer whose length the caller has checked against `shape`.
    pub(crate) fn from_contiguous(data: Vec<E>, shape: &[usize]) -> Self {
        debug_assert_eq!(data.len(), crate::layout::numel(shape));
        Tensor {
            storage: Arc::new(Storage::Cpu(data)),
            layout: Layout::contiguous(shape),
        }
    }

    /// A tensor from existing storage and a layout; the layout must stay within the storage.
    pub fn from_storage(storage: Arc<Storage<E>>, layout: Layout) -> Result<Self> {
        if layout.storage_extent() > storage.len() {
            return Err(TensorError::invalid(
                "from_storage",
                format!(
                    "layout {:?} reaches index {} but the storage holds {} elements",
                    layout,
                    layout.storage_extent(),
                    storage.len()
                ),
            ));
        }
        Ok(Tensor { storage, layout })
    }

    /// A tensor of rank 0 holding one value.
    pub fn scalar(value: E) -> Self {
        Self::from_contiguous(vec![value], &[])
    }

    /// Every element `value`.
    pub fn full(shape: &[usize], value: E) -> Self {
        Self::from_contiguous(vec![value; crate::layout::numel(shape)], shape)
    }

    /// Every element 0.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, E::ZERO)
    }

    /// Every element 1.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, E::ONE)
    }

    /// `start, start + step, …` while below `end` (above it for a negative step), as a 1-D tensor.
    pub fn arange(start: E, end: E, step: E) -> Result<Self> {
        if step == E::ZERO || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(TensorError::invalid(
                "arange",
                format!(
                    "start {start}, end {end}, step {step}: need finite values and a non-zero step"
                ),
            ));
        }
        let count = ((end - start) / step).to_f64().ceil().max(0.0);
        if count > (isize::MAX as usize / std::mem::size_of::<E>()) as f64 {
            return Err(TensorError::invalid(
                "arange",
                format!(
                    "start {start}, end {end}, step {step}: {count} elements cannot be allocated"
                ),
            ));
        }
        let count = count as usize;
        let data: Vec<E> = (0..count)
            .map(|i| start + step * E::from_usize(i))
            .collect();
        Ok(Self::from_contiguous(data, &[count]))
    }

    /// Samples of N(mean, std²), drawn in row-major order from `rng`.
    pub fn randn(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Self {
        let data = (0..crate::layout::numel(shape))
            .map(|_| E::from_f64(mean + std * rng.normal()))
            .collect();
        Self::from_contiguous(data, shape)
    }

    /// Samples of U[low, high), drawn in row-major order from `rng`.
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Self {
        let data = (0..crate::layout::numel(shape))
            .map(|_| E::from_f64(rng.uniform(low, high)))
            .collect();
        Self::from_contiguous(data, shape)
    }

    // ---- accessors ----------------------------------------------------------------------

    pub fn shape(&self) -> &[usize] {
        self.layout.shape()
    }

    pub fn strides(&self) -> &[usize] {
        self.layout.strides()
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    pub fn device(&self) -> Device {
        self.storage.device()
    }

    pub fn dtype(&self) -> crate::DType {
        E::DTYPE
    }

    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Size of `axis`, checked.
    pub fn dim(&self, axis: usize) -> Result<usize> {
        crate::layout::check_axis("dim", axis, self.rank())?;
        Ok(self.shape()[axis])
    }

    /// The shared storage (for kernels that read strided data directly).
    pub fn storage(&self) -> &Arc<Storage<E>> {
        &self.storage
    }

    /// The whole host buffer behind this tensor, and the layout to read it with. Fails for a
    /// tensor that is not on the CPU.
    pub fn cpu_storage(&self, op: &'static str) -> Result<(&[E], &Layout)> {
        match &*self.storage {
            Storage::Cpu(data) => Ok((data, &self.layout)),
            #[allow(unreachable_patterns)]
            _ => Err(TensorError::UnsupportedDevice {
                op,
                device: self.device(),
            }),
        }
    }

    /// The elements as one row-major slice, if this tensor is contiguous and on the CPU.
    pub fn as_slice(&self) -> Option<&[E]> {
        match &*self.storage {
            Storage::Cpu(data) if self.layout.is_contiguous() => {
                let start = self.layout.offset();
                Some(&data[start..start + self.numel()])
            }
            _ => None,
        }
    }

    /// The elements as one row-major slice, copying into a fresh buffer only if this tensor is
    /// not contiguous. Fails for a tensor that is not on the CPU.
    pub fn contiguous_data(&self, op: &'static str) -> Result<std::borrow::Cow<'_, [E]>> {
        self.cpu_storage(op)?;
        Ok(match self.as_slice() {
            Some(slice) => std::borrow::Cow::Borrowed(slice),
            None => std::borrow::Cow::Owned(self.to_vec()),
        })
    }

    /// Mutable row-major access to the elements. Copies first if the storage is shared with
    /// another tensor or the layout is not a dense, offset-0 one, so no other tensor changes.
    pub fn data_mut(&mut self) -> Result<&mut [E]> {
        let dense = self.layout.is_contiguous()
            && self.layout.offset() == 0
            && self.storage.len() == self.numel();
        if !dense {
            let data = self.to_vec();
            *self = Self::from_contiguous(data, self.shape());
        }
        let storage = Arc::make_mut(&mut self.storage);
        match storage {
            Storage::Cpu(data) => Ok(data.as_mut_slice()),
            #[allow(unreachable_patterns)]
            _ => Err(TensorError::UnsupportedDevice {
                op: "data_mut",
                device: Device::Cpu,
            }),
        }
    }

    /// The elements in row-major order, copied to the host.
    pub fn to_vec(&self) -> Vec<E> {
        match &*self.storage {
            Storage::Cpu(data) => {
                if let Some(slice) = self.as_slice() {
                    slice.to_vec()
                } else {
                    self.layout.storage_indices().map(|i| data[i]).collect()
                }
            }
        }
    }

    /// One element by multi-index, bounds-checked.
    pub fn get(&self, index: &[usize]) -> Result<E> {
        if index.len() != self.rank() || index.iter().zip(self.shape()).any(|(&i, &s)| i >= s) {
            return Err(TensorError::invalid(
                "get",
                format!(
                    "index {index:?} is out of bounds for shape {:?}",
                    self.shape()
                ),
            ));
        }
        let (data, layout) = self.cpu_storage("get")?;
        Ok(data[layout.index_of(index)])
    }

    /// The single value of a tensor with one element.
    pub fn item(&self) -> Result<E> {
        if self.numel() != 1 {
            return Err(TensorError::invalid(
                "item",
                format!(
                    "tensor of shape {:?} has {} elements, not 1",
                    self.shape(),
                    self.numel()
                ),
            ));
        }
        let (data, layout) = self.cpu_storage("item")?;
        Ok(data[layout.offset()])
    }

    /// A dense row-major copy (or `self` if already contiguous).
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            return self.clone();
        }
        Self::from_contiguous(self.to_vec(), self.shape())
    }

    /// The same values in the other precision.
    pub fn cast<T: Float>(&self) -> Tensor<T> {
        let data = self
            .to_vec()
            .into_iter()
            .map(|v| T::from_f64(v.to_f64()))
            .collect();
        Tensor::from_contiguous(data, self.shape())
    }

    /// Replaces the layout, keeping the storage (used by the view ops).
    pub(crate) fn with_layout(&self, layout: Layout) -> Self {
        debug_assert!(layout.storage_extent() <= self.storage.len());
        Tensor {
            storage: Arc::clone(&self.storage),
            layout,
        }
    }
}

impl<E: Float> fmt::Debug for Tensor<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let values = self.to_vec();
        write!(
            f,
            "Tensor<{}>(shape={:?}, device={}, ",
            E::DTYPE,
            self.shape(),
            self.device()
        )?;
        write!(f, "{:?}", &values[..values.len().min(SHOWN)])?;
        if values.len() > SHOWN {
            write!(f, " … {} more", values.len() - SHOWN)?;
        }
        write!(f, ")")
    }
}
