//! Without a GPU: every `kernels/*.cu` file compiles with NVRTC for sm_80 and sm_90 (CUBIN)
//! and compute_80 (PTX), and `Device::cuda` fails with a typed error when there is no driver.
//! The compile test runs wherever libnvrtc can be loaded (CI installs `nvidia-cuda-nvrtc`) and
//! prints that it was skipped otherwise — unless `UNRAVEL_NVRTC` names a library, as in CI: then
//! failing to load it fails the test.
#![cfg(feature = "cuda")]

use unravel_tensor::cuda::kernels::ALL;
use unravel_tensor::cuda::nvrtc::{self, CodeKind};
use unravel_tensor::{Device, Tensor, TensorError};

#[test]
fn every_kernel_source_compiles_with_nvrtc() {
    if !nvrtc::is_available() {
        // Where NVRTC was named explicitly (CI sets it), failing to load it is a failure, not a
        // skip: otherwise this test could pass without compiling anything.
        assert!(
            std::env::var_os("UNRAVEL_NVRTC").is_none(),
            "UNRAVEL_NVRTC is set but NVRTC could not be loaded from it"
        );
        eprintln!("skipped: NVRTC could not be loaded (set LD_LIBRARY_PATH or UNRAVEL_NVRTC)");
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
