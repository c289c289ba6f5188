//! The CUDA C sources of `kernels/`, embedded in the binary. Each is compiled by NVRTC once per
//! process and device, the first time an op of its family runs (see [`super::context`]).

/// One `kernels/*.cu` file.
#[derive(Debug, Clone, Copy)]
pub struct KernelFile {
    /// File name, e.g. `"gemm.cu"` (also the module's cache key).
    pub name: &'static str,
    /// The CUDA C source.
    pub source: &'static str,
}

macro_rules! kernel_file {
    ($name:literal) => {
        KernelFile {
            name: $name,
            source: include_str!(concat!("../../../../kernels/", $name)),
        }
    };
}

pub const ELEMENTWISE: KernelFile = kernel_file!("elementwise.cu");
pub const REDUCE: KernelFile = kernel_file!("reduce.cu");
pub const GEMM: KernelFile = kernel_file!("gemm.cu");
pub const CONV: KernelFile = kernel_file!("conv.cu");
pub const POOL: KernelFile = kernel_file!("pool.cu");
pub const BATCH_NORM: KernelFile = kernel_file!("batch_norm.cu");
pub const SOFTMAX: KernelFile = kernel_file!("softmax.cu");
pub const SGD: KernelFile = kernel_file!("sgd.cu");

/// Every kernel file, for the NVRTC compile test.
pub const ALL: [KernelFile; 8] = [
    ELEMENTWISE,
    REDUCE,
    GEMM,
    CONV,
    POOL,
    BATCH_NORM,
    SOFTMAX,
    SGD,
];
