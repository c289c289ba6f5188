//! The module system: [`Module`], its [`Parameter`]s and buffers, and the per-pass
//! [`Context`].
//!
//! A module owns plain tensors. A forward pass runs in a [`Context`], which holds the tape, the
//! mode (train or eval) and the variables it made for the parameters it met, so that after
//! `backward` the gradients can be handed back by parameter ([`Context::parameter_gradients`]).
//! State is walked in registration order with PyTorch's dotted names (`layer1.0.conv1.weight`,
//! `bn1.running_mean`), which is what the state dict, the optimizer and the summary use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use unravel_autograd::{Gradients, Tape, Var};
use unravel_tensor::{Device, Float, Tensor};

use crate::error::Result;
use crate::summary::Trace;

static NEXT_PARAMETER_ID: AtomicU64 = AtomicU64::new(1);

/// Identifies one parameter for the lifetime of the program (not saved in files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParameterId(u64);

/// A trainable tensor: a weight or a bias.
#[derive(Debug)]
pub struct Parameter<E: Float> {
    /// The current value.
    pub value: Tensor<E>,
    /// Whether backward computes its gradient and the optimizer updates it
    /// (`requires_grad` in PyTorch).
    pub trainable: bool,
    id: ParameterId,
}

impl<E: Float> Parameter<E> {
    /// A trainable parameter with this value.
    pub fn new(value: Tensor<E>) -> Self {
        Parameter {
            value,
            trainable: true,
            id: ParameterId(NEXT_PARAMETER_ID.fetch_add(1, Ordering::Relaxed)),
        }
    }

    /// Its identity, the key of [`ParameterGradients`].
    pub fn id(&self) -> ParameterId {
        self.id
    }
}

/// One entry of a module's state, read-only: a parameter, a floating-point buffer (running
/// statistics) or an integer counter (`num_batches_tracked`, int64 as in PyTorch).
#[derive(Debug)]
pub enum StateRef<'a, E: Float> {
    Parameter(&'a Parameter<E>),
    Buffer(&'a Tensor<E>),
    Counter(i64),
}

/// One entry of a module's state, writable.
#[derive(Debug)]
pub enum StateMut<'a, E: Float> {
    Parameter(&'a mut Parameter<E>),
    Buffer(&'a mut Tensor<E>),
    Counter(&'a mut i64),
}

impl<E: Float> StateRef<'_, E> {
    /// The entry's shape (`[]` for a counter).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            StateRef::Parameter(p) => p.value.shape().to_vec(),
            StateRef::Buffer(t) => t.shape().to_vec(),
            StateRef::Counter(_) => Vec::new(),
        }
    }
}

impl<E: Float> StateMut<'_, E> {
    /// The entry's shape (`[]` for a counter).
    pub fn shape(&self) -> Vec<usize> {
        match self {
            StateMut::Parameter(p) => p.value.shape().to_vec(),
            StateMut::Buffer(t) => t.shape().to_vec(),
            StateMut::Counter(_) => Vec::new(),
        }
    }
}

/// Visitor of read-only state: receives the full dotted name and the entry.
pub type StateVisitor<'v, E> = dyn FnMut(&str, StateRef<'_, E>) + 'v;
/// Visitor of writable state.
pub type StateVisitorMut<'v, E> = dyn FnMut(&str, StateMut<'_, E>) + 'v;

/// `prefix.name`, or `name` at the top.
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A layer or a composition of layers.
///
/// `forward` takes `&mut self` because a training-mode batch norm updates its running
/// statistics during the forward pass, as PyTorch's does.
pub trait Module<E: Float> {
    /// PyTorch's class name for this module, as torchinfo prints it (`Conv2d`, `BasicBlock`).
    fn kind(&self) -> &'static str;

    /// Runs the module on `input`, recording on the context's tape.
    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>>;

    /// Calls `visitor` on every parameter, buffer and counter, in registration order, with
    /// names under `prefix`.
    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>);

    /// Like [`Module::visit_state`], with write access.
    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>);

    /// The shape-only forward pass: given the input's shape, returns the output's, and records
    /// this module (and its children, in the order `forward` calls them) in `trace`.
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>>;

    /// The child modules, for walking the tree (containers override this).
    fn children_mut(&mut self) -> Vec<&mut dyn Module<E>> {
        Vec::new()
    }

    /// Like [`Module::children_mut`], read-only.
    fn children(&self) -> Vec<&dyn Module<E>> {
        Vec::new()
    }

    /// Whether this module is exactly `y = max(x, 0)` — the [`ReLU`](crate::nn::ReLU) itself,
    /// not a wrapper around it — so that a residual block may fuse it with its add
    /// ([`Var::add_relu`]). Anything that wants to see a ReLU's input (a probe, a hook) must
    /// leave this `false`, and the block then runs the add and the module separately.
    fn is_relu(&self) -> bool {
        false
    }

    /// This module as the plain [`BatchNorm2d`](crate::nn::BatchNorm2d) itself — not a wrapper
    /// around one — so that a module chain may fuse it with a ReLU that follows
    /// ([`BatchNorm2d::forward_relu`](crate::nn::BatchNorm2d::forward_relu)). Anything that
    /// wants to see the batch norm's output before the ReLU (the `analyze responses` probe, a
    /// hook) must leave this `None`, and the chain then runs the two modules separately.
    fn as_batch_norm_mut(&mut self) -> Option<&mut crate::nn::BatchNorm2d<E>> {
        None
    }

    /// This module as a residual block, if it is one (for lesion and path experiments).
    fn as_residual_block_mut(&mut self) -> Option<&mut crate::block::ResidualBlock<E>> {
        None
    }

    /// Like [`Module::as_residual_block_mut`], read-only.
    fn as_residual_block(&self) -> Option<&crate::block::ResidualBlock<E>> {
        None
    }
}

/// Whether batch norm uses batch statistics (and updates its running ones) or the running ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// PyTorch's `model.train()`.
    Train,
    /// PyTorch's `model.eval()`.
    #[default]
    Eval,
}

/// What one forward pass needs besides the input: the tape, the mode, and the variables made
/// for the parameters (so their gradients can be found after backward).
///
/// ```
/// use unravel_autograd::Tape;
/// use unravel_resnet::nn::{Context, Linear, Mode, Module};
/// use unravel_tensor::{Rng, Tensor};
/// let mut layer = Linear::<f64>::new(3, 2, true, &mut Rng::seed_from(0));
/// let tape = Tape::new();
/// let mut context = Context::new(&tape, Mode::Train);
/// let x = tape.constant(Tensor::ones(&[4, 3]));
/// let loss = layer.forward(&mut context, &x)?.sum_all()?;
/// let gradients = context.parameter_gradients(&tape.backward(&loss)?);
/// // ∂Σy/∂b = N = 4 for every output.
/// assert_eq!(gradients.get(layer.bias.as_ref().unwrap().id()).unwrap().to_vec(), vec![4.0; 2]);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub struct Context<E: Float> {
    tape: Tape<E>,
    mode: Mode,
    bound: Vec<(ParameterId, Var<E>)>,
    overrides: HashMap<ParameterId, Var<E>>,
}

impl<E: Float> Context<E> {
    /// A context recording on `tape`, in `mode`.
    pub fn new(tape: &Tape<E>, mode: Mode) -> Self {
        Context {
            tape: tape.clone(),
            mode,
            bound: Vec::new(),
            overrides: HashMap::new(),
        }
    }

    /// The tape.
    pub fn tape(&self) -> &Tape<E> {
        &self.tape
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether this is a training pass.
    pub fn is_training(&self) -> bool {
        self.mode == Mode::Train
    }

    /// Makes `parameter` use `variable` instead of a fresh leaf (used by whole-network gradient
    /// checks, which pass parameters in as the checked inputs).
    pub fn override_parameter(&mut self, parameter: ParameterId, variable: Var<E>) {
        self.overrides.insert(parameter, variable);
    }

    /// The variable for `parameter` in this pass: its override, or a leaf if it is trainable
    /// (a constant otherwise, and under `no_grad`).
    pub fn bind(&mut self, parameter: &Parameter<E>) -> Var<E> {
        if let Some(variable) = self.overrides.get(&parameter.id) {
            return variable.clone();
        }
        if !parameter.trainable {
            return self.tape.constant(parameter.value.clone());
        }
        let variable = self.tape.leaf(parameter.value.clone());
        if variable.requires_grad() {
            self.bound.push((parameter.id, variable.clone()));
        }
        variable
    }

    /// The gradient of every parameter met in this pass, by parameter.
    pub fn parameter_gradients(&self, gradients: &Gradients<E>) -> ParameterGradients<E> {
        let mut by_id = HashMap::with_capacity(self.bound.len());
        for (id, variable) in &self.bound {
            if let Some(gradient) = gradients.get(variable) {
                by_id.insert(*id, gradient.clone());
            }
        }
        ParameterGradients { by_id }
    }
}

/// ∂L/∂p for the parameters of a model, keyed by [`ParameterId`].
#[derive(Debug, Clone, Default)]
pub struct ParameterGradients<E: Float> {
    by_id: HashMap<ParameterId, Tensor<E>>,
}

impl<E: Float> ParameterGradients<E> {
    /// The gradient of a parameter, if the loss depends on it.
    pub fn get(&self, id: ParameterId) -> Option<&Tensor<E>> {
        self.by_id.get(&id)
    }

    /// Number of gradients held.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The gradients of a model's parameters under their state names, in registration order.
pub fn named_gradients<E: Float>(
    model: &dyn Module<E>,
    gradients: &ParameterGradients<E>,
) -> Vec<(String, Tensor<E>)> {
    let mut named = Vec::new();
    model.visit_state("", &mut |name, entry| {
        if let StateRef::Parameter(parameter) = entry {
            if let Some(gradient) = gradients.get(parameter.id()) {
                named.push((name.to_string(), gradient.clone()));
            }
        }
    });
    named
}

/// Moves every parameter and buffer of `module` to `device` (a copy per tensor; nothing moves
/// if it is already there). Training then runs on that device unchanged: every op follows its
/// operands.
pub fn move_to_device<E: Float>(module: &mut dyn Module<E>, device: Device) -> Result<()> {
    let mut failure = None;
    module.visit_state_mut("", &mut |_, entry| {
        if failure.is_some() {
            return;
        }
        let tensor = match entry {
            StateMut::Parameter(parameter) => &mut parameter.value,
            StateMut::Buffer(buffer) => buffer,
            StateMut::Counter(_) => return,
        };
        match tensor.to_device(device) {
            Ok(moved) => *tensor = moved,
            Err(error) => failure = Some(error),
        }
    });
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// The device of `module`'s first parameter or buffer (the CPU for a module without state).
pub fn device_of<E: Float>(module: &dyn Module<E>) -> Device {
    let mut device = None;
    module.visit_state("", &mut |_, entry| {
        if device.is_none() {
            device = match entry {
                StateRef::Parameter(parameter) => Some(parameter.value.device()),
                StateRef::Buffer(buffer) => Some(buffer.device()),
                StateRef::Counter(_) => None,
            };
        }
    });
    device.unwrap_or(Device::Cpu)
}
