//! [`error_rate`]: the test error of a model on labelled batches, the quantity every lesion and
//! reordering experiment reports (Veit et al. 2016, §4).

use unravel_tensor::{Float, Tensor};

use crate::error::{ResnetError, Result};
use crate::network::ResNet;

/// One batch of images `[N, C, H, W]` and their N class labels.
#[derive(Debug, Clone)]
pub struct LabelledBatch<E: Float> {
    pub images: Tensor<E>,
    pub labels: Vec<usize>,
}

impl<E: Float> LabelledBatch<E> {
    /// A batch, checked: one label per image.
    pub fn new(images: Tensor<E>, labels: Vec<usize>) -> Result<Self> {
        if images.shape().first() != Some(&labels.len()) {
            return Err(ResnetError::experiment(
                "evaluation",
                format!(
                    "{} labels for images of shape {:?}",
                    labels.len(),
                    images.shape()
                ),
            ));
        }
        Ok(LabelledBatch { images, labels })
    }
}

/// The fraction of images whose highest logit is not their label, in eval mode (running
/// batch-norm statistics), over all `batches`: error = #{argmax_c f(x)_c ≠ y} / N.
///
/// Ties go to the lowest class index, as `torch.argmax` does.
///
/// ```
/// use unravel_resnet::{ensemble::{error_rate, LabelledBatch}, presets};
/// use unravel_tensor::{Rng, Tensor};
/// let options = presets::PresetOptions { widths: Some(vec![2, 3, 4]), ..Default::default() };
/// let mut model = presets::build::<f32>("resnet20", &options, 0)?;
/// let images = Tensor::randn(&[4, 3, 8, 8], 0.0, 1.0, &mut Rng::seed_from(1));
/// let error = error_rate(&mut model, &[LabelledBatch::new(images, vec![0, 1, 2, 3])?])?;
/// assert!((0.0..=1.0).contains(&error));
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn error_rate<E: Float>(model: &mut ResNet<E>, batches: &[LabelledBatch<E>]) -> Result<f64> {
    let mut wrong = 0usize;
    let mut total = 0usize;
    for batch in batches {
        let logits = model.predict(&batch.images)?;
        // logits: [N, classes]
        let classes = logits.shape().get(1).copied().unwrap_or(0);
        let values = logits.to_vec();
        for (row, &label) in batch.labels.iter().enumerate() {
            if label >= classes {
                return Err(ResnetError::experiment(
                    "evaluation",
                    format!("label {label} but the model has {classes} classes"),
                ));
            }
            let scores = &values[row * classes..(row + 1) * classes];
            let mut best = 0;
            for (class, &score) in scores.iter().enumerate() {
                if score > scores[best] {
                    best = class;
                }
            }
            if best != label {
                wrong += 1;
            }
        }
        total += batch.labels.len();
    }
    if total == 0 {
        return Err(ResnetError::experiment("evaluation", "no test images"));
    }
    Ok(wrong as f64 / total as f64)
}
