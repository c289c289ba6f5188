//! The list of every differentiable op, and how backward dispatches to its rule.
//!
//! Design: an explicit enum, one variant per op, each wrapping a small struct defined in the
//! op's family file (`ops/conv.rs` holds the conv2d forward, its record and its backward rule).
//! Compared with boxed backward closures this keeps every op on one page, costs no allocation
//! beyond the saved tensors, lets the tape inspect a record (count its saved tensors, set a
//! residual add's [`GradientRoute`](crate::GradientRoute)), and makes each rule an ordinary,
//! named function a reader can find.
//!
//! Each record holds its inputs' node indices as `Option<usize>` (`None` for a constant, whose
//! gradient is never computed) and exactly the tensors its backward needs.

use unravel_tensor::{Float, Tensor};

use crate::error::Result;
use crate::ops;

/// The gradients one backward rule produces: (input node, ∂L/∂input) pairs.
pub(crate) struct InputGradients<E: Float> {
    list: Vec<(usize, Tensor<E>)>,
}

impl<E: Float> InputGradients<E> {
    /// Adds ∂L/∂input for an input that needs it; `compute` only runs in that case, so a
    /// constant input (the image into the first conv, say) costs nothing.
    pub(crate) fn give(
        &mut self,
        input: Option<usize>,
        compute: impl FnOnce() -> Result<Tensor<E>>,
    ) -> Result<()> {
        if let Some(index) = input {
            self.list.push((index, compute()?));
        }
        Ok(())
    }
}

/// One op's backward rule and its record.
pub(crate) trait BackwardRule<E: Float> {
    /// The op's name, for messages.
    fn name(&self) -> &'static str;
    /// Given ∂L/∂output, gives ∂L/∂input for each input that needs it.
    fn backward(&self, grad_output: &Tensor<E>, gradients: &mut InputGradients<E>) -> Result<()>;
    /// The tensors this record keeps alive until its backward runs.
    fn saved_tensors(&self) -> Vec<&Tensor<E>>;
    /// Integer indices this record keeps (max-pool's argmax, cross-entropy's targets).
    fn saved_indices(&self) -> usize {
        0
    }
}

// The macro only writes the enum below and one `match` forwarding to each variant's record; no
// derivative is generated. Every rule is the hand-written `backward` of its record.
macro_rules! ops_enum {
    ($($variant:ident($record:ty),)*) => {
        /// A recorded op: which rule, and what it saved.
        pub(crate) enum Op<E: Float> {
            $($variant($record),)*
        }

        impl<E: Float> Op<E> {
            fn rule(&self) -> &dyn BackwardRule<E> {
                match self {
                    $(Op::$variant(record) => record,)*
                }
            }
        }
    };
}

ops_enum! {
    // arithmetic with broadcasting (ops/arithmetic.rs)
    Add(ops::arithmetic::AddRecord),
    Sub(ops::arithmetic::SubRecord),
    Mul(ops::arithmetic::MulRecord<E>),
    Div(ops::arithmetic::DivRecord<E>),
    AddScalar(ops::arithmetic::AddScalarRecord),
    MulScalar(ops::arithmetic::MulScalarRecord<E>),
    // add + relu in one node (ops/fused.rs)
    AddRelu(ops::fused::AddReluRecord<E>),
    // relu, exp, log, sqrt, powf (ops/unary.rs)
    Unary(ops::unary::UnaryRecord<E>),
    // sum, mean, broadcast (ops/reduce.rs)
    Sum(ops::reduce::SumRecord<E>),
    Broadcast(ops::reduce::BroadcastRecord),
    // views (ops/view.rs)
    Reshape(ops::view::ReshapeRecord),
    Permute(ops::view::PermuteRecord),
    Slice(ops::view::SliceRecord),
    // pad, concat (ops/shape.rs)
    Pad(ops::shape::PadRecord),
    Concat(ops::shape::ConcatRecord),
    // matrix product (ops/matmul.rs)
    Matmul(ops::matmul::MatmulRecord<E>),
    // linear layer (ops/linear.rs)
    Linear(ops::linear::LinearRecord<E>),
    // convolution (ops/conv.rs)
    Conv2d(ops::conv::Conv2dRecord<E>),
    // pooling (ops/pool.rs)
    MaxPool2d(ops::pool::MaxPool2dRecord),
    AvgPool2d(ops::pool::AvgPool2dRecord),
    GlobalAvgPool2d(ops::pool::GlobalAvgPool2dRecord),
    // batch norm (ops/batch_norm.rs)
    BatchNormTrain(ops::batch_norm::BatchNormTrainRecord<E>),
    BatchNormEval(ops::batch_norm::BatchNormEvalRecord<E>),
    // softmax family (ops/softmax.rs)
    Softmax(ops::softmax::SoftmaxRecord<E>),
    CrossEntropy(ops::softmax::CrossEntropyRecord<E>),
}

impl<E: Float> Op<E> {
    pub(crate) fn name(&self) -> &'static str {
        self.rule().name()
    }

    pub(crate) fn saved_tensors(&self) -> Vec<&Tensor<E>> {
        self.rule().saved_tensors()
    }

    pub(crate) fn saved_indices(&self) -> usize {
        self.rule().saved_indices()
    }

    /// Runs the rule; returns (input node, gradient) pairs.
    pub(crate) fn backward(&self, grad_output: &Tensor<E>) -> Result<Vec<(usize, Tensor<E>)>> {
        let mut gradients = InputGradients { list: Vec::new() };
        self.rule().backward(grad_output, &mut gradients)?;
        Ok(gradients.list)
    }
}
