//! The CUDA C sources of `kernels/`, embedded in the binary, and the one table of their entry
//! points. Each file is compiled by NVRTC once per process and device, the first time an op of
//! its family runs (see [`super::context`]).
//!
//! Every kernel is a template over the element type, instantiated under `extern "C"` names with
//! a dtype suffix (`relu_backward_f32`, `relu_backward_f64`; see `kernels/element.cuh`). The
//! launch wrappers name a [`Kernel`] constant from this table and the element type; the
//! `cuda_compile` test checks, file by file, that the PTX NVRTC makes has exactly the entry
//! points this table lists — so every name the Rust side can launch exists, and no kernel
//! exists that the table forgets.

use crate::error::{Result, TensorError};
use crate::DType;

/// One `kernels/*.cu` file.
#[derive(Debug, Clone, Copy)]
pub struct KernelFile {
    /// File name, e.g. `"gemm.cu"` (also the module's cache key).
    pub name: &'static str,
    /// The CUDA C source.
    pub source: &'static str,
}

/// One entry point of a kernel file, before the dtype suffix.
#[derive(Debug, Clone, Copy)]
pub struct Kernel {
    /// The file that defines it.
    pub file: KernelFile,
    /// The name without the suffix, e.g. `"gemm"`.
    pub base: &'static str,
    /// The element types it is instantiated for.
    pub dtypes: &'static [DType],
}

/// The `extern "C"` name of kernel `base` for elements of `dtype`: `base_f32` or `base_f64`.
pub fn kernel_name(base: &str, dtype: DType) -> String {
    format!("{base}_{dtype}")
}

impl Kernel {
    /// The entry point for `dtype`, or `UnsupportedDType` (for `op`) if the kernel has no
    /// instance for it (the TF32 GEMM is f32 only).
    pub fn name(&self, op: &'static str, dtype: DType) -> Result<String> {
        if self.dtypes.contains(&dtype) {
            Ok(kernel_name(self.base, dtype))
        } else {
            Err(TensorError::UnsupportedDType { op, dtype })
        }
    }

    /// Every entry-point name of this kernel, one per dtype.
    pub fn names(&self) -> impl Iterator<Item = String> + '_ {
        self.dtypes
            .iter()
            .map(|&dtype| kernel_name(self.base, dtype))
    }
}

/// The headers the kernel files include (NVRTC gets them by name; there is no include path).
pub const HEADERS: [(&str, &str); 1] = [(
    "element.cuh",
    include_str!("../../../../kernels/element.cuh"),
)];

/// Both element types: the default instantiation.
const BOTH: &[DType] = &[DType::F32, DType::F64];

/// Defines a `KernelFile` constant per file and a `Kernel` constant per entry point, plus
/// [`ALL`] (every file) and [`KERNELS`] (every entry point), so the lists cannot drift apart.
macro_rules! kernel_table {
    ($(
        $file:ident = $file_name:literal {
            $( $kernel:ident = $base:literal $( only $dtype:ident )? ),* $(,)?
        }
    )*) => {
        $(
            pub const $file: KernelFile = KernelFile {
                name: $file_name,
                source: include_str!(concat!("../../../../kernels/", $file_name)),
            };
            $(
                pub const $kernel: Kernel = Kernel {
                    file: $file,
                    base: $base,
                    dtypes: kernel_table!(@dtypes $( $dtype )?),
                };
            )*
        )*

        /// Every kernel file, for the NVRTC compile test.
        pub const ALL: &[KernelFile] = &[$($file),*];

        /// Every entry point of every file, for the NVRTC compile test.
        pub const KERNELS: &[Kernel] = &[$($($kernel),*),*];
    };
    (@dtypes) => { BOTH };
    (@dtypes $dtype:ident) => { &[DType::$dtype] };
}

kernel_table! {
    ELEMENTWISE = "elementwise.cu" {
        BINARY_STRIDED = "binary_strided",
        BINARY_DENSE = "binary_dense",
        UNARY = "unary",
        RELU_BACKWARD = "relu_backward",
        ADD_RELU = "add_relu",
        GATHER = "gather",
        FILL = "fill",
        COPY_STRIDED = "copy_strided",
        SELECT_STRIDED = "select_strided",
    }
    REDUCE = "reduce.cu" {
        SUM_AXES = "sum_axes",
        EXTREME_AXES = "extreme_axes",
        ARGMAX_AXIS = "argmax_axis",
    }
    GEMM = "gemm.cu" {
        GEMM_EXACT = "gemm",
        GEMM_TF32 = "gemm_tf32" only F32,
    }
    CONV = "conv.cu" {
        IM2COL = "im2col",
        COL2IM = "col2im",
        ADD_CHANNEL_BIAS = "add_channel_bias",
    }
    POOL = "pool.cu" {
        MAX_POOL_FORWARD = "max_pool_forward",
        MAX_POOL_BACKWARD = "max_pool_backward",
        GLOBAL_AVG_POOL_FORWARD = "global_avg_pool_forward",
        GLOBAL_AVG_POOL_BACKWARD = "global_avg_pool_backward",
        AVG_POOL_FORWARD = "avg_pool_forward",
        AVG_POOL_BACKWARD = "avg_pool_backward",
    }
    BATCH_NORM = "batch_norm.cu" {
        BN_STATISTICS = "bn_statistics",
        BN_FORWARD = "bn_forward",
        BN_INVSTD = "bn_invstd",
        BN_BACKWARD_REDUCE = "bn_backward_reduce",
        BN_BACKWARD_INPUT = "bn_backward_input",
        BN_EVAL_BACKWARD_INPUT = "bn_eval_backward_input",
        BN_RUNNING_UPDATE = "bn_running_update",
    }
    SOFTMAX = "softmax.cu" {
        SOFTMAX_FORWARD = "softmax_forward",
        SOFTMAX_BACKWARD = "softmax_backward",
        CROSS_ENTROPY_FORWARD = "cross_entropy_forward",
        CROSS_ENTROPY_BACKWARD = "cross_entropy_backward",
    }
    SGD = "sgd.cu" {
        SGD_MOMENTUM = "sgd_momentum",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_dtype_suffix() {
        assert_eq!(
            kernel_name("relu_backward", DType::F64),
            "relu_backward_f64"
        );
        assert_eq!(GEMM_EXACT.name("matmul", DType::F32).unwrap(), "gemm_f32");
        assert_eq!(GEMM_EXACT.name("matmul", DType::F64).unwrap(), "gemm_f64");
        assert!(matches!(
            GEMM_TF32.name("matmul_tf32", DType::F64),
            Err(TensorError::UnsupportedDType {
                op: "matmul_tf32",
                dtype: DType::F64
            })
        ));
    }

    #[test]
    fn the_table_is_consistent() {
        let mut names: Vec<String> = KERNELS.iter().flat_map(|k| k.names()).collect();
        let count = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "an entry point is listed twice");
        for kernel in KERNELS {
            assert!(
                ALL.iter().any(|file| file.name == kernel.file.name),
                "{} belongs to no listed file",
                kernel.base
            );
            // The table and the sources name the same kernels (the PTX check is in the
            // cuda_compile test; this catches a typo without NVRTC).
            assert!(
                kernel
                    .file
                    .source
                    .contains(&format!(" {}##S(", kernel.base))
                    || kernel
                        .names()
                        .all(|name| kernel.file.source.contains(&name)),
                "{} is not defined in {}",
                kernel.base,
                kernel.file.name
            );
        }
        for file in ALL {
            assert!(
                KERNELS.iter().any(|k| k.file.name == file.name),
                "{} has no kernel",
                file.name
            );
        }
    }
}
