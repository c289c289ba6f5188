//! Composition: [`Sequential`] (children named `0`, `1`, …, as PyTorch's `nn.Sequential`) and
//! [`Named`] children for modules whose parts have names (`conv1`, `bn1`, `downsample`).

use unravel_autograd::Var;
use unravel_tensor::Float;

use crate::error::Result;
use crate::nn::module::{join_name, Context, Module, StateVisitor, StateVisitorMut};
use crate::summary::Trace;

/// A child module and its attribute name.
pub struct Named<E: Float> {
    pub name: String,
    pub module: Box<dyn Module<E>>,
}

impl<E: Float> Named<E> {
    /// `module` under `name`.
    pub fn new(name: impl Into<String>, module: impl Module<E> + 'static) -> Self {
        Named {
            name: name.into(),
            module: Box::new(module),
        }
    }
}

/// Runs `children` in order: `y = f_k(… f_1(f_0(x)))`. A plain batch norm
/// ([`Module::as_batch_norm_mut`]) immediately followed by a plain ReLU ([`Module::is_relu`])
/// runs as one fused op, `max(BN(x), 0)` ([`BatchNorm2d::forward_relu`](crate::nn::BatchNorm2d::forward_relu)):
/// the same values, gradients and running statistics, one tape node instead of two. A wrapped
/// batch norm or ReLU (a probe) steps aside, and both modules run separately.
pub(crate) fn forward_chain<E: Float>(
    children: &mut [Named<E>],
    context: &mut Context<E>,
    input: &Var<E>,
) -> Result<Var<E>> {
    let mut x = input.clone();
    let mut index = 0;
    while index < children.len() {
        let next_is_relu = children
            .get(index + 1)
            .is_some_and(|next| next.module.is_relu());
        let module = &mut children[index].module;
        if next_is_relu {
            if let Some(batch_norm) = module.as_batch_norm_mut() {
                x = batch_norm.forward_relu(context, &x)?;
                index += 2;
                continue;
            }
        }
        x = module.forward(context, &x)?;
        index += 1;
    }
    Ok(x)
}

pub(crate) fn visit_children<E: Float>(
    children: &[Named<E>],
    prefix: &str,
    visitor: &mut StateVisitor<'_, E>,
) {
    for child in children {
        child
            .module
            .visit_state(&join_name(prefix, &child.name), visitor);
    }
}

pub(crate) fn visit_children_mut<E: Float>(
    children: &mut [Named<E>],
    prefix: &str,
    visitor: &mut StateVisitorMut<'_, E>,
) {
    for child in children {
        child
            .module
            .visit_state_mut(&join_name(prefix, &child.name), visitor);
    }
}

pub(crate) fn trace_chain<E: Float>(
    children: &[Named<E>],
    input_shape: &[usize],
    trace: &mut Trace,
) -> Result<Vec<usize>> {
    let mut shape = input_shape.to_vec();
    for child in children {
        shape = child.module.trace(&shape, trace)?;
    }
    Ok(shape)
}

/// PyTorch's `nn.Sequential`.
///
/// ```
/// use unravel_resnet::nn::{Conv2d, BatchNorm2d, BatchNormConfig, Module, ReLU, Sequential};
/// use unravel_tensor::Rng;
/// let mut rng = Rng::seed_from(0);
/// let stem = Sequential::<f32>::new()
///     .push(Conv2d::new(3, 8, 3, 1, 1, false, &mut rng))
///     .push(BatchNorm2d::new(8, BatchNormConfig::default()))
///     .push(ReLU);
/// let mut names = Vec::new();
/// stem.visit_state("stem", &mut |name, _| names.push(name.to_string()));
/// assert_eq!(names[..3], ["stem.0.weight", "stem.1.weight", "stem.1.bias"]);
/// ```
#[derive(Default)]
pub struct Sequential<E: Float> {
    pub children: Vec<Named<E>>,
}

impl<E: Float> Sequential<E> {
    /// An empty sequence.
    pub fn new() -> Self {
        Sequential {
            children: Vec::new(),
        }
    }

    /// Appends `module` under the next index.
    pub fn push(mut self, module: impl Module<E> + 'static) -> Self {
        self.push_boxed(Box::new(module));
        self
    }

    /// Appends a boxed module under the next index.
    pub fn push_boxed(&mut self, module: Box<dyn Module<E>>) {
        let name = self.children.len().to_string();
        self.children.push(Named { name, module });
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

impl<E: Float> Module<E> for Sequential<E> {
    fn kind(&self) -> &'static str {
        "Sequential"
    }
    fn forward(&mut self, context: &mut Context<E>, input: &Var<E>) -> Result<Var<E>> {
        forward_chain(&mut self.children, context, input)
    }
    fn visit_state(&self, prefix: &str, visitor: &mut StateVisitor<'_, E>) {
        visit_children(&self.children, prefix, visitor);
    }
    fn visit_state_mut(&mut self, prefix: &str, visitor: &mut StateVisitorMut<'_, E>) {
        visit_children_mut(&mut self.children, prefix, visitor);
    }
    fn trace(&self, input_shape: &[usize], trace: &mut Trace) -> Result<Vec<usize>> {
        let row = trace.open("Sequential");
        let output = trace_chain(&self.children, input_shape, trace)?;
        trace.close(row, &output);
        Ok(output)
    }
    fn children_mut(&mut self) -> Vec<&mut dyn Module<E>> {
        self.children
            .iter_mut()
            .map(|c| &mut *c.module as &mut dyn Module<E>)
            .collect()
    }

    fn children(&self) -> Vec<&dyn Module<E>> {
        self.children
            .iter()
            .map(|c| &*c.module as &dyn Module<E>)
            .collect()
    }
}
