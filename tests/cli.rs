//! The `summary`, `forward`, `presets` and `parity` commands, run as a user runs them: exit
//! status, and the JSON object on the last line of stdout.

use std::path::{Path, PathBuf};

mod common;
use common::{last_json, unravel};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/parity")
        .join(name)
}

#[test]
fn summary_prints_the_seeds_totals_as_json() {
    let (ok, stdout, stderr) = unravel(&[
        "summary",
        "seed-resnet152",
        "--input",
        "2x3x224x224",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Estimated Total Size (MB): 963.74"));
    let json = last_json(&stdout);
    assert_eq!(json["total_params"], 60_196_712);
    assert_eq!(json["trainable_params"], 60_196_712);
    assert_eq!(json["mult_adds_g"], 23.03);
    assert_eq!(json["input_mb"], 1.2);
    assert_eq!(json["forward_backward_mb"], 721.75);
    assert_eq!(json["params_mb"], 240.79);
    assert_eq!(json["total_mb"], 963.74);
}

#[test]
fn forward_reports_shape_and_time() {
    let (ok, stdout, stderr) = unravel(&[
        "forward",
        "resnet20",
        "--input",
        "2x1x28x28",
        "--in-channels",
        "1",
        "--classes",
        "7",
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let json = last_json(&stdout);
    assert_eq!(json["output_shape"], serde_json::json!([2, 7]));
    assert!(json["seconds"].as_f64().unwrap() >= 0.0);
    // A shape the model cannot take is an error message and a non-zero exit, not a panic.
    let (ok, _, stderr) = unravel(&["forward", "resnet20", "--input", "2x1x28x28"]);
    assert!(!ok);
    assert!(stderr.contains("expected 3 input channels"), "{stderr}");
    let (ok, _, stderr) = unravel(&["forward", "resnet20", "--input", "2x1x28"]);
    assert!(!ok && stderr.contains("N×C×H×W"), "{stderr}");
}

#[test]
fn presets_lists_every_preset_with_its_parameter_count() {
    let (ok, stdout, stderr) = unravel(&["presets", "--json"]);
    assert!(ok, "{stderr}");
    let json = last_json(&stdout);
    let presets = json["presets"].as_array().unwrap();
    assert_eq!(presets.len(), unravel_resnet::presets::NAMES.len());
    let count = |name: &str| presets.iter().find(|p| p["name"] == name).unwrap()["params"].clone();
    assert_eq!(count("resnet50"), 25_557_032);
    assert_eq!(count("resnet1202"), 19_421_274);
    assert_eq!(count("seed-resnet152"), 60_196_712);
}

#[test]
fn parity_passes_on_a_fixture_and_fails_on_a_corrupted_one() {
    let good = fixture("cifar20_optA_b4_32x32.safetensors");
    let (ok, stdout, stderr) = unravel(&["parity", good.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("grad.layer1.0.conv1.weight"));
    let json = last_json(&stdout);
    assert_eq!(json["passed"], true);
    assert_eq!(json["fixtures"].as_array().unwrap().len(), 2); // f64 and f32

    // Raise the expected loss by 0.1 % (far above the 1e-8 tolerance): the command must notice
    // and exit non-zero.
    let file = unravel_resnet::weights::SafetensorsFile::open(&good).unwrap();
    let offset = file.tensors["expect.loss"].offset as usize;
    let mut bytes = std::fs::read(&good).unwrap();
    let loss = f64::from_le_bytes(bytes[offset..offset + 8].try_into().unwrap());
    bytes[offset..offset + 8].copy_from_slice(&(loss * 1.001).to_le_bytes());
    let bad = std::env::temp_dir().join(format!(
        "unravel-cli-bad-{}.safetensors",
        std::process::id()
    ));
    std::fs::write(&bad, &bytes).unwrap();
    let (ok, stdout, _) = unravel(&["parity", bad.to_str().unwrap(), "--quiet", "--json"]);
    std::fs::remove_file(&bad).ok();
    assert!(!ok);
    assert!(
        stdout.contains("loss") && stdout.contains("FAILED"),
        "{stdout}"
    );
    assert_eq!(last_json(&stdout)["passed"], false);
}

#[test]
fn a_reader_closing_stdout_early_ends_the_program_quietly() {
    // resnet1202's summary is far longer than a pipe's buffer, so writes fail once the reader
    // is gone (`unravel summary … | head`).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_unravel"))
        .args(["summary", "resnet1202"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the unravel binary runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(141), "{stderr}");
}
