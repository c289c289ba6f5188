//! `summary` against torchinfo: the seed's printed table for its ResNet-152, torchvision's
//! parameter and mult-add counts, and the CIFAR option-A counts of He et al. 2015, Table 6.

use std::path::Path;

use unravel_resnet::presets::{self, PresetOptions};
use unravel_resnet::summary::Summary;
use unravel_resnet::ResnetError;

fn seed_table() -> String {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/000_aedb99f73ae9de01.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // The table is the first indented block that starts with a row of '='.
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with("===="))
        .expect("the seed has a torchinfo table");
    lines[start..]
        .iter()
        .take_while(|l| l.starts_with("    "))
        .map(|l| &l[4..])
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn seed_resnet152_table_is_identical_to_the_seeds() {
    let model = presets::build::<f32>("seed-resnet152", &PresetOptions::default(), 0).unwrap();
    let summary = Summary::new(&model, &[2, 3, 224, 224], 3).unwrap();
    let ours = summary.table();
    let seed = seed_table();
    assert_eq!(seed.lines().count(), 226);
    for (line, (a, b)) in ours.lines().zip(seed.lines()).enumerate() {
        assert_eq!(a, b, "line {line} differs");
    }
    assert_eq!(ours, seed);
    assert_eq!(summary.total_params, 60_196_712);
    assert_eq!(format!("{:.2}", summary.mult_adds_g()), "23.03");
    assert_eq!(format!("{:.2}", summary.input_mb()), "1.20");
    assert_eq!(format!("{:.2}", summary.forward_backward_mb()), "721.75");
    assert_eq!(format!("{:.2}", summary.params_mb()), "240.79");
    assert_eq!(format!("{:.2}", summary.total_mb()), "963.74");
}

#[test]
fn torchvision_presets_have_torchvisions_counts() {
    let expected = [
        ("resnet18", 11_689_512, "1.81"),
        ("resnet34", 21_797_672, "3.66"),
        ("resnet50", 25_557_032, "4.09"),
        ("resnet101", 44_549_160, "7.80"),
        ("resnet152", 60_192_808, "11.51"),
    ];
    for (name, params, mult_adds) in expected {
        let model = presets::build::<f32>(name, &PresetOptions::default(), 0).unwrap();
        let summary = Summary::new(&model, &[1, 3, 224, 224], 3).unwrap();
        assert_eq!(summary.total_params, params, "{name}");
        assert_eq!(summary.trainable_params, params, "{name}");
        assert_eq!(format!("{:.2}", summary.mult_adds_g()), mult_adds, "{name}");
        let json = summary.to_json();
        assert_eq!(json["total_params"], params);
        for key in [
            "mult_adds_g",
            "input_mb",
            "forward_backward_mb",
            "params_mb",
            "total_mb",
        ] {
            assert!(json[key].is_number(), "{name}: {key}");
        }
    }
}

#[test]
fn resnet18_table_matches_torchinfo_layout() {
    let model = presets::build::<f32>("resnet18", &PresetOptions::default(), 0).unwrap();
    let table = Summary::new(&model, &[1, 3, 224, 224], 3).unwrap().table();
    // Rows as torchinfo prints them for torchvision's resnet18.
    for row in [
        "├─Conv2d: 1-1                            [1, 64, 112, 112]         9,408",
        "│    └─BasicBlock: 2-3                   [1, 128, 28, 28]          --",
        "│    │    └─Sequential: 3-18             [1, 128, 28, 28]          8,448",
        "├─Linear: 1-10                           [1, 1000]                 513,000",
        "Forward/backward pass size (MB): 39.75",
        "Estimated Total Size (MB): 87.11",
    ] {
        assert!(table.contains(row), "missing row {row:?} in\n{table}");
    }
}

#[test]
fn cifar_option_a_presets_have_the_papers_counts() {
    let expected = [
        ("resnet20", 269_722),
        ("resnet32", 464_154),
        ("resnet44", 658_586),
        ("resnet56", 853_018),
        ("resnet110", 1_727_962),
        ("resnet1202", 19_421_274),
    ];
    for (name, params) in expected {
        let config = presets::config(name, &PresetOptions::default()).unwrap();
        assert_eq!(presets::parameter_count(&config).unwrap(), params, "{name}");
    }
    let model = presets::build::<f32>("resnet56", &PresetOptions::default(), 0).unwrap();
    let summary = Summary::new(&model, &[1, 3, 32, 32], 3).unwrap();
    assert_eq!(summary.total_params, 853_018);
    assert!(summary.table().contains("ZeroPadShortcut"));
}

#[test]
fn a_wrong_input_is_a_typed_error() {
    let model = presets::build::<f32>("resnet20", &PresetOptions::default(), 0).unwrap();
    match Summary::new(&model, &[1, 1, 32, 32], 3) {
        Err(ResnetError::Input { layer, message }) => {
            assert_eq!(layer, "Conv2d");
            assert!(message.contains("3 input channels"), "{message}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
    assert!(Summary::new(&model, &[1, 3, 32], 3).is_err());
    assert!(matches!(
        presets::config("resnet19", &PresetOptions::default()),
        Err(ResnetError::UnknownPreset { .. })
    ));
}
