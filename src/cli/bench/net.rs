//! `unravel bench net`: whole-network throughput of a preset — training images/s (forward,
//! backward and SGD update on one batch), inference images/s (eval mode, no tape) at the same
//! batch, batch-1 inference latency, and the process's peak resident memory — as one JSON line.
//!
//! Reference: PyTorch 2 threads, ResNet-20 at 1×28×28, batch 128 trains at 456 images/s
//! (`../shared/bench/torch_cpu_baseline.jsonl`).

use std::time::Instant;

use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_tensor::{Float, Rng, Tensor};
use unravel_train::step::forward_backward;

use super::{with_threads, CliResult};
use crate::cli::model_args::Shape;

#[derive(clap::Args)]
pub struct NetArgs {
    /// Preset (see `unravel presets`).
    #[arg(long, default_value = "resnet20")]
    pub arch: String,
    /// Stage widths replacing the preset's, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// Input N×C×H×W (N is the batch).
    #[arg(long, default_value = "128x1x28x28")]
    pub input: Shape,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Number of classes.
    #[arg(long, default_value_t = 10)]
    pub classes: usize,
    /// Seconds to spend on each measurement (at least 3 timed steps each), after one warm-up.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// f32 or f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Print one JSON line (the default output; the flag is accepted for scripts).
    #[arg(long)]
    pub json: bool,
}

/// Mean seconds per call of `body` over at least 3 calls and `budget` seconds, after a warm-up.
fn time_per_call(budget: f64, mut body: impl FnMut() -> CliResult<()>) -> CliResult<f64> {
    body()?;
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 3 || start.elapsed().as_secs_f64() < budget {
        body()?;
        calls += 1;
    }
    Ok(start.elapsed().as_secs_f64() / f64::from(calls))
}

/// Peak resident set size of this process in MiB (`VmHWM` of /proc/self/status; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn measure<E: Float>(args: &NetArgs) -> CliResult<serde_json::Value> {
    let shape = &args.input.0;
    let batch = shape[0];
    let options = unravel_resnet::presets::PresetOptions {
        widths: args.widths.clone(),
        in_channels: Some(shape[1]),
        num_classes: Some(args.classes),
        ..Default::default()
    };
    let mut model = unravel_resnet::presets::build::<E>(&args.arch, &options, 0)?;
    let mut rng = Rng::seed_from(1);
    let images = Tensor::<E>::randn(shape, 0.0, 1.0, &mut rng);
    let labels: Vec<usize> = (0..batch).map(|_| rng.below(args.classes)).collect();
    let mut optimizer = Sgd::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 1e-4,
        ..Default::default()
    });
    let train = time_per_call(args.seconds, || {
        let output = forward_backward(&mut model, &images, &labels)?;
        optimizer.step(&mut model, &output.gradients)?;
        Ok(())
    })?;
    let infer = time_per_call(args.seconds, || {
        model.predict(&images)?;
        Ok(())
    })?;
    let one = images.narrow(0, 0, 1)?.contiguous();
    let infer_one = time_per_call(args.seconds.min(2.0), || {
        model.predict(&one)?;
        Ok(())
    })?;
    Ok(serde_json::json!({
        "bench": "net",
        "arch": args.arch,
        "input": shape,
        "dtype": args.dtype,
        "threads": rayon::current_num_threads(),
        "train_images_per_s": batch as f64 / train,
        "train_step_ms": 1e3 * train,
        "infer_images_per_s": batch as f64 / infer,
        "infer_batch1_ms": 1e3 * infer_one,
        "peak_rss_mb": peak_rss_mb(),
    }))
}

pub fn run(args: NetArgs) -> CliResult<()> {
    let result = with_threads(args.threads, || {
        match args.dtype.as_str() {
            "f32" => measure::<f32>(&args),
            "f64" => measure::<f64>(&args),
            other => Err(format!("--dtype must be f32 or f64, got `{other}`").into()),
        }
        .map_err(|e| e.to_string())
    })??;
    println!("{result}");
    Ok(())
}
