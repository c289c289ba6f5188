//! `unravel experiment lesion` and `unravel experiment paths` end to end on a tiny untrained
//! network and a few real Fashion-MNIST test images: exit status, the JSON line, the files
//! written, and typed errors for bad requests. Skipped, with a message, when
//! /usr/share/datasets/fashion-mnist/ does not exist.

use std::path::{Path, PathBuf};

const DATA: &str = "/usr/share/datasets/fashion-mnist/";

mod common;
use common::{last_json, unravel};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("unravel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn have_data() -> bool {
    if Path::new(DATA).is_dir() {
        return true;
    }
    println!("skipped: {DATA} does not exist (apt-get install dataset-fashion-mnist)");
    false
}

const TINY: &[&str] = &[
    "--untrained",
    "--preset",
    "preact-resnet20",
    "--widths",
    "2,3,4",
    "--data",
    DATA,
];

#[test]
fn paths_writes_its_figures_and_json() {
    if !have_data() {
        return;
    }
    let out = scratch("paths");
    let out_text = out.to_str().unwrap();
    let mut arguments = vec![
        "experiment",
        "paths",
        "--batch",
        "8",
        "--samples",
        "2",
        "--json",
        "--out",
        out_text,
    ];
    arguments.extend_from_slice(TINY);
    let (ok, stdout, stderr) = unravel(&arguments);
    assert!(ok, "{stderr}");
    let json = last_json(&stdout);
    assert_eq!(json["experiment"], "paths");
    assert_eq!(json["blocks"], 9);
    assert_eq!(json["mean_path_length"], 4.5);
    assert_eq!(json["mean_gradient_norm"].as_array().unwrap().len(), 9);
    let range = json["effective_range"].as_array().unwrap();
    assert!(range[0].as_u64().unwrap() <= range[1].as_u64().unwrap());
    for file in [
        "path_lengths.csv",
        "path_gradients.csv",
        "path_gradient_by_length.csv",
        "fig6a_path_lengths.svg",
        "fig6a_path_lengths.png",
        "fig6b_gradient_per_path.svg",
        "fig6b_gradient_per_path.png",
        "fig6c_total_gradient.svg",
        "fig6c_total_gradient.png",
        "summary.txt",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let lengths = std::fs::read_to_string(out.join("path_lengths.csv")).unwrap();
    assert_eq!(lengths.lines().nth(5).unwrap(), "4,126,2.460938e-1"); // C(9, 4) = 126
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn lesion_writes_its_figures_and_json() {
    if !have_data() {
        return;
    }
    let out = scratch("lesion");
    let out_text = out.to_str().unwrap();
    let mut arguments = vec![
        "experiment",
        "lesion",
        "--test-samples",
        "40",
        "--batch-size",
        "20",
        "--max-deleted",
        "3",
        "--draws",
        "2",
        "--max-swaps",
        "2",
        "--swap-draws",
        "1",
        "--json",
        "--out",
        out_text,
    ];
    arguments.extend_from_slice(TINY);
    let (ok, stdout, stderr) = unravel(&arguments);
    assert!(ok, "{stderr}");
    let json = last_json(&stdout);
    assert_eq!(json["experiment"], "lesion");
    assert_eq!(json["test_images"], 40);
    assert_eq!(json["single_block_errors"].as_array().unwrap().len(), 9);
    assert_eq!(json["downsampling_blocks"], serde_json::json!([3, 6]));
    assert_eq!(
        json["random_deletion_mean_error"].as_array().unwrap().len(),
        3
    );
    assert_eq!(json["reorder_tau"].as_array().unwrap().len(), 2);
    let full = json["full_error"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&full));
    for file in [
        "lesion_single.csv",
        "lesion_random.csv",
        "reorder.csv",
        "fig3_lesion_single.svg",
        "fig3_lesion_single.png",
        "fig5a_lesion_random.svg",
        "fig5a_lesion_random.png",
        "fig5b_reorder.svg",
        "fig5b_reorder.png",
        "summary.txt",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn bad_requests_are_errors_not_panics() {
    if !have_data() {
        return;
    }
    let out = scratch("bad");
    let out_text = out.to_str().unwrap();
    // preact-resnet20 has 7 blocks that keep the shape: 8 cannot be deleted.
    let mut arguments = vec![
        "experiment",
        "lesion",
        "--test-samples",
        "10",
        "--max-deleted",
        "8",
        "--out",
        out_text,
    ];
    arguments.extend_from_slice(TINY);
    let (ok, _, stderr) = unravel(&arguments);
    assert!(!ok);
    assert!(stderr.contains("cannot delete 8 blocks"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A weights file that does not exist.
    let (ok, _, stderr) = unravel(&[
        "experiment",
        "paths",
        "--weights",
        "no-such-file.safetensors",
        "--out",
        out_text,
    ]);
    assert!(!ok);
    assert!(stderr.contains("no-such-file.safetensors"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // Neither weights nor --untrained.
    let (ok, _, _) = unravel(&["experiment", "paths", "--out", out_text]);
    assert!(!ok);
    std::fs::remove_dir_all(&out).ok();
}
