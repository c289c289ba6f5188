//! `unravel presets [--json]`: every preset with its block, stages and parameter count.

use clap::Args;
use serde_json::json;
use unravel_resnet::presets::{self, PresetOptions};

use crate::cli::bench::CliResult;

#[derive(Args, Debug)]
pub struct PresetsArgs {
    /// Also print the list as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: PresetsArgs) -> CliResult<()> {
    let mut rows = Vec::new();
    println!(
        "{:<18} {:<18} {:<14} {:<16} {:>12}",
        "preset", "block", "blocks", "widths", "params"
    );
    for &name in presets::NAMES {
        let config = presets::config(name, &PresetOptions::default())?;
        let params = presets::parameter_count(&config)?;
        let layers: Vec<String> = config.layers.iter().map(usize::to_string).collect();
        let widths: Vec<String> = config.widths.iter().map(usize::to_string).collect();
        println!(
            "{:<18} {:<18} {:<14} {:<16} {:>12}",
            name,
            format!("{:?}", config.block),
            layers.join(","),
            widths.join(","),
            unravel_resnet::summary::thousands(params)
        );
        rows.push(json!({
            "name": name,
            "block": format!("{:?}", config.block),
            "layers": config.layers,
            "widths": config.widths,
            "params": params,
        }));
    }
    if args.json {
        println!("{}", json!({ "presets": rows }));
    }
    Ok(())
}
