//! SGD against a plainly written reference of `torch.optim.SGD`'s update, over several steps,
//! with and without momentum, dampening, weight decay and Nesterov.

use unravel_autograd::Tape;
use unravel_resnet::nn::{Context, Linear, Mode, Module};
use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_tensor::{Rng, Tensor};

/// PyTorch's loop for one parameter, written out.
fn reference(
    config: &SgdConfig,
    parameter: &mut [f64],
    buffer: &mut Option<Vec<f64>>,
    gradient: &[f64],
) {
    let mut step: Vec<f64> = gradient
        .iter()
        .zip(parameter.iter())
        .map(|(g, p)| g + config.weight_decay * p)
        .collect();
    if config.momentum != 0.0 {
        let next: Vec<f64> = match buffer {
            None => step.clone(),
            Some(b) => b
                .iter()
                .zip(&step)
                .map(|(b, g)| config.momentum * b + (1.0 - config.dampening) * g)
                .collect(),
        };
        if config.nesterov {
            step = step
                .iter()
                .zip(&next)
                .map(|(g, b)| g + config.momentum * b)
                .collect();
        } else {
            step.clone_from(&next);
        }
        *buffer = Some(next);
    }
    for (p, g) in parameter.iter_mut().zip(&step) {
        *p -= config.lr * g;
    }
}

#[test]
fn sgd_matches_pytorchs_update_rule() {
    let configs = [
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
        SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            ..Default::default()
        },
        SgdConfig {
            lr: 0.05,
            momentum: 0.8,
            dampening: 0.3,
            weight_decay: 1e-2,
            ..Default::default()
        },
        SgdConfig {
            lr: 0.02,
            momentum: 0.9,
            weight_decay: 5e-4,
            nesterov: true,
            ..Default::default()
        },
    ];
    for config in configs {
        let mut rng = Rng::seed_from(11);
        let mut layer = Linear::<f64>::new(3, 2, true, &mut rng);
        let mut expected_weight = layer.weight.value.to_vec();
        let mut expected_bias = layer.bias.as_ref().unwrap().value.to_vec();
        let (mut weight_buffer, mut bias_buffer) = (None, None);
        let mut sgd = Sgd::new(config);
        let x = Tensor::<f64>::randn(&[4, 3], 0.0, 1.0, &mut rng);
        for _ in 0..4 {
            let tape = Tape::new();
            let mut context = Context::new(&tape, Mode::Train);
            let y = layer
                .forward(&mut context, &tape.constant(x.clone()))
                .unwrap();
            let loss = y.mul(&y).unwrap().sum_all().unwrap(); // L = Σ y²
            let gradients = context.parameter_gradients(&tape.backward(&loss).unwrap());
            let weight_gradient = gradients.get(layer.weight.id()).unwrap().to_vec();
            let bias_gradient = gradients
                .get(layer.bias.as_ref().unwrap().id())
                .unwrap()
                .to_vec();
            reference(
                &config,
                &mut expected_weight,
                &mut weight_buffer,
                &weight_gradient,
            );
            reference(
                &config,
                &mut expected_bias,
                &mut bias_buffer,
                &bias_gradient,
            );
            sgd.step(&mut layer, &gradients).unwrap();
            for (got, want) in layer.weight.value.to_vec().iter().zip(&expected_weight) {
                approx::assert_relative_eq!(got, want, max_relative = 1e-14);
            }
            for (got, want) in layer
                .bias
                .as_ref()
                .unwrap()
                .value
                .to_vec()
                .iter()
                .zip(&expected_bias)
            {
                approx::assert_relative_eq!(got, want, max_relative = 1e-14);
            }
        }
        assert_eq!(
            sgd.momentum_buffers.len(),
            if config.momentum > 0.0 { 2 } else { 0 }
        );
    }
}

#[test]
fn parameters_without_gradient_or_frozen_are_left_alone() {
    let mut rng = Rng::seed_from(1);
    let mut layer = Linear::<f64>::new(2, 2, true, &mut rng);
    layer.bias.as_mut().unwrap().trainable = false;
    let bias = layer.bias.as_ref().unwrap().value.to_vec();
    let weight = layer.weight.value.to_vec();
    let tape = Tape::new();
    let mut context = Context::new(&tape, Mode::Train);
    let y = layer
        .forward(&mut context, &tape.constant(Tensor::ones(&[1, 2])))
        .unwrap();
    let gradients = context.parameter_gradients(&tape.backward(&y.sum_all().unwrap()).unwrap());
    assert!(gradients.get(layer.bias.as_ref().unwrap().id()).is_none());
    Sgd::new(SgdConfig {
        lr: 1.0,
        weight_decay: 0.5,
        momentum: 0.9,
        ..Default::default()
    })
    .step(&mut layer, &gradients)
    .unwrap();
    assert_eq!(layer.bias.as_ref().unwrap().value.to_vec(), bias);
    assert_ne!(layer.weight.value.to_vec(), weight);
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let mut layer = Linear::<f64>::new(2, 2, true, &mut Rng::seed_from(1));
    let empty = unravel_resnet::nn::ParameterGradients::default();
    for config in [
        SgdConfig {
            nesterov: true,
            ..Default::default()
        },
        SgdConfig {
            lr: f64::NAN,
            ..Default::default()
        },
        SgdConfig {
            lr: -1.0,
            ..Default::default()
        },
        SgdConfig {
            momentum: 0.9,
            dampening: 0.1,
            nesterov: true,
            ..Default::default()
        },
    ] {
        assert!(
            Sgd::new(config).step(&mut layer, &empty).is_err(),
            "{config:?}"
        );
    }
}
