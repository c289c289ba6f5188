//! Figure 7's layer responses: one per 3×3 conv, the network's outputs unchanged by the probes,
//! and the stem's std equal to a direct computation.

use unravel_autograd::Tape;
use unravel_resnet::nn::{Context, Mode};
use unravel_resnet::presets::{build, PresetOptions};
use unravel_train::data::{loaders, synthetic};
use unravel_train::responses::layer_responses;
use unravel_train::TrainConfig;

fn options() -> PresetOptions {
    PresetOptions {
        widths: Some(vec![2, 3, 4]),
        in_channels: Some(1),
        num_classes: Some(3),
        ..Default::default()
    }
}

#[test]
fn one_response_per_three_by_three_conv_and_outputs_unchanged() {
    let config = TrainConfig {
        batch_size: 8,
        augment: false,
        ..TrainConfig::default()
    };
    let (_, loader) = loaders(
        &config,
        synthetic(16, 3, 8, 0).unwrap(),
        synthetic(12, 3, 8, 1).unwrap(),
    )
    .unwrap();
    for (arch, layers) in [("resnet20", 19), ("plain20", 19), ("resnet32", 31)] {
        let mut model = build::<f64>(arch, &options(), 3).unwrap();
        let (images, _) = loader.epoch::<f64>(0).next().unwrap();
        let before = model.predict(&images).unwrap().to_vec();
        let responses = layer_responses(&mut model, &loader).unwrap();
        assert_eq!(responses.len(), layers, "{arch}");
        assert_eq!(responses[0].name, "bn1");
        assert_eq!(responses[1].name, "block 1 bn1");
        assert!(responses.iter().all(|r| r.std.is_finite() && r.std > 0.0));
        assert_eq!(model.predict(&images).unwrap().to_vec(), before, "{arch}");
    }
}

#[test]
fn the_stem_response_is_the_std_of_bn1_of_conv1() {
    let config = TrainConfig {
        batch_size: 12,
        augment: false,
        ..TrainConfig::default()
    };
    let (_, loader) = loaders(
        &config,
        synthetic(16, 3, 8, 0).unwrap(),
        synthetic(12, 3, 8, 1).unwrap(),
    )
    .unwrap();
    let mut model = build::<f64>("resnet20", &options(), 5).unwrap();
    let (images, _) = loader.epoch::<f64>(0).next().unwrap();
    let tape = Tape::new();
    let _no_grad = tape.no_grad();
    let mut context = Context::new(&tape, Mode::Eval);
    let conv = model.features[0]
        .module
        .forward(&mut context, &tape.constant(images))
        .unwrap();
    let normalised = model.features[1]
        .module
        .forward(&mut context, &conv)
        .unwrap();
    let values = normalised.value().to_vec();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    let responses = layer_responses(&mut model, &loader).unwrap();
    assert!(
        (responses[0].std - std).abs() < 1e-9 * std.max(1.0),
        "{} vs {std}",
        responses[0].std
    );
}
