//! A small, fallible loader for NVRTC (the CUDA run-time compiler), and `compile`, which turns
//! one CUDA C source into a CUBIN (machine code for one GPU architecture) or PTX.
//!
//! We load NVRTC ourselves rather than through cudarc so that (a) a missing library is a typed
//! error, never a panic, and (b) the library can be chosen with the `UNRAVEL_NVRTC` environment
//! variable (a path to `libnvrtc.so…`), which is how one pins the NVRTC that matches the driver
//! (see `docs/cuda.md`, "The version rule").
//!
//! Search order: `UNRAVEL_NVRTC` if set (and nothing else), then `libnvrtc.so`,
//! `libnvrtc.so.13`, `libnvrtc.so.12`, `libnvrtc.so.11.2` through the dynamic loader's usual
//! path (`LD_LIBRARY_PATH`, the ld cache).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

use super::kernels::HEADERS;
use crate::error::{Result, TensorError};

type NvrtcResult = c_int;
type NvrtcProgram = *mut c_void;

/// The NVRTC entry points we call (signatures from `nvrtc.h`).
struct NvrtcApi {
    version: unsafe extern "C" fn(*mut c_int, *mut c_int) -> NvrtcResult,
    create_program: unsafe extern "C" fn(
        *mut NvrtcProgram,
        *const c_char,
        *const c_char,
        c_int,
        *const *const c_char,
        *const *const c_char,
    ) -> NvrtcResult,
    compile_program: unsafe extern "C" fn(NvrtcProgram, c_int, *const *const c_char) -> NvrtcResult,
    get_program_log_size: unsafe extern "C" fn(NvrtcProgram, *mut usize) -> NvrtcResult,
    get_program_log: unsafe extern "C" fn(NvrtcProgram, *mut c_char) -> NvrtcResult,
    get_ptx_size: unsafe extern "C" fn(NvrtcProgram, *mut usize) -> NvrtcResult,
    get_ptx: unsafe extern "C" fn(NvrtcProgram, *mut c_char) -> NvrtcResult,
    get_cubin_size: unsafe extern "C" fn(NvrtcProgram, *mut usize) -> NvrtcResult,
    get_cubin: unsafe extern "C" fn(NvrtcProgram, *mut c_char) -> NvrtcResult,
    destroy_program: unsafe extern "C" fn(*mut NvrtcProgram) -> NvrtcResult,
    get_error_string: unsafe extern "C" fn(NvrtcResult) -> *const c_char,
    /// Kept alive for as long as the function pointers above are used (the whole process).
    _library: libloading::Library,
    /// Which file was loaded, for messages.
    path: String,
}

/// What NVRTC produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    /// Machine code for exactly `sm_XY` (`--gpu-architecture=sm_XY`). Loaded by any driver of
    /// the same CUDA major version as the NVRTC that made it (minor-version compatibility).
    Cubin,
    /// PTX for the virtual architecture `compute_XY`, JIT-compiled by the driver at load. The
    /// driver accepts it only if its PTX ISA is not newer than the driver's.
    Ptx,
}

/// The NVRTC library, loaded once per process; `Err` says why it could not be loaded.
fn api() -> Result<&'static NvrtcApi> {
    static API: OnceLock<std::result::Result<NvrtcApi, String>> = OnceLock::new();
    API.get_or_init(load)
        .as_ref()
        .map_err(|message| TensorError::Cuda {
            op: "nvrtc",
            message: message.clone(),
        })
}

fn candidates() -> Vec<String> {
    match std::env::var("UNRAVEL_NVRTC") {
        Ok(path) if !path.is_empty() => vec![path],
        _ => [
            "libnvrtc.so",
            "libnvrtc.so.13",
            "libnvrtc.so.12",
            "libnvrtc.so.11.2",
        ]
        .iter()
        .map(|name| name.to_string())
        .collect(),
    }
}

fn load() -> std::result::Result<NvrtcApi, String> {
    let mut failures = Vec::new();
    for path in candidates() {
        // SAFETY: loading NVRTC runs its initialisers, which have no preconditions; the library
        // is a well-known NVIDIA component named explicitly by the user or by its soname.
        match unsafe { libloading::Library::new(&path) } {
            Ok(library) => return resolve(library, path),
            Err(error) => failures.push(format!("{path}: {error}")),
        }
    }
    Err(format!(
        "could not load NVRTC ({}); install it (e.g. `pip install nvidia-cuda-nvrtc`) and add \
         its lib folder to LD_LIBRARY_PATH, or set UNRAVEL_NVRTC to the library's path",
        failures.join("; ")
    ))
}

fn resolve(library: libloading::Library, path: String) -> std::result::Result<NvrtcApi, String> {
    macro_rules! symbol {
        ($name:literal) => {
            // SAFETY: the symbol is looked up by its C name from nvrtc.h and given the
            // signature declared there (the field type); the pointer is copied out and stays
            // valid because the library is stored alongside it and never unloaded.
            *unsafe { library.get($name) }
                .map_err(|error| format!("{path}: missing symbol {}: {error}", stringify!($name)))?
        };
    }
    Ok(NvrtcApi {
        version: symbol!(b"nvrtcVersion\0"),
        create_program: symbol!(b"nvrtcCreateProgram\0"),
        compile_program: symbol!(b"nvrtcCompileProgram\0"),
        get_program_log_size: symbol!(b"nvrtcGetProgramLogSize\0"),
        get_program_log: symbol!(b"nvrtcGetProgramLog\0"),
        get_ptx_size: symbol!(b"nvrtcGetPTXSize\0"),
        get_ptx: symbol!(b"nvrtcGetPTX\0"),
        get_cubin_size: symbol!(b"nvrtcGetCUBINSize\0"),
        get_cubin: symbol!(b"nvrtcGetCUBIN\0"),
        destroy_program: symbol!(b"nvrtcDestroyProgram\0"),
        get_error_string: symbol!(b"nvrtcGetErrorString\0"),
        _library: library,
        path: path.clone(),
    })
}

/// Whether NVRTC can be loaded (by the search order above).
pub fn is_available() -> bool {
    api().is_ok()
}

/// The path of the loaded NVRTC library and its version `(major, minor)`.
pub fn version() -> Result<(String, (i32, i32))> {
    let api = api()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: nvrtcVersion writes two ints through the pointers, which point to locals.
    let status = unsafe { (api.version)(&mut major, &mut minor) };
    check(api, status, "nvrtcVersion")?;
    Ok((api.path.clone(), (major, minor)))
}

fn check(api: &NvrtcApi, status: NvrtcResult, call: &str) -> Result<()> {
    if status == 0 {
        return Ok(());
    }
    // SAFETY: nvrtcGetErrorString returns a pointer to a static, NUL-terminated string for any
    // status value (or null, which we check).
    let text = unsafe {
        let pointer = (api.get_error_string)(status);
        if pointer.is_null() {
            String::from("unknown error")
        } else {
            CStr::from_ptr(pointer).to_string_lossy().into_owned()
        }
    };
    Err(TensorError::Cuda {
        op: "nvrtc",
        message: format!("{call} failed with status {status} ({text})"),
    })
}

/// An NVRTC program, destroyed on drop.
struct Program<'a> {
    api: &'a NvrtcApi,
    handle: NvrtcProgram,
}

impl Drop for Program<'_> {
    fn drop(&mut self) {
        // SAFETY: `handle` was created by nvrtcCreateProgram and is destroyed exactly once.
        unsafe {
            (self.api.destroy_program)(&mut self.handle);
        }
    }
}

/// Compiles the CUDA C `source` (file name `name`, for messages) for compute capability
/// `capability = (major, minor)`, returning a CUBIN or a NUL-terminated PTX text.
///
/// Options: `-std=c++17 -default-device`, the architecture
/// (`sm_XY` for a CUBIN, `compute_XY` for PTX), and `extra_options`. The headers of
/// [`super::kernels::HEADERS`] (`element.cuh`) are available to `#include "…"`. A compile error
/// is a [`TensorError::Cuda`] carrying NVRTC's full log.
pub fn compile(
    source: &str,
    name: &str,
    capability: (i32, i32),
    kind: CodeKind,
    extra_options: &[&str],
) -> Result<Vec<u8>> {
    let api = api()?;
    let to_c = |text: &str| {
        CString::new(text).map_err(|_| TensorError::Cuda {
            op: "nvrtc",
            message: format!("{name}: text contains a NUL byte"),
        })
    };
    let source_c = to_c(source)?;
    let name_c = to_c(name)?;
    let header_sources = HEADERS
        .iter()
        .map(|(_, text)| to_c(text))
        .collect::<Result<Vec<_>>>()?;
    let header_names = HEADERS
        .iter()
        .map(|(header, _)| to_c(header))
        .collect::<Result<Vec<_>>>()?;
    let header_source_pointers: Vec<*const c_char> =
        header_sources.iter().map(|h| h.as_ptr()).collect();
    let header_name_pointers: Vec<*const c_char> =
        header_names.iter().map(|h| h.as_ptr()).collect();
    let arch = match kind {
        CodeKind::Cubin => format!("--gpu-architecture=sm_{}{}", capability.0, capability.1),
        CodeKind::Ptx => format!(
            "--gpu-architecture=compute_{}{}",
            capability.0, capability.1
        ),
    };
    let mut options = vec![to_c(&arch)?, to_c("-std=c++17")?, to_c("-default-device")?];
    for option in extra_options {
        options.push(to_c(option)?);
    }
    let option_pointers: Vec<*const c_char> = options.iter().map(|o| o.as_ptr()).collect();

    let mut program = Program {
        api,
        handle: std::ptr::null_mut(),
    };
    // SAFETY: the source and name are NUL-terminated strings alive for the call, and the two
    // header arrays hold `HEADERS.len()` pointers each to live NUL-terminated strings (NVRTC
    // copies them into the program).
    let status = unsafe {
        (api.create_program)(
            &mut program.handle,
            source_c.as_ptr(),
            name_c.as_ptr(),
            HEADERS.len() as c_int,
            header_source_pointers.as_ptr(),
            header_name_pointers.as_ptr(),
        )
    };
    check(api, status, "nvrtcCreateProgram")?;
    // SAFETY: `option_pointers` holds `options.len()` pointers to live NUL-terminated strings.
    let status = unsafe {
        (api.compile_program)(
            program.handle,
            option_pointers.len() as c_int,
            option_pointers.as_ptr(),
        )
    };
    if status != 0 {
        let log = program_log(&program).unwrap_or_default();
        return Err(TensorError::Cuda {
            op: "nvrtc",
            message: format!("{name} ({arch}) does not compile:\n{log}"),
        });
    }
    let (size_fn, get_fn, what) = match kind {
        CodeKind::Cubin => (api.get_cubin_size, api.get_cubin, "nvrtcGetCUBIN"),
        CodeKind::Ptx => (api.get_ptx_size, api.get_ptx, "nvrtcGetPTX"),
    };
    let mut size = 0usize;
    // SAFETY: writes one usize through a pointer to a local.
    check(api, unsafe { size_fn(program.handle, &mut size) }, what)?;
    let mut code = vec![0u8; size];
    // SAFETY: NVRTC writes exactly `size` bytes (the size it just reported) into `code`.
    check(
        api,
        unsafe { get_fn(program.handle, code.as_mut_ptr().cast()) },
        what,
    )?;
    Ok(code)
}

fn program_log(program: &Program<'_>) -> Result<String> {
    let mut size = 0usize;
    // SAFETY: writes one usize through a pointer to a local.
    let status = unsafe { (program.api.get_program_log_size)(program.handle, &mut size) };
    check(program.api, status, "nvrtcGetProgramLogSize")?;
    let mut log = vec![0u8; size.max(1)];
    // SAFETY: NVRTC writes `size` bytes (including the NUL) into a buffer of at least that size.
    let status = unsafe { (program.api.get_program_log)(program.handle, log.as_mut_ptr().cast()) };
    check(program.api, status, "nvrtcGetProgramLog")?;
    Ok(String::from_utf8_lossy(&log)
        .trim_end_matches('\0')
        .to_string())
}
