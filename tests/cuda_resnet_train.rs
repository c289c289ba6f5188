//! End to end on the GPU: three SGD steps (momentum, weight decay) of small ResNets — basic
//! blocks with option-A shortcuts (slice + zero-pad), bottlenecks with projections behind the
//! ImageNet stem (max pool), pre-activation blocks, and the seed layout (convolutions with
//! bias) — on the GPU match the same steps on the CPU: the loss of every step, the gradients of
//! the first, the final weights and running statistics (max-norm relative error per tensor),
//! and an eval-mode prediction afterwards. Everything trained on the GPU must stay there. The
//! same in f32 (`three_sgd_steps_on_the_gpu_match_the_cpu`) and in f64
//! (`three_sgd_steps_in_f64_on_the_gpu_match_the_cpu`), with tolerances for each.
//!
//! Needs a GPU and a build with `--features cuda`; without a GPU the test prints that it was
//! skipped and passes.
#![cfg(feature = "cuda")]

use std::collections::BTreeMap;

use unravel_resnet::config::{BlockKind, Layout, ResNetConfig, ShortcutKind, Stem, StrideOn};
use unravel_resnet::nn::{named_gradients, BatchNormConfig, Module, StateRef};
use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_resnet::ResNet;
use unravel_tensor::{DType, Device, Float, Rng, Tensor};
use unravel_train::step::forward_backward;

/// Max-norm relative tolerances of the GPU against the CPU (same dtype on both devices,
/// different summation orders).
#[derive(Debug, Clone, Copy)]
struct Tolerances {
    /// Losses, final weights and running statistics, the eval-mode prediction.
    values: f64,
    /// Gradients pass through every batch norm's backward, which subtracts nearly equal sums.
    gradients: f64,
}

/// f32: 1e-4 and 1e-3. f64: 1e-10 and 1e-9 — still six orders of magnitude below what a wrong
/// kernel would give, and far above f64 rounding (about 1e-16 per operation).
fn tolerances<E: Float>() -> Tolerances {
    match E::DTYPE {
        DType::F32 => Tolerances {
            values: 1e-4,
            gradients: 1e-3,
        },
        DType::F64 => Tolerances {
            values: 1e-10,
            gradients: 1e-9,
        },
    }
}

fn gpu(test: &str) -> Option<Device> {
    match Device::cuda(0) {
        Ok(device) => Some(device),
        Err(error) => {
            eprintln!("{test}: skipped (no GPU: {error})");
            None
        }
    }
}

/// max |gpu − cpu| / max(max |cpu|, 1e-30); fails on a NaN the CPU does not have.
fn relative_error<E: Float>(what: &str, gpu: &Tensor<E>, cpu: &Tensor<E>) -> f64 {
    assert_eq!(gpu.shape(), cpu.shape(), "{what}: shapes");
    let (g, c) = (gpu.try_to_vec().expect("download"), cpu.to_vec());
    let scale = c
        .iter()
        .fold(0f64, |m, v| m.max(v.to_f64().abs()))
        .max(1e-300);
    g.iter()
        .zip(&c)
        .map(|(&a, &b)| {
            assert!(
                !a.is_nan() || b.is_nan(),
                "{what}: NaN on the GPU, {b} on the CPU"
            );
            (a.to_f64() - b.to_f64()).abs() / scale
        })
        .fold(0.0, f64::max)
}

/// Every parameter and buffer by name.
fn state<E: Float>(model: &ResNet<E>) -> BTreeMap<String, Tensor<E>> {
    let mut tensors = BTreeMap::new();
    model.visit_state("", &mut |name, entry| match entry {
        StateRef::Parameter(p) => {
            tensors.insert(name.to_string(), p.value.clone());
        }
        StateRef::Buffer(b) => {
            tensors.insert(name.to_string(), b.clone());
        }
        StateRef::Counter(_) => {}
    });
    tensors
}

fn config(block: BlockKind, shortcut: ShortcutKind, stem: Stem, layout: Layout) -> ResNetConfig {
    ResNetConfig {
        block,
        layers: vec![2, 1],
        widths: vec![4, 6],
        stem,
        stem_width: 4,
        in_channels: 1,
        num_classes: 5,
        shortcut,
        stride_on: StrideOn::ThreeByThree,
        batch_norm: BatchNormConfig::default(),
        zero_init_residual: false,
        layout,
    }
}

fn train_and_compare<E: Float>(name: &str, device: Device, config: &ResNetConfig, hw: usize) {
    let tolerance = tolerances::<E>();
    let name = format!("{name} ({})", E::DTYPE);
    let mut cpu = ResNet::<E>::new(config, 3).expect("model");
    let mut gpu = ResNet::<E>::new(config, 3).expect("model");
    gpu.to_device(device).expect("model to the GPU");
    assert_eq!(gpu.device(), device);
    let sgd = SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        weight_decay: 5e-4,
        ..SgdConfig::default()
    };
    let (mut cpu_sgd, mut gpu_sgd) = (Sgd::new(sgd), Sgd::new(sgd));
    let mut rng = Rng::seed_from(11);
    for step in 0..3 {
        // A fresh batch each step: [6, 1, hw, hw], labels 0..5.
        let images = Tensor::<E>::randn(&[6, 1, hw, hw], 0.0, 1.0, &mut rng);
        let labels = [0, 1, 2, 3, 4, (step % 5)];
        let on_cpu = forward_backward(&mut cpu, &images, &labels).expect("CPU step");
        let on_gpu = forward_backward(&mut gpu, &images, &labels).expect("GPU step");
        assert_eq!(
            on_gpu.logits.device(),
            device,
            "{name}: logits left the GPU"
        );
        let loss_error = (on_gpu.loss - on_cpu.loss).abs() / on_cpu.loss.abs().max(1e-30);
        assert!(
            loss_error <= tolerance.values,
            "{name} step {step}: loss {} on the GPU, {} on the CPU",
            on_gpu.loss,
            on_cpu.loss
        );
        if step == 0 {
            let cpu_gradients = named_gradients(&cpu, &on_cpu.gradients);
            let gpu_gradients = named_gradients(&gpu, &on_gpu.gradients);
            assert_eq!(
                cpu_gradients.len(),
                gpu_gradients.len(),
                "{name}: gradients"
            );
            for ((parameter, c), (_, g)) in cpu_gradients.iter().zip(&gpu_gradients) {
                assert_eq!(
                    g.device(),
                    device,
                    "{name}: gradient of {parameter} left the GPU"
                );
                let error = relative_error(parameter, g, c);
                assert!(
                    error <= tolerance.gradients,
                    "{name}: gradient of {parameter}: relative error {error:e}"
                );
            }
        }
        cpu_sgd.step(&mut cpu, &on_cpu.gradients).expect("CPU SGD");
        gpu_sgd.step(&mut gpu, &on_gpu.gradients).expect("GPU SGD");
    }
    let (cpu_state, gpu_state) = (state(&cpu), state(&gpu));
    assert_eq!(cpu_state.len(), gpu_state.len());
    for (tensor, c) in &cpu_state {
        let g = &gpu_state[tensor];
        assert_eq!(g.device(), device, "{name}: {tensor} left the GPU");
        let error = relative_error(tensor, g, c);
        assert!(
            error <= tolerance.values,
            "{name}: {tensor} after 3 steps: relative error {error:e}"
        );
    }
    // Eval mode (running statistics) on a new batch.
    let images = Tensor::<E>::randn(&[3, 1, hw, hw], 0.0, 1.0, &mut rng);
    let (c, g) = (
        cpu.predict(&images).expect("CPU predict"),
        gpu.predict(&images).expect("GPU predict"),
    );
    assert_eq!(g.device(), device);
    let error = relative_error("predict", &g, &c);
    assert!(
        error <= tolerance.values,
        "{name}: predict: relative error {error:e}"
    );
    println!("{name}: 3 SGD steps on {device} match the CPU");
}

/// The four small ResNets: (what, configuration, input height and width).
fn cases() -> [(&'static str, ResNetConfig, usize); 4] {
    [
        (
            "basic blocks, option A (CIFAR stem)",
            config(
                BlockKind::Basic,
                ShortcutKind::A,
                Stem::Cifar,
                Layout::Torchvision,
            ),
            16,
        ),
        (
            "bottlenecks, option B (ImageNet stem, max pool)",
            config(
                BlockKind::Bottleneck,
                ShortcutKind::B,
                Stem::ImageNet,
                Layout::Torchvision,
            ),
            28,
        ),
        (
            "pre-activation basic blocks, option B",
            config(
                BlockKind::PreActBasic,
                ShortcutKind::B,
                Stem::Cifar,
                Layout::Torchvision,
            ),
            16,
        ),
        (
            "seed layout (convolutions with bias)",
            config(BlockKind::Basic, ShortcutKind::B, Stem::Cifar, Layout::Seed),
            16,
        ),
    ]
}

#[test]
fn three_sgd_steps_on_the_gpu_match_the_cpu() {
    let Some(device) = gpu("three_sgd_steps_on_the_gpu_match_the_cpu") else {
        return;
    };
    for (name, config, hw) in &cases() {
        train_and_compare::<f32>(name, device, config, *hw);
    }
}

#[test]
fn three_sgd_steps_in_f64_on_the_gpu_match_the_cpu() {
    let Some(device) = gpu("three_sgd_steps_in_f64_on_the_gpu_match_the_cpu") else {
        return;
    };
    for (name, config, hw) in &cases() {
        train_and_compare::<f64>(name, device, config, *hw);
    }
}
