//! A small module system in PyTorch's image: layers own tensors, a [`Context`] carries the tape
//! and the mode through a forward pass, and state is walked under PyTorch's dotted names.

mod batch_norm;
mod conv;
mod linear;
mod module;
mod sequential;
mod simple;

pub use batch_norm::{BatchNorm2d, BatchNormConfig};
pub use conv::Conv2d;
pub use linear::Linear;
pub use module::{
    device_of, join_name, move_to_device, named_gradients, Context, Mode, Module, Parameter,
    ParameterGradients, ParameterId, StateMut, StateRef, StateVisitor, StateVisitorMut,
};
pub use sequential::{Named, Sequential};
pub use simple::{AdaptiveAvgPool2d, Flatten, Identity, MaxPool2d, ReLU, ZeroPadShortcut};

pub(crate) use sequential::{forward_chain, trace_chain, visit_children, visit_children_mut};
