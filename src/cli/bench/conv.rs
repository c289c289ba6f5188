//! `unravel bench conv`: conv2d GFLOP/s on the layer table of `../shared/bench/README.md`,
//! forward and forward + backward (input and weight), one JSON object per line, with PyTorch's
//! figures from the baseline file alongside when it is readable.
//!
//! FLOPs of a conv = 2·N·C_out·oh·ow·C_in·kh·kw (per group: C_in/G); forward + backward counts
//! 3× that, as `torch_cpu.py` does.

use std::collections::HashMap;
use std::time::Instant;

use unravel::workloads::{ConvLayer, CONV_LAYERS};
use unravel_tensor::ops::conv::{conv2d, conv2d_backward_input, conv2d_backward_weight};
use unravel_tensor::{Rng, Tensor};

use super::{with_threads, CliResult};

#[derive(clap::Args)]
pub struct ConvArgs {
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Layers to measure, comma-separated (default: all).
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<String>,
    /// PyTorch's figures, JSON lines of `torch_cpu.py` (skipped if unreadable).
    #[arg(long, default_value = "../shared/bench/torch_cpu_baseline.jsonl")]
    pub baseline: String,
    /// Timed repetitions per measurement (the best is reported), after one warm-up run.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
}

/// Best wall time in seconds of `reps` runs of `body` after one warm-up run.
fn best_time(reps: usize, mut body: impl FnMut() -> CliResult<()>) -> CliResult<f64> {
    body()?;
    let mut best = f64::INFINITY;
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        body()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// PyTorch's (forward, forward + backward) GFLOP/s per layer name.
fn read_baseline(path: &str) -> HashMap<String, (f64, f64)> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["kind"] == "conv")
        .filter_map(|v| {
            Some((
                v["name"].as_str()?.to_string(),
                (v["fwd_gflops"].as_f64()?, v["fwdbwd_gflops"].as_f64()?),
            ))
        })
        .collect()
}

pub fn run(args: ConvArgs) -> CliResult<()> {
    for name in &args.layers {
        if ConvLayer::by_name(name).is_none() {
            let known: Vec<&str> = CONV_LAYERS.iter().map(|layer| layer.name).collect();
            return Err(format!(
                "bench conv: unknown layer {name:?}; known: {}",
                known.join(",")
            )
            .into());
        }
    }
    let baseline = read_baseline(&args.baseline);
    let threads = args.threads;
    // CliResult's error is not Send, so the pool hands back a String.
    with_threads(threads, move || {
        measure(&args, &baseline).map_err(|e| e.to_string())
    })?
    .map_err(Into::into)
}

fn measure(args: &ConvArgs, baseline: &HashMap<String, (f64, f64)>) -> CliResult<()> {
    {
        let threads = rayon::current_num_threads();
        for layer in CONV_LAYERS
            .iter()
            .filter(|l| args.layers.is_empty() || args.layers.iter().any(|n| n == l.name))
        {
            let mut rng = Rng::seed_from(0);
            let x = Tensor::<f32>::randn(
                &[layer.batch, layer.in_channels, layer.size, layer.size],
                0.0,
                1.0,
                &mut rng,
            );
            let w = Tensor::<f32>::randn(
                &[
                    layer.out_channels,
                    layer.in_channels,
                    layer.kernel,
                    layer.kernel,
                ],
                0.0,
                1.0,
                &mut rng,
            );
            let params = layer.params();
            let y = conv2d(&x, &w, None, &params)?;
            let dy = Tensor::<f32>::randn(y.shape(), 0.0, 1.0, &mut rng);

            let forward = best_time(args.reps, || {
                conv2d(&x, &w, None, &params)?;
                Ok(())
            })?;
            let forward_backward = best_time(args.reps, || {
                conv2d(&x, &w, None, &params)?;
                conv2d_backward_input(&dy, &w, x.shape(), &params)?;
                conv2d_backward_weight(&dy, &x, w.shape(), &params)?;
                Ok(())
            })?;
            let torch = baseline.get(layer.name);
            for (pass, seconds, flops, torch_gflops) in [
                (
                    "forward",
                    forward,
                    layer.forward_flops() as f64,
                    torch.map(|t| t.0),
                ),
                (
                    "forward+backward",
                    forward_backward,
                    3.0 * layer.forward_flops() as f64,
                    torch.map(|t| t.1),
                ),
            ] {
                let gflops = flops / seconds / 1e9;
                let mut line = serde_json::json!({
                    "op": "conv2d",
                    "impl": "unravel",
                    "layer": layer.name,
                    "pass": pass,
                    "batch": layer.batch,
                    "threads": threads,
                    "gflops": (gflops * 10.0).round() / 10.0,
                    "ms": (seconds * 1e5).round() / 100.0,
                });
                if let Some(torch_gflops) = torch_gflops {
                    line["torch_gflops"] = torch_gflops.into();
                    line["ratio_vs_torch"] =
                        ((gflops / torch_gflops * 100.0).round() / 100.0).into();
                }
                println!("{line}");
            }
        }
        Ok(())
    }
}
