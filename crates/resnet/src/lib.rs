//! # unravel-resnet
//!
//! Residual networks as a library: the networks of He et al. 2015 ("Deep Residual Learning for
//! Image Recognition") and He et al. 2016 ("Identity Mappings in Deep Residual Networks"), the
//! ones Veit et al. 2016 lesion, and the seed's own model — built on the tensor and autograd
//! crates, with torchvision's parameter names.
//!
//! - [`nn`]: a small module system (Conv2d, BatchNorm2d, Linear, ReLU, MaxPool2d, global
//!   average pool, Sequential) with train/eval mode and PyTorch's state names.
//! - [`block`], [`network`], [`presets`]: blocks (basic, bottleneck, plain, pre-activation;
//!   shortcuts A, B, C) and the named networks.
//! - [`weights`]: safetensors load/save under torchvision's names; [`sgd`]: PyTorch's SGD.
//! - [`ensemble`]: Veit et al. 2016 — the unraveled view, lesions, reordering, path gradients.
//! - [`summary`]: torchinfo's table and totals; [`parity`]: PyTorch parity fixtures.
//!
//! ```
//! use unravel_autograd::Tape;
//! use unravel_resnet::nn::{Context, Mode, Module};
//! use unravel_resnet::{presets, sgd::{Sgd, SgdConfig}};
//! use unravel_tensor::{ops::softmax::Reduction, Rng, Tensor};
//! let options = presets::PresetOptions { widths: Some(vec![4, 8, 16]), ..Default::default() };
//! let mut model = presets::build::<f32>("resnet20", &options, 0)?;
//! let mut optimizer = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() });
//! let x = Tensor::randn(&[4, 3, 16, 16], 0.0, 1.0, &mut Rng::seed_from(1));
//! let tape = Tape::new();
//! let mut context = Context::new(&tape, Mode::Train);
//! let logits = model.forward(&mut context, &tape.constant(x))?;
//! let loss = logits.cross_entropy(&[0, 1, 2, 3], Reduction::Mean)?;
//! let gradients = context.parameter_gradients(&tape.backward(&loss)?);
//! optimizer.step(&mut model, &gradients)?;
//! # Ok::<(), unravel_resnet::ResnetError>(())
//! ```

pub mod block;
pub mod config;
pub mod ensemble;
pub mod error;
pub mod init;
pub mod network;
pub mod nn;
pub mod parity;
pub mod presets;
pub mod sgd;
pub mod summary;
pub mod weights;

pub use config::ResNetConfig;
pub use error::{ResnetError, Result};
pub use network::ResNet;
