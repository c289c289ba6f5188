//! The tensor type: shared storage plus a layout, generic over its element type.

use std::fmt;
use std::sync::Arc;

use crate::error::{Result, TensorError};
use crate::layout::{check_shape, Layout};
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

    /// Takes ownership of a row-major buffer. Fails if `data.len()` does not fill `shape`, or
    /// if `shape` has more elements than can exist ([`TensorError::ShapeOverflow`]).
    pub fn from_vec(data: Vec<E>, shape: &[usize]) -> Result<Self> {
        let expected = check_shape("from_vec", shape, std::mem::size_of::<E>())?;
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
        const OP: &str = "from_storage";
        check_shape(OP, layout.shape(), std::mem::size_of::<E>())?;
        match layout.checked_storage_extent() {
            Some(extent) if extent <= storage.len() => Ok(Tensor { storage, layout }),
            extent => Err(TensorError::invalid(
                OP,
                format!(
                    "layout {layout:?} reaches index {} but the storage holds {} elements",
                    extent.map_or("past usize::MAX".to_string(), |e| e.to_string()),
                    storage.len()
                ),
            )),
        }
    }

    /// A tensor of rank 0 holding one value.
    pub fn scalar(value: E) -> Self {
        Self::from_contiguous(vec![value], &[])
    }

    /// The element count of `shape`; panics with the [`TensorError::ShapeOverflow`] message
    /// if it is too large (the documented panic of the infallible constructors).
    fn expect_shape(op: &'static str, shape: &[usize]) -> usize {
        check_shape(op, shape, std::mem::size_of::<E>()).unwrap_or_else(|error| panic!("{error}"))
    }

    /// An empty buffer with room for the elements of `shape`, and their count; a shape too
    /// large to exist or memory the allocator refuses is an error, not a panic or an abort.
    fn try_buffer(op: &'static str, shape: &[usize]) -> Result<(Vec<E>, usize)> {
        let count = check_shape(op, shape, std::mem::size_of::<E>())?;
        let mut data = Vec::new();
        data.try_reserve_exact(count)
            .map_err(|_| TensorError::OutOfMemory {
                op,
                shape: shape.to_vec(),
                bytes: count * std::mem::size_of::<E>(),
            })?;
        Ok((data, count))
    }

    /// Every element `value`.
    ///
    /// # Panics
    /// If `shape` has more elements than can exist (their bytes overflow `isize::MAX`); and,
    /// like `vec!`, it aborts if the allocator cannot provide the memory.
    /// [`Tensor::try_full`] returns both as errors.
    pub fn full(shape: &[usize], value: E) -> Self {
        let count = Self::expect_shape("full", shape);
        Self::from_contiguous(vec![value; count], shape)
    }

    /// Every element 0. Panics or aborts as [`Tensor::full`] does; [`Tensor::try_zeros`]
    /// does not.
    pub fn zeros(shape: &[usize]) -> Self {
        let count = Self::expect_shape("zeros", shape);
        Self::from_contiguous(vec![E::ZERO; count], shape)
    }

    /// Every element `value`, created on `device` (on a GPU by a fill kernel, no host copy).
    /// Fails with [`TensorError::Cuda`] if the GPU cannot be used.
    ///
    /// ```
    /// use unravel_tensor::{Device, Tensor};
    /// let x = Tensor::<f32>::full_on(&[2], 3.0, Device::Cpu)?;
    /// assert_eq!(x.to_vec(), vec![3.0, 3.0]);
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn full_on(shape: &[usize], value: E, device: Device) -> Result<Self> {
        match device {
            Device::Cpu => Self::try_full(shape, value),
            #[cfg(feature = "cuda")]
            Device::Cuda(ordinal) => crate::cuda::ops::elementwise::full(shape, value, ordinal),
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => Err(TensorError::Cuda {
                op: "full_on",
                message: "unravel-tensor was built without the `cuda` feature".into(),
            }),
        }
    }

    /// Every element 0, on `device`; see [`Tensor::full_on`].
    pub fn zeros_on(shape: &[usize], device: Device) -> Result<Self> {
        Self::full_on(shape, E::ZERO, device)
    }

    /// Every element 1. Panics or aborts as [`Tensor::full`] does; [`Tensor::try_ones`] does
    /// not.
    pub fn ones(shape: &[usize]) -> Self {
        let count = Self::expect_shape("ones", shape);
        Self::from_contiguous(vec![E::ONE; count], shape)
    }

    /// [`Tensor::full`] that returns a shape too large to exist
    /// ([`TensorError::ShapeOverflow`]) or a failed allocation ([`TensorError::OutOfMemory`])
    /// as an error, for shapes that come from outside (a file, a user).
    ///
    /// ```
    /// use unravel_tensor::{Tensor, TensorError};
    /// assert_eq!(Tensor::<f32>::try_full(&[2, 2], 0.5)?.to_vec(), vec![0.5; 4]);
    /// // 2^80 elements cannot exist; 2^60 f32 (4 EiB) can be asked for, but not allocated.
    /// let too_many = Tensor::<f32>::try_full(&[1 << 40, 1 << 40], 0.5).unwrap_err();
    /// assert!(matches!(too_many, TensorError::ShapeOverflow { op: "full", .. }));
    /// let too_big = Tensor::<f32>::try_full(&[1 << 30, 1 << 30], 0.5).unwrap_err();
    /// assert!(matches!(too_big, TensorError::OutOfMemory { op: "full", bytes, .. } if bytes == 1 << 62));
    /// # Ok::<(), TensorError>(())
    /// ```
    pub fn try_full(shape: &[usize], value: E) -> Result<Self> {
        Self::try_filled("full", shape, value)
    }

    /// [`Tensor::zeros`], with the errors of [`Tensor::try_full`].
    pub fn try_zeros(shape: &[usize]) -> Result<Self> {
        Self::try_filled("zeros", shape, E::ZERO)
    }

    /// [`Tensor::ones`], with the errors of [`Tensor::try_full`].
    pub fn try_ones(shape: &[usize]) -> Result<Self> {
        Self::try_filled("ones", shape, E::ONE)
    }

    fn try_filled(op: &'static str, shape: &[usize], value: E) -> Result<Self> {
        let (mut data, count) = Self::try_buffer(op, shape)?;
        data.resize(count, value);
        Ok(Self::from_contiguous(data, shape))
    }

    /// `start, start + step, …` while below `end` (above it for a negative step), as a 1-D tensor.
    pub fn arange(start: E, end: E, step: E) -> Result<Self> {
        const OP: &str = "arange";
        if step == E::ZERO || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "start {start}, end {end}, step {step}: need finite values and a non-zero step"
                ),
            ));
        }
        let count = ((end - start) / step).to_f64().ceil().max(0.0);
        if count > (isize::MAX as usize / std::mem::size_of::<E>()) as f64 {
            return Err(TensorError::invalid(
                OP,
                format!(
                    "start {start}, end {end}, step {step}: {count} elements cannot be allocated"
                ),
            ));
        }
        let (mut data, count) = Self::try_buffer(OP, &[count as usize])?;
        data.extend((0..count).map(|i| start + step * E::from_usize(i)));
        Ok(Self::from_contiguous(data, &[count]))
    }

    /// Samples of N(mean, std²), drawn in row-major order from `rng`. Panics or aborts as
    /// [`Tensor::full`] does; [`Tensor::try_randn`] does not.
    pub fn randn(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Self {
        let count = Self::expect_shape("randn", shape);
        let data = (0..count)
            .map(|_| E::from_f64(mean + std * rng.normal()))
            .collect();
        Self::from_contiguous(data, shape)
    }

    /// [`Tensor::randn`], with the errors of [`Tensor::try_full`] (`rng` is not advanced when
    /// it fails).
    pub fn try_randn(shape: &[usize], mean: f64, std: f64, rng: &mut Rng) -> Result<Self> {
        let (mut data, count) = Self::try_buffer("randn", shape)?;
        data.extend((0..count).map(|_| E::from_f64(mean + std * rng.normal())));
        Ok(Self::from_contiguous(data, shape))
    }

    /// Samples of U[low, high), drawn in row-major order from `rng`. Panics or aborts as
    /// [`Tensor::full`] does; [`Tensor::try_rand_uniform`] does not.
    pub fn rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Self {
        let count = Self::expect_shape("rand_uniform", shape);
        let data = (0..count)
            .map(|_| E::from_f64(rng.uniform(low, high)))
            .collect();
        Self::from_contiguous(data, shape)
    }

    /// [`Tensor::rand_uniform`], with the errors of [`Tensor::try_full`] (`rng` is not
    /// advanced when it fails).
    pub fn try_rand_uniform(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Result<Self> {
        let (mut data, count) = Self::try_buffer("rand_uniform", shape)?;
        data.extend((0..count).map(|_| E::from_f64(rng.uniform(low, high))));
        Ok(Self::from_contiguous(data, shape))
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
        if self.device() != Device::Cpu {
            return Err(TensorError::UnsupportedDevice {
                op: "data_mut",
                device: self.device(),
            });
        }
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
                device: storage.device(),
            }),
        }
    }

    /// The elements in row-major order, copied to the host.
    ///
    /// # Panics
    /// For a GPU tensor, if the device-to-host copy fails (a driver fault, e.g. an earlier
    /// kernel crashed the context); [`Tensor::try_to_vec`] returns that as an error instead.
    /// A CPU tensor never panics.
    pub fn to_vec(&self) -> Vec<E> {
        match self.try_to_vec() {
            Ok(values) => values,
            Err(error) => panic!("to_vec: {error}"),
        }
    }

    /// The elements in row-major order, copied to the host; fails only if a device copy fails.
    pub fn try_to_vec(&self) -> Result<Vec<E>> {
        match &*self.storage {
            Storage::Cpu(data) => Ok(if let Some(slice) = self.as_slice() {
                slice.to_vec()
            } else {
                self.layout.storage_indices().map(|i| data[i]).collect()
            }),
            #[cfg(feature = "cuda")]
            Storage::Cuda(storage) => {
                let data = storage.to_host()?;
                Ok(self.layout.storage_indices().map(|i| data[i]).collect())
            }
        }
    }

    /// A copy of this tensor on `device` (the same tensor, sharing storage, if it is already
    /// there). Host→GPU and GPU→host copies; GPU→GPU goes through the host. Fails with
    /// [`TensorError::Cuda`] if the GPU cannot be used (no driver, no such ordinal, no `cuda`
    /// feature).
    ///
    /// ```
    /// use unravel_tensor::{Device, Tensor};
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3])?;
    /// assert_eq!(x.to_device(Device::Cpu)?.to_vec(), vec![1.0, 2.0, 3.0]);
    /// if let Ok(gpu) = Device::cuda(0) {
    ///     assert_eq!(x.to_device(gpu)?.to_vec(), vec![1.0, 2.0, 3.0]);
    /// }
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn to_device(&self, device: Device) -> Result<Tensor<E>> {
        if device == self.device() {
            return Ok(self.clone());
        }
        match device {
            Device::Cpu => Ok(Self::from_contiguous(self.try_to_vec()?, self.shape())),
            #[cfg(feature = "cuda")]
            Device::Cuda(ordinal) => {
                let host = self.try_to_vec()?;
                let storage = crate::cuda::CudaStorage::from_host(&host, ordinal)?;
                Ok(Tensor {
                    storage: Arc::new(Storage::Cuda(storage)),
                    layout: Layout::contiguous(self.shape()),
                })
            }
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => Err(TensorError::Cuda {
                op: "to_device",
                message: "unravel-tensor was built without the `cuda` feature".into(),
            }),
        }
    }

    /// A dense GPU tensor wrapping a buffer just written by a kernel.
    #[cfg(feature = "cuda")]
    pub(crate) fn from_cuda(storage: crate::cuda::CudaStorage<E>, shape: &[usize]) -> Self {
        debug_assert!(storage.len() >= crate::layout::numel(shape));
        Tensor {
            storage: Arc::new(Storage::Cuda(storage)),
            layout: Layout::contiguous(shape),
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
        let position = self.layout.index_of(index);
        self.element_at("get", position)
    }

    /// The element at storage position `position` (a host read, or a one-element copy from
    /// the GPU).
    #[cfg_attr(not(feature = "cuda"), allow(unused_variables))]
    fn element_at(&self, op: &'static str, position: usize) -> Result<E> {
        match &*self.storage {
            Storage::Cpu(data) => Ok(data[position]),
            #[cfg(feature = "cuda")]
            Storage::Cuda(storage) => storage.read_element(op, position),
        }
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
        self.element_at("item", self.layout.offset())
    }

    /// A dense row-major copy (or `self` if already contiguous), on the same device.
    ///
    /// # Panics
    /// For a non-contiguous GPU tensor, if a device copy fails; see [`Tensor::try_contiguous`].
    pub fn contiguous(&self) -> Self {
        match self.try_contiguous() {
            Ok(tensor) => tensor,
            Err(error) => panic!("contiguous: {error}"),
        }
    }

    /// A dense row-major copy (or `self` if already contiguous), on the same device; fails only
    /// if a device copy fails. (A GPU tensor is gathered on the GPU by the `gather` kernel.)
    pub fn try_contiguous(&self) -> Result<Self> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        #[cfg(feature = "cuda")]
        if crate::cuda::launch::is_cuda(self) {
            return crate::cuda::ops::elementwise::contiguous("contiguous", self);
        }
        Self::from_contiguous(self.try_to_vec()?, self.shape()).to_device(self.device())
    }

    /// The same values in the other precision, on the same device.
    ///
    /// # Panics
    /// For a GPU tensor, if a device copy fails.
    pub fn cast<T: Float>(&self) -> Tensor<T> {
        let data = self
            .to_vec()
            .into_iter()
            .map(|v| T::from_f64(v.to_f64()))
            .collect();
        let host = Tensor::from_contiguous(data, self.shape());
        match host.to_device(self.device()) {
            Ok(tensor) => tensor,
            Err(error) => panic!("cast: {error}"),
        }
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
        write!(
            f,
            "Tensor<{}>(shape={:?}, device={}, ",
            E::DTYPE,
            self.shape(),
            self.device()
        )?;
        let values = match self.try_to_vec() {
            Ok(values) => values,
            Err(error) => return write!(f, "<values not readable: {error}>)"),
        };
        write!(f, "{:?}", &values[..values.len().min(SHOWN)])?;
        if values.len() > SHOWN {
            write!(f, " … {} more", values.len() - SHOWN)?;
        }
        write!(f, ")")
    }
}
