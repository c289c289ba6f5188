//! `unravel experiment paths`: Veit et al. 2016, §3 and §5 — the distribution of path lengths,
//! Binomial(n, ½) (Fig. 6a), the input-gradient norm of single paths of each length k
//! (Fig. 6b) and the total gradient per length, C(n, k) times that norm (Fig. 6c), with the
//! range of lengths that carries most of it.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use unravel_resnet::ensemble::{
    model_blocks, path_gradient_experiment, LabelledBatch, PathGradientConfig, PathGradients,
    PathLengths,
};

use unravel_resnet::nn::Mode;

use crate::cli::bench::CliResult;
use crate::cli::experiment::plot::{self, Chart, Series, Style, BLUE_, ORANGE_};
use crate::cli::experiment::setup::{write_csv, write_text, ModelAndData};

#[derive(Args, Debug, Clone)]
pub struct PathsArgs {
    #[command(flatten)]
    pub model: ModelAndData,
    /// Test images in the batch that is fed forward (the first N of the test set).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Random paths sampled for each length k.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// The effective range is the narrowest range of lengths carrying this share of the
    /// total gradient.
    #[arg(long, default_value_t = 0.9)]
    pub mass: f64,
    /// Batch normalisation in the forward pass: `eval` (running statistics) or `train` (the
    /// batch's statistics, as during training).
    #[arg(long, default_value = "eval", value_parser = ["eval", "train"])]
    pub bn_mode: String,
    /// Output folder for the CSV files, plots and summary.
    #[arg(long, default_value = "experiments/paths")]
    pub out: PathBuf,
    /// End with one JSON line of the headline numbers.
    #[arg(long)]
    pub json: bool,
}

pub fn run(mut args: PathsArgs) -> CliResult<()> {
    let started = Instant::now();
    if !(args.mass > 0.0 && args.mass <= 1.0) {
        return Err(format!("--mass must be in (0, 1], got {}", args.mass).into());
    }
    if args.batch == 0 {
        return Err("--batch must be positive".into());
    }
    args.model.test_samples = Some(args.batch);
    args.model.batch_size = args.batch;
    let run_config = args.model.config(args.model.weights.as_deref(), None)?;
    let (test, channels, classes) = args.model.test_set(&run_config)?;
    let mut batch = test.into_iter().next().ok_or("the test set is empty")?;
    if batch.labels.len() > args.batch {
        // The test loader batches at least 100 images: keep the first `--batch`.
        let images = batch.images.narrow(0, 0, args.batch)?.contiguous();
        batch = LabelledBatch::new(images, batch.labels[..args.batch].to_vec())?;
    }
    let model = args.model.model(
        &run_config,
        args.model.weights.as_deref(),
        channels,
        classes,
    )?;
    let blocks = model_blocks(&model).len();
    let distribution = PathLengths::new(blocks)?;
    let paper = PathLengths::new(54)?;

    eprintln!(
        "{blocks} blocks: {} paths; sampling {} paths of each length 1 … {blocks} on {} images …",
        distribution.total_paths(),
        args.samples,
        batch.labels.len()
    );
    let config = PathGradientConfig {
        lengths: Vec::new(),
        samples: args.samples,
        seed: args.model.seed,
        mode: if args.bn_mode == "train" {
            Mode::Train
        } else {
            Mode::Eval
        },
    };
    let result = path_gradient_experiment(&model, &batch, &config)?;
    let effective = result.effective_range(args.mass);

    write_outputs(&args, &distribution, &result)?;
    let summary = summary_text(
        &args,
        &run_config.arch,
        &distribution,
        &paper,
        &result,
        effective,
        started.elapsed().as_secs_f64(),
    );
    write_text(&args.out, "summary.txt", &summary)?;
    print!("{summary}");
    if args.json {
        let line = json!({
            "experiment": "paths",
            "preset": run_config.arch,
            "dataset": run_config.dataset,
            "blocks": blocks,
            "mean_path_length": distribution.mean(),
            "lengths": result.per_length.iter().map(|g| g.length).collect::<Vec<_>>(),
            "mean_gradient_norm": result.per_length.iter().map(|g| g.spread.mean).collect::<Vec<_>>(),
            "std_gradient_norm": result.per_length.iter().map(|g| g.spread.standard_deviation).collect::<Vec<_>>(),
            "total_gradient": result.total_gradient().iter().map(|(_, t)| *t).collect::<Vec<_>>(),
            "effective_range": effective.map(|(low, high)| vec![low, high]),
            "effective_mass": args.mass,
            "bn_mode": args.bn_mode,
            "effective_path_fraction": effective.map(|(low, high)| distribution.fraction_between(low, high)),
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{line}");
    }
    Ok(())
}

fn write_outputs(
    args: &PathsArgs,
    distribution: &PathLengths,
    result: &PathGradients,
) -> CliResult<()> {
    let out = &args.out;
    let n = distribution.blocks();
    let rows: Vec<Vec<String>> = (0..=n)
        .map(|k| {
            vec![
                k.to_string(),
                distribution.count(k).to_string(),
                format!("{:.6e}", distribution.probability(k)),
            ]
        })
        .collect();
    write_csv(
        out,
        "path_lengths.csv",
        &["length", "paths", "probability"],
        &rows,
    )?;
    plot::write(
        out,
        "fig6a_path_lengths",
        &Chart {
            title: format!("Distribution of path lengths, n = {n} (Veit et al. Fig. 6a)"),
            x_label: "path length (blocks whose residual branch the path passes)".into(),
            y_label: "fraction of paths".into(),
            series: vec![Series::new(
                format!("Binomial({n}, 1/2)"),
                (0..=n)
                    .map(|k| (k as f64, distribution.probability(k)))
                    .collect(),
                BLUE_,
                Style::LineAndPoints,
            )],
            reference_lines: Vec::new(),
        },
    )?;

    let mut rows = Vec::new();
    for g in &result.per_length {
        for (sample, norm) in g.norms.iter().enumerate() {
            rows.push(vec![
                g.length.to_string(),
                sample.to_string(),
                format!("{norm:.6e}"),
            ]);
        }
    }
    write_csv(
        out,
        "path_gradients.csv",
        &["length", "sample", "input_gradient_norm"],
        &rows,
    )?;
    let totals = result.total_gradient();
    let rows: Vec<Vec<String>> = result
        .per_length
        .iter()
        .zip(&totals)
        .map(|(g, (_, total))| {
            vec![
                g.length.to_string(),
                format!("{:.6e}", g.spread.mean),
                format!("{:.6e}", g.spread.standard_deviation),
                distribution.count(g.length).to_string(),
                format!("{total:.6e}"),
            ]
        })
        .collect();
    write_csv(
        out,
        "path_gradient_by_length.csv",
        &["length", "mean_norm", "std_norm", "paths", "total_gradient"],
        &rows,
    )?;

    let log = |v: f64| if v > 0.0 { v.log10() } else { f64::NAN };
    let mean: Vec<(f64, f64)> = result
        .per_length
        .iter()
        .map(|g| (g.length as f64, log(g.spread.mean)))
        .collect();
    let bars: Vec<(f64, f64)> = result
        .per_length
        .iter()
        .map(|g| (log(g.spread.min), log(g.spread.max)))
        .collect();
    plot::write(
        out,
        "fig6b_gradient_per_path",
        &Chart {
            title: "Gradient magnitude of a path of length k (Veit et al. Fig. 6b)".into(),
            x_label: "path length k".into(),
            y_label: "log10 ‖∂L/∂x‖ (mean; bars: min–max)".into(),
            series: vec![
                Series::new("single path", mean, ORANGE_, Style::LineAndPoints)
                    .with_error_bars(bars),
            ],
            reference_lines: Vec::new(),
        },
    )?;
    let sum: f64 = totals.iter().map(|(_, t)| t).sum();
    plot::write(
        out,
        "fig6c_total_gradient",
        &Chart {
            title: "Total gradient magnitude per path length (Veit et al. Fig. 6c)".into(),
            x_label: "path length k".into(),
            y_label: "C(n, k) × mean norm (share of the sum)".into(),
            series: vec![Series::new(
                "all paths of length k",
                totals
                    .iter()
                    .map(|&(k, t)| (k as f64, if sum > 0.0 { t / sum } else { 0.0 }))
                    .collect(),
                BLUE_,
                Style::LineAndPoints,
            )],
            reference_lines: Vec::new(),
        },
    )?;
    Ok(())
}

fn summary_text(
    args: &PathsArgs,
    arch: &str,
    distribution: &PathLengths,
    paper: &PathLengths,
    result: &PathGradients,
    effective: Option<(usize, usize)>,
    seconds: f64,
) -> String {
    let n = distribution.blocks();
    let mut text = String::new();
    text.push_str(&format!(
        "Paths (Veit et al. 2016, §3, §5): {} with n = {n} blocks\n",
        arch
    ));
    let (low, high) = distribution.central_range(0.95);
    text.push_str(&format!(
        "paths: 2^{n} = {}; length ~ Binomial({n}, 1/2): mean {:.1}, std {:.2}; 95% of paths pass {low}–{high} blocks ({:.1}%)\n",
        distribution.total_paths(),
        distribution.mean(),
        distribution.standard_deviation(),
        100.0 * distribution.fraction_between(low, high)
    ));
    text.push_str(&format!(
        "paper's n = 54: mean {:.0}; paths of 19–35 blocks: {:.2}% (the seed: over 95%); of 5–17 blocks: {:.3}% (the paper: 0.45%)\n",
        paper.mean(),
        100.0 * paper.fraction_between(19, 35),
        100.0 * paper.fraction_between(5, 17)
    ));
    text.push_str("mean input-gradient norm of one path, by length k:");
    for g in &result.per_length {
        if g.length <= 3 || g.length % 5 == 0 || g.length == n {
            text.push_str(&format!(" k={}: {:.2e}", g.length, g.spread.mean));
        }
    }
    text.push('\n');
    if let (Some(first), Some(last)) = (result.per_length.first(), result.per_length.last()) {
        if first.spread.mean > 0.0 && last.spread.mean > 0.0 && last.length > first.length {
            let rate =
                (last.spread.mean / first.spread.mean).ln() / (last.length - first.length) as f64;
            text.push_str(&format!(
                "per extra block the mean norm changes by ×{:.3} on average (geometric, k={} to k={}; the paper: a roughly exponential decay)\n",
                rate.exp(),
                first.length,
                last.length
            ));
        }
    }
    let totals = result.total_gradient();
    if let Some(&(peak, _)) = totals.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        text.push_str(&format!("total gradient C(n,k)·norm peaks at k = {peak}\n"));
    }
    if let Some((low, high)) = effective {
        text.push_str(&format!(
            "effective paths: lengths {low}–{high} carry {:.0}% of the total gradient and are {:.3}% of all paths (paper, n = 54: 5–17, 0.45%)\n",
            100.0 * args.mass,
            100.0 * distribution.fraction_between(low, high)
        ));
    }
    text.push_str(&format!(
        "wrote {}/{{path_lengths,path_gradients,path_gradient_by_length}}.csv and fig6a/6b/6c PNG+SVG plots ({seconds:.0} s)\n",
        args.out.display()
    ));
    text
}
