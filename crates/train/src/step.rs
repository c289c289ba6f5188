//! One training step's computation, shared by the trainer and the benchmarks: the forward pass
//! in train mode, the mean cross-entropy `L = −(1/B) Σ log softmax(z_b)_{y_b}`, and its
//! gradient with respect to every parameter by backpropagation.

use unravel_autograd::Tape;
use unravel_resnet::nn::{Context, Mode, Module, ParameterGradients};
use unravel_resnet::{ResNet, ResnetError};
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{Float, Tensor};

use crate::error::Result;

/// What one forward and backward pass produced.
pub struct StepOutput<E: Float> {
    /// The batch's mean loss.
    pub loss: f64,
    /// The logits `[B, classes]`.
    pub logits: Tensor<E>,
    /// ∂L/∂p for every trainable parameter the loss depends on.
    pub gradients: ParameterGradients<E>,
}

/// Forward (train mode: batch statistics, running statistics updated) and backward on one
/// batch `images` `[B, C, H, W]` with `labels` (B classes). The batch is copied to the model's
/// device first ([`ResNet::to_device`]), so the same call trains on the CPU or a GPU.
///
/// ```
/// use unravel_resnet::{presets, sgd::{Sgd, SgdConfig}};
/// use unravel_tensor::{Rng, Tensor};
/// let options = presets::PresetOptions { widths: Some(vec![2, 2, 2]), in_channels: Some(1), ..Default::default() };
/// let mut model = presets::build::<f32>("resnet20", &options, 0)?;
/// let images = Tensor::randn(&[4, 1, 8, 8], 0.0, 1.0, &mut Rng::seed_from(1));
/// let out = unravel_train::step::forward_backward(&mut model, &images, &[0, 1, 2, 3])?;
/// assert!(out.loss > 0.0 && out.gradients.len() > 0);
/// Sgd::new(SgdConfig::default()).step(&mut model, &out.gradients)?;
/// # Ok::<(), unravel_train::TrainError>(())
/// ```
pub fn forward_backward<E: Float>(
    model: &mut ResNet<E>,
    images: &Tensor<E>,
    labels: &[usize],
) -> Result<StepOutput<E>> {
    let tape = Tape::new();
    let mut context = Context::new(&tape, Mode::Train);
    // logits: [B, classes]
    let images = images
        .to_device(model.device())
        .map_err(ResnetError::from)?;
    let logits = model.forward(&mut context, &tape.constant(images))?;
    let loss = logits
        .cross_entropy(labels, Reduction::Mean)
        .map_err(ResnetError::from)?;
    let loss_value = loss.value().item().map_err(ResnetError::from)?.to_f64();
    let gradients = tape.backward(&loss).map_err(ResnetError::from)?;
    Ok(StepOutput {
        loss: loss_value,
        logits: logits.value().clone(),
        gradients: context.parameter_gradients(&gradients),
    })
}
