//! `unravel bench net`: whole-network throughput of a preset — training images/s (forward,
//! backward and SGD update on one batch), inference images/s (eval mode, no tape) at the same
//! batch, batch-1 inference latency, and the process's peak resident memory — as one JSON line.
//! On the CPU or a GPU (`--device cuda`: the model, the synthetic batch and the optimizer's
//! state live on the GPU, and every timed call ends with a device synchronisation).
//!
//! Reference: PyTorch 2 threads, ResNet-20 at 1×28×28, batch 128 trains at 456 images/s
//! (`../shared/bench/torch_cpu_baseline.jsonl`). On a GPU, `scripts/gpu-check.sh` runs
//! ResNet-50 at 64×3×224×224 next to PyTorch (`scripts/gpu_bench_torch_net.py`).

use std::time::Instant;

use unravel_resnet::sgd::{Sgd, SgdConfig};
use unravel_tensor::{Device, Float, Rng, Tensor};
use unravel_train::step::forward_backward;

use super::{with_threads, CliResult};
use crate::cli::model_args::Shape;
use crate::cli::train::parse_device;

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
    /// Seconds to spend on each measurement (at least 3 timed steps each), after the warm-up;
    /// ignored when `--steps` is given.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Exactly this many timed steps per measurement (after the warm-up), instead of
    /// `--seconds`: a fixed, predictable run time (the GPU check uses it).
    #[arg(long)]
    pub steps: Option<u32>,
    /// Untimed warm-up steps before each measurement (kernel compilation and allocation
    /// happen there on a GPU).
    #[arg(long, default_value_t = 1)]
    pub warmup: u32,
    /// cpu, cuda (GPU 0) or cuda:N. The GPU needs a build with `--features cuda`, an NVIDIA
    /// driver and NVRTC (see docs/cuda.md); f32 and f64 both run there.
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: Device,
    /// f32 or f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Print one JSON line (the default output; the flag is accepted for scripts).
    #[arg(long)]
    pub json: bool,
}

/// How many calls one measurement makes, and where they run.
#[derive(Clone, Copy)]
struct Timing {
    /// Untimed calls first.
    warmup: u32,
    /// Exactly this many timed calls, or (`None`) at least 3 and `seconds`.
    steps: Option<u32>,
    seconds: f64,
    /// Synchronised after every call, so the clock covers the queued kernels.
    device: Device,
}

impl Timing {
    /// Mean seconds per call of `body` over the timed calls, and their number.
    fn per_call(&self, mut body: impl FnMut() -> CliResult<()>) -> CliResult<(f64, u32)> {
        let mut call = || -> CliResult<()> {
            body()?;
            self.device.synchronize()?;
            Ok(())
        };
        for _ in 0..self.warmup {
            call()?;
        }
        let start = Instant::now();
        let mut calls = 0u32;
        loop {
            let done = match self.steps {
                Some(steps) => calls >= steps.max(1),
                None => calls >= 3 && start.elapsed().as_secs_f64() >= self.seconds,
            };
            if done {
                break;
            }
            call()?;
            calls += 1;
        }
        Ok((start.elapsed().as_secs_f64() / f64::from(calls), calls))
    }
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
    let device = args.device;
    let options = unravel_resnet::presets::PresetOptions {
        widths: args.widths.clone(),
        in_channels: Some(shape[1]),
        num_classes: Some(args.classes),
        ..Default::default()
    };
    let mut model = unravel_resnet::presets::build::<E>(&args.arch, &options, 0)?;
    model.to_device(device)?;
    let mut rng = Rng::seed_from(1);
    // images: [N, C, H, W] on `device`, labels on the host (cross_entropy takes a slice).
    let images = Tensor::<E>::randn(shape, 0.0, 1.0, &mut rng).to_device(device)?;
    let labels: Vec<usize> = (0..batch).map(|_| rng.below(args.classes)).collect();
    let mut optimizer = Sgd::new(SgdConfig {
        lr: 0.01,
        momentum: 0.9,
        weight_decay: 1e-4,
        ..Default::default()
    });
    optimizer.to_device(device)?;
    let timing = Timing {
        warmup: args.warmup,
        steps: args.steps,
        seconds: args.seconds,
        device,
    };
    let (train, train_steps) = timing.per_call(|| {
        let output = forward_backward(&mut model, &images, &labels)?;
        optimizer.step(&mut model, &output.gradients)?;
        Ok(())
    })?;
    let (infer, _) = timing.per_call(|| {
        model.predict(&images)?;
        Ok(())
    })?;
    // one: [1, C, H, W], the first image of the batch.
    let one = images.narrow(0, 0, 1)?.try_contiguous()?;
    let one_timing = Timing {
        seconds: args.seconds.min(2.0),
        ..timing
    };
    let (infer_one, _) = one_timing.per_call(|| {
        model.predict(&one)?;
        Ok(())
    })?;
    Ok(serde_json::json!({
        "bench": "net",
        "arch": args.arch,
        "input": shape,
        "dtype": args.dtype,
        "device": device.to_string(),
        "threads": rayon::current_num_threads(),
        "warmup_steps": args.warmup,
        "timed_steps": train_steps,
        "train_images_per_s": batch as f64 / train,
        "train_step_ms": 1e3 * train,
        "infer_images_per_s": batch as f64 / infer,
        "infer_batch1_ms": 1e3 * infer_one,
        "peak_rss_mb": peak_rss_mb(),
    }))
}

/// Fails before building the model when `args.device` cannot run: no driver, no such GPU, or
/// a build without the `cuda` feature.
fn check_device(args: &NetArgs) -> CliResult<()> {
    if let Device::Cuda(ordinal) = args.device {
        Device::cuda(ordinal).map_err(|e| format!("bench net --device {}: {e}", args.device))?;
    }
    Ok(())
}

pub fn run(args: NetArgs) -> CliResult<()> {
    check_device(&args)?;
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
