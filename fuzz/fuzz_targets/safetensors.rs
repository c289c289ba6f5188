//! The safetensors readers on arbitrary bytes: decoding (`SafetensorsFile::from_bytes`, which
//! `SafetensorsFile::open` calls), then everything that consumes a decoded file — loading a
//! state dict (strict and not), an optimizer checkpoint, and a training checkpoint with its
//! configuration and progress — into a tiny ResNet. Each must return Ok or a typed error, never
//! panic; what the decoder accepts must be consistent with its header.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_resnet::weights::{self, SafetensorsFile, StoredData};
use unravel_resnet::{ResNet, ResNetConfig};
use unravel_train::checkpoint;

/// One stage of one basic block, width 1, one input channel, two classes: 20 state entries,
/// so that seeds (in `fuzz/seeds/safetensors`) are small.
const SPEC: &str = r#"{"block":"basic","layers":[1],"widths":[1],"stem":"cifar","stem_width":1,
    "in_channels":1,"num_classes":2,"shortcut":"A"}"#;

fn tiny_model() -> ResNet<f32> {
    let config = ResNetConfig::from_spec_json(SPEC, None).expect("the spec is valid");
    ResNet::new(&config, 0).expect("the tiny model builds")
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(file) = SafetensorsFile::from_bytes(Path::new("fuzz.safetensors"), bytes) else {
        return;
    };
    for (name, tensor) in &file.tensors {
        let count = match &tensor.data {
            StoredData::Float(values) => values.len(),
            StoredData::Int(values) => values.len(),
        };
        assert_eq!(
            Some(count),
            tensor
                .shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
        );
        assert!(tensor.offset >= 8 && tensor.offset <= bytes.len() as u64);
        match tensor.data {
            StoredData::Float(_) => assert_eq!(file.tensor::<f32>(name).unwrap().numel(), count),
            StoredData::Int(_) => assert_eq!(file.int64(name).unwrap().len(), count),
        }
    }

    let mut model = tiny_model();
    let _ = weights::load_state(&mut model, &file, false, &|_| true);
    let _ = weights::load_state(&mut model, &file, true, &|_| true);
    let mut optimizer = Sgd::<f32>::new(SgdConfig::default());
    let _ = weights::load_checkpoint_file(&mut model, &mut optimizer, &file, false);
    let _ = checkpoint::read_config(&file);
    let _ = checkpoint::load_file(&file, &mut model, &mut optimizer);
});
