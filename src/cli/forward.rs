//! `unravel forward <preset> --input 2x3x224x224 [--weights FILE] [--json]`: one eval-mode
//! forward pass on a seeded N(0, 1) input; prints the output's shape, its corner values and the
//! time, as the seed's "Forward Pass" section does.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use unravel_resnet::weights;
use unravel_tensor::{Rng, Tensor};

use crate::cli::bench::CliResult;
use crate::cli::model_args::{ModelArgs, Shape};

#[derive(Args, Debug)]
pub struct ForwardArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input shape N×C×H×W.
    #[arg(long, default_value = "2x3x224x224")]
    pub input: Shape,
    /// safetensors state dict to load (strictly) first.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Seed of the input.
    #[arg(long, default_value_t = 1)]
    pub input_seed: u64,
    /// Also print the result as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

fn row_preview(values: &[f32]) -> String {
    let show = |v: &[f32]| {
        v.iter()
            .map(|x| format!("{x:8.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if values.len() <= 6 {
        format!("[{}]", show(values))
    } else {
        format!(
            "[{}, ..., {}]",
            show(&values[..3]),
            show(&values[values.len() - 3..])
        )
    }
}

pub fn run(args: ForwardArgs) -> CliResult<()> {
    let mut model = args.model.build::<f32>()?;
    if let Some(path) = &args.weights {
        weights::load(&mut model, path, true)?;
    }
    // `--input` can name any size: a failed allocation is an error, not an abort.
    let input = Tensor::<f32>::try_randn(
        &args.input.0,
        0.0,
        1.0,
        &mut Rng::seed_from(args.input_seed),
    )?;
    let start = Instant::now();
    let output = model.predict(&input)?;
    let seconds = start.elapsed().as_secs_f64();
    let shape = output.shape().to_vec();
    let values = output.to_vec();
    let width = shape.get(1).copied().unwrap_or(1).max(1);
    println!("output shape: {shape:?}");
    let rows: Vec<&[f32]> = values.chunks(width).collect();
    for row in &rows {
        println!("  {}", row_preview(row));
    }
    println!("forward time: {:.3} s", seconds);
    if args.json {
        let first: Vec<f32> = rows
            .first()
            .map(|r| r.iter().take(3).copied().collect())
            .unwrap_or_default();
        println!(
            "{}",
            json!({
                "preset": args.model.preset,
                "input_shape": args.input.0,
                "output_shape": shape,
                "first_values": first,
                "seconds": seconds,
            })
        );
    }
    Ok(())
}
