//! Where a tensor's storage lives.

use std::fmt;

/// A compute device. Every op checks that its operands share one device and dispatches on it.
///
/// `Cuda` is part of the type from the start so that no code path may assume the CPU; its
/// storage and kernels are provided by the `cuda` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Host memory, computed by the crate's hand-written SIMD kernels on rayon's thread pool.
    #[default]
    Cpu,
    /// An NVIDIA GPU, by ordinal.
    Cuda(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
        }
    }
}

impl Device {
    /// GPU `ordinal`, checked: initialises the driver and the device (once per process) and
    /// fails with [`crate::TensorError::Cuda`] if there is no driver, no such GPU, or the crate
    /// was built without the `cuda` feature.
    ///
    /// ```
    /// use unravel_tensor::Device;
    /// match Device::cuda(0) {
    ///     Ok(device) => assert_eq!(device, Device::Cuda(0)),
    ///     Err(error) => println!("no GPU: {error}"),
    /// }
    /// ```
    pub fn cuda(ordinal: usize) -> crate::Result<Device> {
        #[cfg(feature = "cuda")]
        {
            crate::cuda::device(ordinal)?;
            Ok(Device::Cuda(ordinal))
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = ordinal;
            Err(crate::TensorError::Cuda {
                op: "Device::cuda",
                message: "unravel-tensor was built without the `cuda` feature".into(),
            })
        }
    }

    /// Waits until every operation queued on this device has finished, and reports an
    /// asynchronous kernel fault if one happened. Returns at once on the CPU (its ops are
    /// synchronous). Benchmarks call it before reading the clock: GPU launches return before
    /// the kernels run.
    ///
    /// ```
    /// use unravel_tensor::Device;
    /// Device::Cpu.synchronize()?;
    /// # Ok::<(), unravel_tensor::TensorError>(())
    /// ```
    pub fn synchronize(&self) -> crate::Result<()> {
        match *self {
            Device::Cpu => Ok(()),
            #[cfg(feature = "cuda")]
            Device::Cuda(ordinal) => {
                crate::cuda::device(ordinal)?.synchronize("Device::synchronize")
            }
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => Err(crate::TensorError::Cuda {
                op: "Device::synchronize",
                message: "unravel-tensor was built without the `cuda` feature".into(),
            }),
        }
    }
}
