//! The layer responses of He et al. 2015 §4.2, Figure 7: the standard deviation of the output
//! of each 3×3 convolution after its batch norm and before the ReLU or the addition, layer by
//! layer, on the test set in eval mode. The paper finds residual networks' responses generally
//! smaller than plain networks' (residual functions closer to zero), and smaller still in
//! deeper ResNets.
//!
//! Measured by wrapping every batch norm that follows a 3×3 conv — the stem's and those inside
//! the residual branches of basic and plain blocks — in a [`Probe`] that accumulates `Σy`,
//! `Σy²` and the count of its outputs; std = √(E[y²] − E[y]²) over all images, channels and
//! positions. (Pre-activation blocks normalise before their convs, so they have no such
//! output; they report only what their branches' batch norms see.)

use std::sync::{Arc, Mutex};

use unravel_autograd::Var;
use unravel_data::BatchLoader;
use unravel_resnet::nn::{Context, Module, Named, StateVisitor, StateVisitorMut};
use unravel_resnet::summary::Trace;
use unravel_resnet::ResNet;
use unravel_tensor::Float;

use crate::error::{Result, TrainError};

/// Running sums of one layer's outputs.
#[derive(Debug, Clone, Default, PartialEq)]
struct Moments {
    sum: f64,
    sum_of_squares: f64,
    count: u64,
}

type Sink = Arc<Mutex<Vec<(String, Moments)>>>;

/// A module that runs `inner` and adds its output's moments to slot `slot` of a shared sink.
pub struct Probe<E: Float> {
    inner: Box<dyn Module<E>>,
    slot: usize,
    sink: Sink,
}

impl<E: Float> Module<E> for Probe<E> {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    fn forward(
        &mut self,
        context: &mut Context<E>,
        input: &Var<E>,
    ) -> unravel_resnet::Result<Var<E>> {
        let output = self.inner.forward(context, input)?;
        let values = output.value().to_vec();
        let (mut sum, mut squares) = (0.0, 0.0);
        for v in &values {
            let v = v.to_f64();
            sum += v;
            squares += v * v;
        }
        if let Ok(mut sink) = self.sink.lock() {
            if let Some((_, moments)) = sink.get_mut(self.slot) {
                moments.sum += sum;
                moments.sum_of_squares += squares;
                moments.count += values.len() as u64;
            }
        }
        Ok(output)
    }

    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        self.inner.visit_state(prefix, visitor)
    }

    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        self.inner.visit_state_mut(prefix, visitor)
    }

    fn trace(
        &self,
        input_shape: &[usize],
        trace: &mut Trace,
    ) -> unravel_resnet::Result<Vec<usize>> {
        self.inner.trace(input_shape, trace)
    }
}

/// Wraps the batch norms among `children` (named `prefix.name`) in probes.
fn wrap<E: Float + 'static>(children: &mut [Named<E>], prefix: &str, sink: &Sink) {
    for child in children {
        if child.module.kind() != "BatchNorm2d" {
            continue;
        }
        let Ok(mut slots) = sink.lock() else { return };
        let slot = slots.len();
        slots.push((format!("{prefix}{}", child.name), Moments::default()));
        drop(slots);
        let inner = std::mem::replace(&mut child.module, Box::new(unravel_resnet::nn::Identity));
        child.module = Box::new(Probe {
            inner,
            slot,
            sink: sink.clone(),
        });
    }
}

/// One layer's response.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LayerResponse {
    /// 1-based index of the layer in forward order (the x axis of Figure 7).
    pub layer: usize,
    /// The batch norm's name (`bn1`, `block 3 bn2`).
    pub name: String,
    pub std: f64,
}

/// The std of every 3×3 layer's response (after BN, before ReLU/addition) of `model` over
/// the batches of `loader`, in forward order. The model's batch norms are left wrapped in
/// probes (their state and names are unchanged).
pub fn layer_responses<E: Float + 'static>(
    model: &mut ResNet<E>,
    loader: &BatchLoader,
) -> Result<Vec<LayerResponse>> {
    let sink: Sink = Arc::new(Mutex::new(Vec::new()));
    // The stem's batch norm (the first layer of Figure 7), then the blocks' in order.
    let stem_end = model
        .features
        .iter()
        .position(|c| c.module.kind() == "BatchNorm2d")
        .map(|p| p + 1)
        .unwrap_or(0);
    wrap(&mut model.features[..stem_end], "", &sink);
    for (index, block) in model.blocks_mut().into_iter().enumerate() {
        wrap(&mut block.branch, &format!("block {} ", index + 1), &sink);
    }
    for (images, _) in loader.epoch::<E>(0) {
        model.predict(&images)?;
    }
    let slots = sink
        .lock()
        .map_err(|_| TrainError::config("the response probes' lock was poisoned"))?;
    Ok(slots
        .iter()
        .enumerate()
        .map(|(k, (name, m))| {
            let n = m.count.max(1) as f64;
            let mean = m.sum / n;
            LayerResponse {
                layer: k + 1,
                name: name.clone(),
                std: (m.sum_of_squares / n - mean * mean).max(0.0).sqrt(),
            }
        })
        .collect())
}
