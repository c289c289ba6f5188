//! [`duplicate`]: an independent copy of a network, so that an experiment can delete or
//! reorder blocks of the copy while the caller's model stays exactly as it was.

use unravel_tensor::Float;

use crate::error::{ResnetError, Result};
use crate::network::ResNet;
use crate::nn::{Module, StateMut, StateRef};

/// One entry of a state dict, owned.
enum Owned<E: Float> {
    Parameter(unravel_tensor::Tensor<E>, bool),
    Buffer(unravel_tensor::Tensor<E>),
    Counter(i64),
}

/// A deep copy of `model`: the same architecture (rebuilt from its configuration) and every
/// parameter, buffer and counter copied, entry by entry, in state order. Parameters keep their
/// `trainable` flag and blocks their branch scale (part of the function the network computes).
/// Blocks start with their default flags (not lesioned, [`Both`] gradient route): lesions and
/// routes are what the experiments set on copies.
///
/// The copy is checked entry by entry (names and shapes); a model whose blocks were swapped
/// for blocks of a different structure would be refused with an error rather than copied
/// wrongly.
///
/// [`Both`]: unravel_autograd::GradientRoute::Both
///
/// ```
/// use unravel_resnet::{ensemble::duplicate, presets, nn::Module};
/// use unravel_tensor::{Rng, Tensor};
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let mut model = presets::build::<f64>("resnet20", &options, 0)?;
/// let mut copy = duplicate(&model)?;
/// let x = Tensor::randn(&[1, 3, 8, 8], 0.0, 1.0, &mut Rng::seed_from(1));
/// assert_eq!(copy.predict(&x)?.to_vec(), model.predict(&x)?.to_vec());
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn duplicate<E: Float>(model: &ResNet<E>) -> Result<ResNet<E>> {
    let mut entries: Vec<(String, Owned<E>)> = Vec::new();
    model.visit_state("", &mut |name, entry| {
        let owned = match entry {
            StateRef::Parameter(p) => Owned::Parameter(p.value.clone(), p.trainable),
            StateRef::Buffer(b) => Owned::Buffer(b.clone()),
            StateRef::Counter(c) => Owned::Counter(c),
        };
        entries.push((name.to_string(), owned));
    });
    let mut copy = ResNet::<E>::new(&model.config, 0)?;
    let mut position = 0;
    let mut mismatch: Option<String> = None;
    copy.visit_state_mut("", &mut |name, entry| {
        if mismatch.is_some() {
            return;
        }
        let Some((source_name, source)) = entries.get(position) else {
            mismatch = Some(format!(
                "the copy has more state entries than the model ({name})"
            ));
            return;
        };
        position += 1;
        if source_name != name {
            mismatch = Some(format!("state entry `{source_name}` meets `{name}`"));
            return;
        }
        match (entry, source) {
            (StateMut::Parameter(p), Owned::Parameter(value, trainable))
                if p.value.shape() == value.shape() =>
            {
                p.value = value.clone();
                p.trainable = *trainable;
            }
            (StateMut::Buffer(b), Owned::Buffer(value)) if b.shape() == value.shape() => {
                *b = value.clone();
            }
            (StateMut::Counter(c), Owned::Counter(value)) => *c = *value,
            _ => mismatch = Some(format!("state entry `{name}` differs in kind or shape")),
        }
    });
    if mismatch.is_none() && position != entries.len() {
        mismatch = Some("the model has more state entries than its configuration builds".into());
    }
    if let Some(message) = mismatch {
        return Err(ResnetError::experiment("copying a model", message));
    }
    let scales: Vec<f64> = model.blocks().iter().map(|b| b.branch_scale).collect();
    for (block, scale) in copy.blocks_mut().into_iter().zip(scales) {
        block.branch_scale = scale;
    }
    Ok(copy)
}
