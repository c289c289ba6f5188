//! One handle per GPU (context, stream, compute capability, loaded kernel modules), created on
//! first use and cached for the life of the process.
//!
//! Initialisation order, each step a typed error rather than a panic:
//! 1. the driver library (`libcuda.so.1`) is looked for first (cudarc would panic without it);
//! 2. `cuInit`, the device count, and the ordinal are checked;
//! 3. the primary context and its default stream are taken;
//! 4. kernel modules are compiled by NVRTC and loaded lazily, one per `kernels/*.cu` file, the
//!    first time an op of that family runs on this device.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream, DriverError};
use cudarc::nvrtc::Ptx;

use super::kernels::KernelFile;
use super::nvrtc::{self, CodeKind};
use crate::error::{Result, TensorError};

/// A GPU ready for kernels: its context, the stream every op of this crate is queued on, and
/// the modules loaded so far.
pub struct CudaDevice {
    ordinal: usize,
    context: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    capability: (i32, i32),
    driver_version: (i32, i32),
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaDevice")
            .field("ordinal", &self.ordinal)
            .field("capability", &self.capability)
            .field("driver_version", &self.driver_version)
            .finish()
    }
}

/// Turns a driver error into the crate's error type.
pub(crate) fn driver_error(op: &'static str, call: &str, error: DriverError) -> TensorError {
    TensorError::Cuda {
        op,
        message: format!("{call}: {error:?}"),
    }
}

/// Whether the driver library can be loaded (checked once; cudarc panics if it is missing, so
/// every driver call of this crate is behind this check).
pub fn driver_is_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    // SAFETY: `is_culib_present` only tries `dlopen` on the driver's library names.
    *PRESENT.get_or_init(|| unsafe { cudarc::driver::sys::is_culib_present() })
}

fn require_driver(op: &'static str) -> Result<()> {
    if driver_is_present() {
        Ok(())
    } else {
        Err(TensorError::Cuda {
            op,
            message: "the CUDA driver library (libcuda.so.1) could not be loaded: no NVIDIA \
                      driver on this machine"
                .into(),
        })
    }
}

/// The driver's CUDA version `(major, minor)` (e.g. `(13, 0)`).
pub fn driver_version() -> Result<(i32, i32)> {
    require_driver("driver_version")?;
    let mut version = 0;
    // SAFETY: the library is present (checked above); cuDriverGetVersion writes one int through
    // a pointer to a local and needs no cuInit.
    let status = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) };
    if status != cudarc::driver::sys::CUresult::CUDA_SUCCESS {
        return Err(driver_error(
            "driver_version",
            "cuDriverGetVersion",
            DriverError(status),
        ));
    }
    Ok((version / 1000, (version % 1000) / 10))
}

/// Number of GPUs the driver sees (0 when there is no driver).
pub fn device_count() -> usize {
    if !driver_is_present() {
        return 0;
    }
    match CudaContext::device_count() {
        Ok(count) => count.max(0) as usize,
        Err(_) => 0,
    }
}

/// The cached handle of GPU `ordinal`, created on first use.
pub fn device(ordinal: usize) -> Result<Arc<CudaDevice>> {
    static DEVICES: OnceLock<Mutex<HashMap<usize, Arc<CudaDevice>>>> = OnceLock::new();
    let devices = DEVICES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut devices = devices.lock().map_err(|_| TensorError::Cuda {
        op: "cuda_device",
        message: "the device cache lock is poisoned".into(),
    })?;
    if let Some(device) = devices.get(&ordinal) {
        return Ok(Arc::clone(device));
    }
    let device = Arc::new(CudaDevice::open(ordinal)?);
    devices.insert(ordinal, Arc::clone(&device));
    Ok(device)
}

impl CudaDevice {
    fn open(ordinal: usize) -> Result<Self> {
        const OP: &str = "cuda_device";
        require_driver(OP)?;
        let driver_version = driver_version()?;
        cudarc::driver::result::init().map_err(|e| driver_error(OP, "cuInit", e))?;
        let count =
            CudaContext::device_count().map_err(|e| driver_error(OP, "cuDeviceGetCount", e))?;
        if ordinal >= count.max(0) as usize {
            return Err(TensorError::Cuda {
                op: OP,
                message: format!("no GPU with ordinal {ordinal}: the driver sees {count}"),
            });
        }
        let context = CudaContext::new(ordinal)
            .map_err(|e| driver_error(OP, "cuDevicePrimaryCtxRetain", e))?;
        let capability = context
            .compute_capability()
            .map_err(|e| driver_error(OP, "cuDeviceGetAttribute", e))?;
        let stream = context.default_stream();
        Ok(CudaDevice {
            ordinal,
            context,
            stream,
            capability,
            driver_version,
            modules: Mutex::new(HashMap::new()),
        })
    }

    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// Compute capability `(major, minor)`, e.g. `(9, 0)` for an H100/H200.
    pub fn capability(&self) -> (i32, i32) {
        self.capability
    }

    /// The stream every op of this crate runs on (the context's default stream, so all work on
    /// one device is ordered).
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    pub fn context(&self) -> &Arc<CudaContext> {
        &self.context
    }

    /// Waits for all queued work and reports any asynchronous kernel fault.
    pub fn synchronize(&self, op: &'static str) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| driver_error(op, "cuStreamSynchronize", e))
    }

    /// Kernel `function` of `file`, compiling and loading the file on first use.
    pub fn function(&self, file: &KernelFile, function: &str) -> Result<CudaFunction> {
        let module = self.module(file)?;
        module
            .load_function(function)
            .map_err(|e| TensorError::Cuda {
                op: "cuda_kernel",
                message: format!("{}: no kernel {function}: {e:?}", file.name),
            })
    }

    fn module(&self, file: &KernelFile) -> Result<Arc<CudaModule>> {
        let mut modules = self.modules.lock().map_err(|_| TensorError::Cuda {
            op: "cuda_kernel",
            message: "the module cache lock is poisoned".into(),
        })?;
        if let Some(module) = modules.get(file.name) {
            return Ok(Arc::clone(module));
        }
        let ptx = self.build(file)?;
        let module = self
            .context
            .load_module(ptx)
            .map_err(|e| TensorError::Cuda {
                op: "cuda_kernel",
                message: format!(
                    "loading {} failed: {e:?} (driver CUDA {}.{}; see docs/cuda.md, the \
                     version rule, and UNRAVEL_NVRTC / UNRAVEL_CUDA_CODE)",
                    file.name, self.driver_version.0, self.driver_version.1
                ),
            })?;
        modules.insert(file.name, Arc::clone(&module));
        Ok(module)
    }

    /// Compiles `file` for this device. The version rule: by default NVRTC emits a CUBIN for
    /// exactly this GPU (`sm_XY`), which a driver of the same CUDA major version loads even if
    /// the NVRTC is a newer minor release (NVRTC 13.5 → driver 13.0 works). PTX
    /// (`UNRAVEL_CUDA_CODE=ptx`) needs an NVRTC no newer than the driver, because the driver
    /// rejects a PTX ISA newer than its own. An NVRTC of a newer major version than the driver
    /// is refused up front with a message saying which library to point `UNRAVEL_NVRTC` at.
    fn build(&self, file: &KernelFile) -> Result<Ptx> {
        let (path, nvrtc_version) = nvrtc::version()?;
        let kind = code_kind()?;
        let driver = self.driver_version;
        let too_new = match kind {
            CodeKind::Cubin => nvrtc_version.0 > driver.0,
            CodeKind::Ptx => nvrtc_version > driver,
        };
        if too_new {
            return Err(TensorError::Cuda {
                op: "cuda_kernel",
                message: format!(
                    "NVRTC {}.{} ({path}) is newer than the driver (CUDA {}.{}): the driver \
                     would reject its {}; set UNRAVEL_NVRTC to a libnvrtc of CUDA {}.x (at most \
                     {}.{} for PTX)",
                    nvrtc_version.0,
                    nvrtc_version.1,
                    driver.0,
                    driver.1,
                    if kind == CodeKind::Cubin {
                        "CUBIN"
                    } else {
                        "PTX ISA"
                    },
                    driver.0,
                    driver.0,
                    driver.1
                ),
            });
        }
        let code = nvrtc::compile(file.source, file.name, self.capability, kind, &[])?;
        Ok(match kind {
            CodeKind::Cubin => Ptx::from_binary(code),
            CodeKind::Ptx => {
                let text = String::from_utf8_lossy(&code)
                    .trim_end_matches('\0')
                    .to_string();
                Ptx::from_src(text)
            }
        })
    }
}

/// `UNRAVEL_CUDA_CODE`: `cubin` (the default) or `ptx`.
fn code_kind() -> Result<CodeKind> {
    match std::env::var("UNRAVEL_CUDA_CODE").as_deref() {
        Err(_) | Ok("") | Ok("cubin") => Ok(CodeKind::Cubin),
        Ok("ptx") => Ok(CodeKind::Ptx),
        Ok(other) => Err(TensorError::Cuda {
            op: "cuda_kernel",
            message: format!("UNRAVEL_CUDA_CODE={other}: expected `cubin` or `ptx`"),
        }),
    }
}
