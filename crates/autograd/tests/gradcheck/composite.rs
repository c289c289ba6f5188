//! Whole residual blocks, checked end to end: every parameter and the input at once, with
//! train-mode batch norm (whose statistics couple the whole batch) and projection shortcuts.
//! Composite checks catch what per-op checks cannot: a wrong accumulation where a variable
//! feeds two branches, a record that saved the wrong tensor, a view whose gradient is misread.

use unravel_autograd::gradcheck::GradcheckOptions;
use unravel_autograd::{Result, Var};
use unravel_tensor::ops::conv::Conv2dParams;
use unravel_tensor::ops::pool::Pool2dParams;
use unravel_tensor::ops::softmax::Reduction;
use unravel_tensor::{Rng, Tensor};

use crate::common::{check, check_with, randn};

const EPS: f64 = 1e-5;

/// conv → batch norm (train) with γ, β.
fn conv_bn(
    x: &Var<f64>,
    w: &Var<f64>,
    gamma: &Var<f64>,
    beta: &Var<f64>,
    params: &Conv2dParams,
) -> Result<Var<f64>> {
    Ok(x.conv2d(w, None, params)?
        .batch_norm_train(Some(gamma), Some(beta), EPS)?
        .0)
}

/// He et al.'s BasicBlock with a projection shortcut (option B), stride 2:
/// relu(bn(conv3×3(relu(bn(conv3×3/2(x))))) + bn(conv1×1/2(x))).
pub fn basic_block(v: &[Var<f64>]) -> Result<Var<f64>> {
    let (x, w1, g1, b1, w2, g2, b2, ws, gs, bs) = (
        &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
    );
    let down = Conv2dParams::square(2, 1, 1, 1);
    let same = Conv2dParams::square(1, 1, 1, 1);
    let project = Conv2dParams::square(2, 0, 1, 1);
    let residual = conv_bn(&conv_bn(x, w1, g1, b1, &down)?.relu()?, w2, g2, b2, &same)?;
    let shortcut = conv_bn(x, ws, gs, bs, &project)?;
    residual.add(&shortcut)?.relu()
}

fn basic_block_inputs(rng: &mut Rng) -> Vec<Tensor<f64>> {
    let (c_in, c_out) = (3, 4);
    let affine = |rng: &mut Rng| [Tensor::randn(&[c_out], 1.0, 0.3, rng), randn(&[c_out], rng)];
    let mut inputs = vec![
        randn(&[2, c_in, 5, 5], rng),
        randn(&[c_out, c_in, 3, 3], rng),
    ];
    inputs.extend(affine(rng));
    inputs.push(randn(&[c_out, c_out, 3, 3], rng));
    inputs.extend(affine(rng));
    inputs.push(randn(&[c_out, c_in, 1, 1], rng));
    inputs.extend(affine(rng));
    inputs
}

#[test]
fn basic_block_with_projection_shortcut() {
    let mut rng = Rng::seed_from(80);
    check("BasicBlock", basic_block, basic_block_inputs(&mut rng));
}

/// He et al.'s Bottleneck with a projection shortcut, stride 2 in the 3×3 conv:
/// relu(bn(conv1×1(relu(bn(conv3×3/2(relu(bn(conv1×1(x))))))) + bn(conv1×1/2(x))).
fn bottleneck(v: &[Var<f64>]) -> Result<Var<f64>> {
    let one = Conv2dParams::default();
    let down = Conv2dParams::square(2, 1, 1, 1);
    let project = Conv2dParams::square(2, 0, 1, 1);
    let reduce = conv_bn(&v[0], &v[1], &v[2], &v[3], &one)?.relu()?;
    let spatial = conv_bn(&reduce, &v[4], &v[5], &v[6], &down)?.relu()?;
    let expand = conv_bn(&spatial, &v[7], &v[8], &v[9], &one)?;
    let shortcut = conv_bn(&v[0], &v[10], &v[11], &v[12], &project)?;
    expand.add(&shortcut)?.relu()
}

#[test]
fn bottleneck_with_projection_shortcut() {
    let mut rng = Rng::seed_from(81);
    let (c_in, mid, c_out) = (4, 2, 8);
    let affine =
        |c: usize, rng: &mut Rng| vec![Tensor::randn(&[c], 1.0, 0.3, rng), randn(&[c], rng)];
    let mut inputs = vec![
        randn(&[2, c_in, 5, 5], &mut rng),
        randn(&[mid, c_in, 1, 1], &mut rng),
    ];
    inputs.extend(affine(mid, &mut rng));
    inputs.push(randn(&[mid, mid, 3, 3], &mut rng));
    inputs.extend(affine(mid, &mut rng));
    inputs.push(randn(&[c_out, mid, 1, 1], &mut rng));
    inputs.extend(affine(c_out, &mut rng));
    inputs.push(randn(&[c_out, c_in, 1, 1], &mut rng));
    inputs.extend(affine(c_out, &mut rng));
    check("Bottleneck", bottleneck, inputs);
}

/// A whole (tiny) ResNet: stem conv + bn + relu + max-pool, one BasicBlock with the
/// parameter-free option-A shortcut (stride-2 subsample + zero channels), global average pool,
/// linear classifier, cross-entropy.
#[test]
fn tiny_resnet_with_option_a_shortcut_to_the_loss() {
    let mut rng = Rng::seed_from(82);
    let targets = [1, 0, 2];
    let inputs = vec![
        randn(&[3, 2, 9, 9], &mut rng),          // 0 image
        randn(&[3, 2, 3, 3], &mut rng),          // 1 stem conv
        Tensor::randn(&[3], 1.0, 0.3, &mut rng), // 2 stem γ
        randn(&[3], &mut rng),                   // 3 stem β
        randn(&[6, 3, 3, 3], &mut rng),          // 4 block conv 1 (stride 2, 3 → 6)
        Tensor::randn(&[6], 1.0, 0.3, &mut rng), // 5
        randn(&[6], &mut rng),                   // 6
        randn(&[6, 6, 3, 3], &mut rng),          // 7 block conv 2
        Tensor::randn(&[6], 1.0, 0.3, &mut rng), // 8
        randn(&[6], &mut rng),                   // 9
        randn(&[3, 6], &mut rng),                // 10 classifier weight
        randn(&[3], &mut rng),                   // 11 classifier bias
    ];
    let network = |v: &[Var<f64>]| -> Result<Var<f64>> {
        let same = Conv2dParams::square(1, 1, 1, 1);
        let down = Conv2dParams::square(2, 1, 1, 1);
        let stem = conv_bn(&v[0], &v[1], &v[2], &v[3], &same)?.relu()?;
        let x = stem.max_pool2d(Pool2dParams::square(3, 2, 1))?; // [3, 3, 5, 5]
        let residual = conv_bn(
            &conv_bn(&x, &v[4], &v[5], &v[6], &down)?.relu()?,
            &v[7],
            &v[8],
            &v[9],
            &same,
        )?;
        let shortcut = x
            .slice(2, 0, 5, 2)?
            .slice(3, 0, 5, 2)?
            .zero_pad_channels(1, 2)?;
        let features = residual.add(&shortcut)?.relu()?.global_avg_pool2d()?; // [3, 6]
        features
            .linear(&v[10], Some(&v[11]))?
            .cross_entropy(&targets, Reduction::Mean)
    };
    // Every parameter element; a seeded sample of 60 of the 486 image elements. ReLU and
    // max-pool act on ~700 intermediate values here, so a step of 1e-4 would sometimes move one
    // of them across a kink; the loss is a single value of order 1, so a step of 1e-6 still
    // leaves the rounding error (~1e-10) far below the tolerance.
    let options = GradcheckOptions {
        step: 1e-6,
        max_elements_per_input: Some(60),
        ..GradcheckOptions::default()
    };
    check_with("tiny ResNet", network, inputs, &options);
}
