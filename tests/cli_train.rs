//! The `train`, `eval`, `plot` commands end to end on tiny IDX files, and their argument
//! errors.

use std::path::Path;
use std::process::{Command, Output};

use unravel_train::data::synthetic;

fn unravel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unravel"))
        .args(args)
        .env_remove("UNRAVEL_DATA")
        .output()
        .expect("the unravel binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes a Fashion-MNIST-shaped data set (IDX, 28×28, 10 classes) of `train` + `test` images.
fn write_idx(dir: &Path, train: usize, test: usize) {
    for (prefix, count, seed) in [("train", train, 1), ("t10k", test, 2)] {
        let data = synthetic(count, 10, 28, seed).unwrap();
        let mut images = vec![0, 0, 8, 3];
        for d in [count as u32, 28, 28] {
            images.extend_from_slice(&d.to_be_bytes());
        }
        images.extend_from_slice(data.images());
        let mut labels = vec![0, 0, 8, 1];
        labels.extend_from_slice(&(count as u32).to_be_bytes());
        labels.extend_from_slice(data.labels());
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
}

/// The value of `"key":` in a one-line JSON object.
fn field(json: &str, key: &str) -> serde_json::Value {
    let value: serde_json::Value =
        serde_json::from_str(json.trim().lines().last().unwrap()).unwrap();
    value[key].clone()
}

#[test]
fn train_stop_resume_eval_and_plot_on_idx_files() {
    let data = tempfile::tempdir().unwrap();
    write_idx(data.path(), 64, 40);
    let work = tempfile::tempdir().unwrap();
    let run = work.path().join("run");
    let (data_dir, run_dir) = (data.path().to_str().unwrap(), run.to_str().unwrap());
    let common = [
        "train",
        "--arch",
        "resnet20",
        "--widths",
        "2,2,2",
        "--epochs",
        "2",
        "--batch",
        "16",
        "--threads",
        "1",
        "--data",
        data_dir,
        "--out",
        run_dir,
        "--json",
    ];
    let mut first = common.to_vec();
    first.extend(["--stop-after-epochs", "1"]);
    let output = unravel(&first);
    assert!(output.status.success(), "{}", stderr(&output));
    let json = stdout(&output);
    assert_eq!(field(&json, "epochs"), 1);
    assert_eq!(field(&json, "interrupted"), true);

    let output = unravel(&[
        "train",
        "--resume",
        run_dir,
        "--data",
        data_dir,
        "--threads",
        "1",
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let resumed = stdout(&output);
    assert_eq!(
        resumed.trim().lines().count(),
        1,
        "--json prints one line: {resumed}"
    );
    for key in [
        "test_accuracy",
        "train_loss",
        "epochs",
        "images_per_s",
        "run_dir",
    ] {
        assert!(
            !field(&resumed, key).is_null(),
            "{key} missing from {resumed}"
        );
    }
    assert_eq!(field(&resumed, "epochs"), 2);
    assert_eq!(field(&resumed, "run_dir"), run_dir);
    let accuracy = field(&resumed, "test_accuracy").as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));

    // The uninterrupted run gives the same accuracy and loss, bit for bit.
    let whole_dir = work.path().join("whole");
    let mut whole = common.to_vec();
    let out_index = whole.len() - 2;
    whole[out_index] = whole_dir.to_str().unwrap();
    let output = unravel(&whole);
    assert!(output.status.success(), "{}", stderr(&output));
    let whole_json = stdout(&output);
    assert_eq!(
        field(&whole_json, "test_accuracy"),
        field(&resumed, "test_accuracy")
    );
    assert_eq!(
        field(&whole_json, "train_loss"),
        field(&resumed, "train_loss")
    );
    // Same tensors (the metadata's order in the header may differ).
    let weights = |dir: &Path| {
        unravel_resnet::weights::SafetensorsFile::open(dir.join("model.safetensors"))
            .unwrap()
            .tensors
    };
    assert!(
        weights(&run) == weights(&whole_dir),
        "resumed and uninterrupted weights differ"
    );

    let model = run.join("model.safetensors");
    let output = unravel(&[
        "eval",
        "--weights",
        model.to_str().unwrap(),
        "--data",
        data_dir,
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let evaluation = stdout(&output);
    assert_eq!(
        field(&evaluation, "test_accuracy"),
        field(&resumed, "test_accuracy")
    );
    let confusion = field(&evaluation, "confusion");
    let total: u64 = confusion
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .sum();
    assert_eq!(total, 40);
    let output = unravel(&[
        "eval",
        "--weights",
        model.to_str().unwrap(),
        "--data",
        data_dir,
    ]);
    assert!(
        stdout(&output).contains("true \\ predicted"),
        "{}",
        stdout(&output)
    );

    let stem = work.path().join("curves");
    let output = unravel(&[
        "plot",
        run_dir,
        whole_dir.to_str().unwrap(),
        "--out",
        stem.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    for extension in ["png", "svg"] {
        let bytes = std::fs::read(stem.with_extension(extension)).unwrap();
        assert!(
            bytes.len() > 1000,
            "{extension} plot is {} bytes",
            bytes.len()
        );
    }
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3);
}

#[test]
fn bad_arguments_are_clear_errors_not_panics() {
    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["train", "--epochs", "0"], "--epochs"),
        (&["train", "--batch", "0"], "--batch"),
        (&["train", "--dtype", "f16"], "--dtype"),
        (&["train", "--schedule", "linear"], "unknown schedule"),
        (&["train", "--lr=-1"], "--lr"),
        (&["train", "--epochs", "two"], "invalid value"),
        (
            &["train", "--dataset", "imagenet", "--data", dir],
            "unknown dataset",
        ),
        (
            &["train", "--data", dir, "--limit-train", "10"],
            "dataset-fashion-mnist",
        ),
        (&["train", "--resume", dir], "no checkpoint"),
        (
            &["eval", "--weights", "missing.safetensors"],
            "missing.safetensors",
        ),
        (&["plot", dir], "metrics.json"),
    ];
    for (args, expected) in cases {
        let output = unravel(args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let message = stderr(&output);
        assert!(message.contains(expected), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
}

#[test]
fn degradation_trains_each_network_once_and_refuses_a_changed_recipe() {
    let data = tempfile::tempdir().unwrap();
    write_idx(data.path(), 48, 32);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("degradation");
    let (data_dir, out_dir) = (data.path().to_str().unwrap(), out.to_str().unwrap());
    let run = |epochs: &str| {
        unravel(&[
            "experiment",
            "degradation",
            "--arches",
            "plain20,resnet20",
            "--widths",
            "2,2,2",
            "--epochs",
            epochs,
            "--batch",
            "16",
            "--threads",
            "1",
            "--data",
            data_dir,
            "--out",
            out_dir,
        ])
    };
    let first = run("2");
    assert!(first.status.success(), "{}", stderr(&first));
    for file in ["degradation.png", "degradation.svg", "summary.json"] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let arches: Vec<&str> = summary
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["arch"].as_str().unwrap())
        .collect();
    assert_eq!(arches, ["plain20", "resnet20"]);
    assert_eq!(summary[1]["epochs"], 2);

    // The same recipe again: nothing is retrained.
    let again = run("2");
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stdout(&again).matches("already trained").count(), 2);

    // Another recipe into the same directory: refused, nothing overwritten.
    let weights = std::fs::read(out.join("resnet20/model.safetensors")).unwrap();
    let changed = run("3");
    assert!(!changed.status.success());
    assert!(
        stderr(&changed).contains("another configuration"),
        "{}",
        stderr(&changed)
    );
    let after = std::fs::read(out.join("resnet20/model.safetensors")).unwrap();
    assert_eq!(weights, after);
}
