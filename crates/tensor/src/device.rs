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
