//! `unravel analyze responses RUN_DIR…`: He et al. 2015 Figure 7 — the std of each 3×3
//! layer's response (after BN, before ReLU/addition) of trained networks, layer by layer (top)
//! and sorted by magnitude (bottom), plotted to PNG and SVG and written as JSON.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use unravel_resnet::weights::write_atomically;
use unravel_train::plot::{save, Labels, Series};
use unravel_train::responses::layer_responses;

use crate::cli::bench::{with_threads, CliResult};
use crate::cli::model_dir::load_run;

#[derive(Subcommand)]
pub enum AnalyzeCommand {
    /// Figure 7: std of the 3×3 layers' responses of trained runs.
    Responses(ResponsesArgs),
}

#[derive(Args, Debug, Clone)]
pub struct ResponsesArgs {
    /// Run directories of trained networks (default: the degradation experiment's four).
    pub runs: Vec<PathBuf>,
    /// Output path without extension: STEM.png/.svg (by layer), STEM-sorted.png/.svg, STEM.json.
    #[arg(long, default_value = "runs/degradation/responses")]
    pub out: PathBuf,
    /// Data directory (default: $UNRAVEL_DATA, then the system directory).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Test images to measure on.
    #[arg(long, default_value_t = 2000)]
    pub limit_test: usize,
    #[arg(long)]
    pub threads: Option<usize>,
}

pub fn run(command: AnalyzeCommand) -> CliResult<()> {
    let AnalyzeCommand::Responses(args) = command;
    let runs = if args.runs.is_empty() {
        ["plain20", "plain56", "resnet20", "resnet56"]
            .iter()
            .map(|name| PathBuf::from("runs/degradation").join(name))
            .collect()
    } else {
        args.runs.clone()
    };
    let (data_dir, limit) = (args.data.clone(), args.limit_test);
    let measured = with_threads(args.threads, move || {
        let mut measured = Vec::new();
        for dir in &runs {
            let (config, mut model, loader) =
                load_run::<f32>(dir, data_dir.as_deref(), Some(limit))
                    .map_err(|e| e.to_string())?;
            let responses = layer_responses(&mut model, &loader).map_err(|e| e.to_string())?;
            measured.push((config.arch, responses));
        }
        Ok::<_, String>(measured)
    })??;
    let mut by_layer = Vec::new();
    let mut sorted = Vec::new();
    for (colour, (arch, responses)) in measured.iter().enumerate() {
        let dashed = arch.starts_with("plain");
        by_layer.push(Series {
            label: arch.clone(),
            points: responses.iter().map(|r| (r.layer as f64, r.std)).collect(),
            dashed,
            colour,
        });
        let mut stds: Vec<f64> = responses.iter().map(|r| r.std).collect();
        stds.sort_by(|a, b| b.total_cmp(a));
        sorted.push(Series {
            label: arch.clone(),
            points: stds
                .iter()
                .enumerate()
                .map(|(k, &s)| (k as f64 + 1.0, s))
                .collect(),
            dashed,
            colour,
        });
        println!(
            "{arch}: {} layers, mean std {:.4}",
            responses.len(),
            stds.iter().sum::<f64>() / stds.len().max(1) as f64
        );
    }
    let labels = |title: &str, x: &str| Labels {
        title: title.into(),
        x: x.into(),
        y: "std".into(),
    };
    let sorted_stem = PathBuf::from(format!("{}-sorted", args.out.display()));
    let mut written = save(
        &args.out,
        &by_layer,
        &labels(
            "Std of 3×3 layer responses (He et al. Fig. 7)",
            "layer index (original)",
        ),
    )?;
    written.extend(save(
        &sorted_stem,
        &sorted,
        &labels(
            "Std of 3×3 layer responses, sorted",
            "layer index (sorted by magnitude)",
        ),
    )?);
    let json = serde_json::json!(measured
        .iter()
        .map(|(arch, r)| serde_json::json!({ "arch": arch, "responses": r }))
        .collect::<Vec<_>>());
    let json_path = args.out.with_extension("json");
    write_atomically(&json_path, serde_json::to_string_pretty(&json)?.as_bytes())?;
    written.push(json_path);
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
