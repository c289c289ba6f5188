//! `unravel summary <preset> --input 2x3x224x224 [--depth 3] [--json]`: torchinfo's table.

use clap::Args;
use unravel_resnet::summary::Summary;

use crate::cli::bench::CliResult;
use crate::cli::model_args::{ModelArgs, Shape};

#[derive(Args, Debug)]
pub struct SummaryArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Input shape N×C×H×W.
    #[arg(long, default_value = "1x3x224x224")]
    pub input: Shape,
    /// Deepest level of modules shown (torchinfo's `depth`).
    #[arg(long, default_value_t = 3)]
    pub depth: usize,
    /// Also print the totals as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: SummaryArgs) -> CliResult<()> {
    let model = args.model.build::<f32>()?;
    let summary = Summary::new(&model, &args.input.0, args.depth)?;
    println!("{}", summary.table());
    if args.json {
        let mut json = summary.to_json();
        json["preset"] = args.model.preset.clone().into();
        println!("{json}");
    }
    Ok(())
}
