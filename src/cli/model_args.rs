//! Options shared by the commands that build a preset: `--widths`, `--in-channels`,
//! `--classes`, `--zero-init-residual`, `--seed`, and the `--input NxCxHxW` shape.

use clap::Args;
use unravel_resnet::presets::{self, PresetOptions};
use unravel_resnet::ResNet;
use unravel_tensor::Float;

use crate::cli::bench::CliResult;

/// Which network, and how to change it.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Preset name (see `unravel presets`).
    pub preset: String,
    /// Base width of each stage, comma-separated (e.g. 16,32,64).
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// Image channels (1 for Fashion-MNIST).
    #[arg(long)]
    pub in_channels: Option<usize>,
    /// Number of classes.
    #[arg(long)]
    pub classes: Option<usize>,
    /// Zero-initialise the last BN of every residual branch (true/false).
    #[arg(long)]
    pub zero_init_residual: Option<bool>,
    /// Seed of the weight initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

impl ModelArgs {
    /// The preset options these flags ask for.
    pub fn options(&self) -> PresetOptions {
        PresetOptions {
            widths: self.widths.clone(),
            in_channels: self.in_channels,
            num_classes: self.classes,
            zero_init_residual: self.zero_init_residual,
            ..PresetOptions::default()
        }
    }

    /// Builds the network.
    pub fn build<E: Float>(&self) -> CliResult<ResNet<E>> {
        Ok(presets::build(&self.preset, &self.options(), self.seed)?)
    }
}

/// An input shape N×C×H×W, written `2x3x224x224` on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape(pub Vec<usize>);

impl std::str::FromStr for Shape {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let shape: Result<Vec<usize>, _> = text.split(['x', 'X', ',']).map(str::parse).collect();
        match shape {
            Ok(shape) if shape.len() == 4 && shape.iter().all(|&d| d > 0) => Ok(Shape(shape)),
            _ => Err(format!("expected N×C×H×W like 2x3x224x224, got `{text}`")),
        }
    }
}
