//! Without a GPU: every `kernels/*.cu` file compiles with NVRTC for sm_80 and sm_90 (CUBIN)
//! and compute_80 (PTX); its PTX has exactly the entry points of the kernel table
//! (`cuda::kernels::KERNELS`, the names the launch wrappers use), each as `_f32` and `_f64`
//! (only the TF32 GEMM is f32 only); and `Device::cuda` fails with a typed error when there is
//! no driver.
//! The compile test runs wherever libnvrtc can be loaded (CI installs `nvidia-cuda-nvrtc`) and
//! prints that it was skipped otherwise — unless `UNRAVEL_NVRTC` names a library, as in CI: then
//! failing to load it fails the test.
#![cfg(feature = "cuda")]

use std::collections::BTreeSet;

use unravel_tensor::cuda::kernels::{kernel_name, ALL, KERNELS};
use unravel_tensor::cuda::nvrtc::{self, CodeKind};
use unravel_tensor::{DType, Device, Tensor, TensorError};

/// Whether NVRTC can be used; where `UNRAVEL_NVRTC` names a library (CI sets it), failing to
/// load it is a failure, not a skip: otherwise these tests could pass without compiling
/// anything.
fn nvrtc_or_skip(test: &str) -> bool {
    if nvrtc::is_available() {
        return true;
    }
    assert!(
        std::env::var_os("UNRAVEL_NVRTC").is_none(),
        "UNRAVEL_NVRTC is set but NVRTC could not be loaded from it"
    );
    eprintln!("{test}: skipped: NVRTC could not be loaded (set LD_LIBRARY_PATH or UNRAVEL_NVRTC)");
    false
}

/// The names of the `.entry` directives of a PTX text (`.visible .entry name(`).
fn ptx_entries(ptx: &str) -> BTreeSet<String> {
    ptx.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix(".visible .entry ")?;
            Some(rest.split('(').next()?.trim().to_string())
        })
        .collect()
}

#[test]
fn every_kernel_source_compiles_with_nvrtc() {
    if !nvrtc_or_skip("every_kernel_source_compiles_with_nvrtc") {
        return;
    }
    let (path, version) = nvrtc::version().expect("nvrtcVersion");
    eprintln!("NVRTC {}.{} from {path}", version.0, version.1);
    let mut failures = Vec::new();
    for file in ALL {
        for (capability, kind) in [
            ((8, 0), CodeKind::Cubin),
            ((9, 0), CodeKind::Cubin),
            ((8, 0), CodeKind::Ptx),
        ] {
            match nvrtc::compile(file.source, file.name, capability, kind, &[]) {
                Ok(code) => assert!(!code.is_empty(), "{}: empty output", file.name),
                Err(error) => {
                    failures.push(format!("{} {capability:?} {kind:?}: {error}", file.name))
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "NVRTC errors:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_listed_kernel_is_an_entry_point_for_f32_and_f64() {
    if !nvrtc_or_skip("every_listed_kernel_is_an_entry_point_for_f32_and_f64") {
        return;
    }
    // Only the TF32 GEMM may lack an f64 instance; every other kernel must have both.
    let f32_only: Vec<&str> = KERNELS
        .iter()
        .filter(|k| !k.dtypes.contains(&DType::F64))
        .map(|k| k.base)
        .collect();
    assert_eq!(f32_only, ["gemm_tf32"], "kernels without an f64 instance");
    let mut failures = Vec::new();
    for file in ALL {
        let ptx = match nvrtc::compile(file.source, file.name, (8, 0), CodeKind::Ptx, &[]) {
            Ok(code) => String::from_utf8_lossy(&code).into_owned(),
            Err(error) => {
                failures.push(format!("{}: {error}", file.name));
                continue;
            }
        };
        let found = ptx_entries(&ptx);
        let mut listed = BTreeSet::new();
        for kernel in KERNELS.iter().filter(|k| k.file.name == file.name) {
            for dtype in [DType::F32, DType::F64] {
                let name = kernel_name(kernel.base, dtype);
                if kernel.dtypes.contains(&dtype) {
                    if !found.contains(&name) {
                        failures.push(format!("{}: no entry point {name}", file.name));
                    }
                    listed.insert(name);
                }
            }
        }
        assert!(!listed.is_empty(), "{}: no kernel in the table", file.name);
        for extra in found.difference(&listed) {
            failures.push(format!(
                "{}: entry point {extra} is not in cuda::kernels::KERNELS",
                file.name
            ));
        }
        eprintln!("{}: {} entry points", file.name, found.len());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_compile_error_is_reported_with_the_log() {
    if !nvrtc::is_available() {
        eprintln!("skipped: NVRTC could not be loaded");
        return;
    }
    let source = "extern \"C\" __global__ void broken(float* x) { x[0] = undefined_name; }";
    let error = nvrtc::compile(source, "broken.cu", (8, 0), CodeKind::Ptx, &[]).unwrap_err();
    match error {
        TensorError::Cuda { message, .. } => {
            assert!(message.contains("broken.cu"), "{message}");
            assert!(message.contains("undefined_name"), "{message}");
        }
        other => panic!("expected a CUDA error, got {other:?}"),
    }
}

#[test]
fn without_a_driver_device_initialisation_is_a_typed_error() {
    if unravel_tensor::cuda::driver_is_present() {
        eprintln!("skipped: this machine has a CUDA driver");
        return;
    }
    assert_eq!(unravel_tensor::cuda::device_count(), 0);
    let error = Device::cuda(0).unwrap_err();
    assert!(matches!(error, TensorError::Cuda { .. }), "{error:?}");
    assert!(error.to_string().contains("libcuda"), "{error}");
    let x = Tensor::<f32>::ones(&[3]);
    let error = x.to_device(Device::Cuda(0)).unwrap_err();
    assert!(matches!(error, TensorError::Cuda { .. }), "{error:?}");
}
