//! safetensors state dicts: round trips, int64 counters, strict loading that reports every
//! problem at once and changes nothing, file errors naming the file and byte offset, atomic
//! saves, and checkpoints with the optimizer's state.

use std::path::PathBuf;

use unravel_resnet::nn::StateRef;
use unravel_resnet::presets::{self, PresetOptions};
use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_resnet::weights::{self, SafetensorsFile};
use unravel_resnet::{ResNet, ResnetError};
use unravel_tensor::{Float, Tensor};

/// `name` in a directory of its own (tests run in parallel and one of them lists its directory).
fn scratch(name: &str) -> PathBuf {
    let directory = std::env::temp_dir().join(format!(
        "unravel-weights-test-{}-{}",
        std::process::id(),
        name.replace('.', "-")
    ));
    std::fs::create_dir_all(&directory).unwrap();
    directory.join(name)
}

/// Removes the directory `scratch` made for `path`.
fn clean(path: &std::path::Path) {
    if let Some(directory) = path.parent() {
        std::fs::remove_dir_all(directory).ok();
    }
}

fn small(name: &str, classes: usize, seed: u64) -> ResNet<f64> {
    let options = PresetOptions {
        widths: Some(vec![4, 8, 16]),
        num_classes: Some(classes),
        ..Default::default()
    };
    presets::build(name, &options, seed).unwrap()
}

fn state<E: Float>(model: &ResNet<E>) -> Vec<(String, Vec<f64>)> {
    let mut out = Vec::new();
    unravel_resnet::nn::Module::visit_state(model, "", &mut |name, entry| {
        let values = match entry {
            StateRef::Parameter(p) => p.value.to_vec().iter().map(|v| v.to_f64()).collect(),
            StateRef::Buffer(b) => b.to_vec().iter().map(|v| v.to_f64()).collect(),
            StateRef::Counter(c) => vec![c as f64],
        };
        out.push((name.to_string(), values));
    });
    out
}

#[test]
fn save_then_load_restores_every_entry_with_int64_counters() {
    let mut source = small("resnet20", 10, 1);
    // Make the buffers and counters non-trivial.
    unravel_resnet::nn::Module::visit_state_mut(&mut source, "", &mut |_, entry| match entry {
        unravel_resnet::nn::StateMut::Buffer(b) => *b = b.add_scalar(0.25).unwrap(),
        unravel_resnet::nn::StateMut::Counter(c) => *c = 41,
        _ => {}
    });
    let path = scratch("roundtrip.safetensors");
    weights::save(&source, None, &path).unwrap();
    let file = SafetensorsFile::open(&path).unwrap();
    assert_eq!(
        file.tensors["bn1.num_batches_tracked"].dtype,
        safetensors::Dtype::I64
    );
    assert_eq!(
        file.tensors["bn1.num_batches_tracked"].shape,
        Vec::<usize>::new()
    );
    assert_eq!(file.tensors["conv1.weight"].dtype, safetensors::Dtype::F64);
    let mut target = small("resnet20", 10, 2);
    assert_ne!(state(&source), state(&target));
    let report = weights::load(&mut target, &path, true).unwrap();
    assert_eq!(report.loaded, state(&source).len());
    assert_eq!(state(&source), state(&target));
    // And into f32 (values rounded to f32).
    let mut single = presets::build::<f32>(
        "resnet20",
        &PresetOptions {
            widths: Some(vec![4, 8, 16]),
            ..Default::default()
        },
        3,
    )
    .unwrap();
    weights::load(&mut single, &path, true).unwrap();
    for ((name, a), (_, b)) in state(&source).iter().zip(state(&single)) {
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= 1e-6 * x.abs().max(1.0), "{name}");
        }
    }
    assert!(
        !std::fs::read_dir(path.parent().unwrap()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp-"))
    );
    clean(&path);
}

#[test]
fn strict_loading_reports_every_problem_in_one_error_and_changes_nothing() {
    // File: resnet32 (5 blocks per stage, option A), 5 classes.
    let path = scratch("mismatch.safetensors");
    weights::save(&small("resnet32", 5, 1), None, &path).unwrap();
    // Model: resnet20 with projection shortcuts, 10 classes.
    let options = PresetOptions {
        widths: Some(vec![4, 8, 16]),
        shortcut: Some(unravel_resnet::config::ShortcutKind::B),
        ..Default::default()
    };
    let mut model = presets::build::<f64>("resnet20", &options, 2).unwrap();
    let before = state(&model);
    let error = weights::load(&mut model, &path, true).unwrap_err();
    match &error {
        ResnetError::StateDict {
            path: p,
            missing,
            unexpected,
            mismatched,
        } => {
            assert_eq!(p, &path);
            assert!(missing.contains(&"layer2.0.downsample.0.weight".to_string()));
            assert!(missing.contains(&"layer3.0.downsample.1.num_batches_tracked".to_string()));
            assert_eq!(missing.len(), 2 * 6);
            assert!(unexpected.contains(&"layer1.3.conv1.weight".to_string()));
            assert_eq!(unexpected.len(), 3 * 2 * (2 + 2 * 5)); // 6 blocks × (2 convs + 2 BNs)
            let names: Vec<&str> = mismatched.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(names, ["fc.bias", "fc.weight"]);
            assert_eq!(mismatched[1].expected, vec![10, 16]);
            assert_eq!(mismatched[1].found, vec![5, 16]);
        }
        other => panic!("expected a state-dict error, got {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("missing")
            && message.contains("unexpected")
            && message.contains("mismatch")
    );
    assert_eq!(
        before,
        state(&model),
        "a failed strict load must not change the model"
    );

    // Non-strict: what matches is loaded, the rest reported.
    let report = weights::load(&mut model, &path, false).unwrap();
    assert_eq!(report.missing.len(), 12);
    assert_eq!(report.mismatched.len(), 2);
    assert!(report.loaded > 0);
    clean(&path);
}

/// A hand-made safetensors file: length, header padded with spaces to 8 bytes, data.
fn safetensors_bytes(header: &[u8], data: &[u8]) -> (Vec<u8>, usize) {
    let mut padded = header.to_vec();
    padded.resize(header.len().div_ceil(8) * 8, b' ');
    let mut bytes = (padded.len() as u64).to_le_bytes().to_vec();
    bytes.extend(&padded);
    bytes.extend(data);
    (bytes, padded.len())
}

#[test]
fn file_errors_name_the_file_and_offset() {
    let missing = scratch("does-not-exist.safetensors");
    let error = SafetensorsFile::open(&missing).unwrap_err();
    assert!(matches!(error, ResnetError::Io { .. }));
    assert!(error.to_string().contains("does-not-exist.safetensors"));

    let truncated = scratch("truncated.safetensors");
    weights::save(&small("resnet20", 10, 1), None, &truncated).unwrap();
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let error = SafetensorsFile::open(&truncated).unwrap_err();
    assert!(matches!(error, ResnetError::File { .. }), "{error}");
    assert!(error.to_string().contains("truncated.safetensors"));

    let garbage = scratch("garbage.safetensors");
    let mut bytes = 16u64.to_le_bytes().to_vec();
    bytes.extend(b"{not json at all");
    std::fs::write(&garbage, &bytes).unwrap();
    let error = SafetensorsFile::open(&garbage).unwrap_err();
    // The header starts at byte 8; the JSON goes wrong at its second character.
    assert!(error.to_string().contains("(byte 9)"), "{error}");

    // A dtype the loader does not read: its tensor and byte offset are named.
    let header = br#"{"w":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    let (bytes, header_length) = safetensors_bytes(header, &[0; 4]);
    let half = scratch("half.safetensors");
    std::fs::write(&half, &bytes).unwrap();
    let error = SafetensorsFile::open(&half).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("`w`") && message.contains(&format!("(byte {})", 8 + header_length)),
        "{message}"
    );

    // A float counter is refused with its offset.
    let header = br#"{"bn1.num_batches_tracked":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#;
    let (bytes, _) = safetensors_bytes(header, &[0; 4]);
    let float_counter = scratch("float-counter.safetensors");
    std::fs::write(&float_counter, &bytes).unwrap();
    let mut model = small("resnet20", 10, 1);
    let error = weights::load(&mut model, &float_counter, false).unwrap_err();
    assert!(error.to_string().contains("int64"), "{error}");
    for path in [&missing, &truncated, &garbage, &half, &float_counter] {
        clean(path);
    }
}

#[test]
fn checkpoints_carry_the_optimizer_state() {
    let mut model = small("resnet20", 10, 1);
    let mut optimizer = Sgd::<f64>::new(SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 5e-4,
        nesterov: true,
        ..Default::default()
    });
    optimizer.momentum_buffers.insert(
        "fc.bias".into(),
        Tensor::from_vec((0..10).map(f64::from).collect(), &[10]).unwrap(),
    );
    let path = scratch("checkpoint.safetensors");
    weights::save(&model, Some(&optimizer), &path).unwrap();
    // Overwriting an existing file works and stays atomic.
    weights::save(&model, Some(&optimizer), &path).unwrap();
    let mut restored = Sgd::<f64>::new(SgdConfig::default());
    let mut other = small("resnet20", 10, 9);
    weights::load_checkpoint(&mut other, &mut restored, &path, true).unwrap();
    assert_eq!(restored.config, optimizer.config);
    assert_eq!(
        restored.momentum_buffers["fc.bias"].to_vec(),
        optimizer.momentum_buffers["fc.bias"].to_vec()
    );
    assert_eq!(state(&model), state(&other));
    // The model-only loader accepts a checkpoint (optimizer entries are not model state).
    weights::load(&mut model, &path, true).unwrap();
    clean(&path);
}

#[test]
fn a_pytorch_state_dict_loads_directly() {
    // The parity fixtures hold state dicts written by PyTorch (float32, int64 counters).
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/parity/cifar20_optA_b4_32x32.safetensors");
    let file = SafetensorsFile::open(&path).unwrap();
    let mut model = presets::build::<f32>("resnet20", &PresetOptions::default(), 0).unwrap();
    let is_state = |n: &str| !n.starts_with("expect.") && n != "input" && n != "target";
    let report = weights::load_state(&mut model, &file, true, &is_state).unwrap();
    assert_eq!(report.loaded, state(&model).len());
    assert_eq!(model.parameter_count(), 269_722);
}
