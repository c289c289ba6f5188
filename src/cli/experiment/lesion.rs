//! `unravel experiment lesion`: Veit et al. 2016, §4 — the test error after deleting each
//! block (Fig. 3; with `--plain-weights`, the same for a plain network), after deleting k
//! random blocks (Fig. 5a), and after swapping k random pairs of blocks, against Kendall's τ
//! (Fig. 5b).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;
use unravel_resnet::ensemble::{
    error_rate, lesion_each_block, lesion_random_blocks, model_blocks, reorder_random_pairs,
    swappable_pairs, RandomLesion, RandomLesionConfig, ReorderConfig, Reordering, SingleLesion,
};

use crate::cli::bench::CliResult;
use crate::cli::experiment::plot::{
    self, Chart, Series, Style, BLUE_, GREEN_, GREY_, ORANGE_, RED_,
};
use crate::cli::experiment::setup::{write_csv, write_text, ModelAndData};

#[derive(Args, Debug, Clone)]
pub struct LesionArgs {
    #[command(flatten)]
    pub model: ModelAndData,
    /// Weights of a trained plain network, for the plain-network comparison of Fig. 3.
    #[arg(long)]
    pub plain_weights: Option<PathBuf>,
    /// The plain network's preset (default: the plain weights file's, else plain20).
    #[arg(long)]
    pub plain_preset: Option<String>,
    /// Delete k = 1 … K random blocks (default: 20, or every non-downsampling block if fewer).
    #[arg(long)]
    pub max_deleted: Option<usize>,
    /// Random draws for each k.
    #[arg(long, default_value_t = 5)]
    pub draws: usize,
    /// Swap k = 1 … K random pairs of blocks.
    #[arg(long, default_value_t = 20)]
    pub max_swaps: usize,
    /// Random draws for each number of swaps.
    #[arg(long, default_value_t = 3)]
    pub swap_draws: usize,
    /// Output folder for the CSV files, plots and summary.
    #[arg(long, default_value = "experiments/lesion")]
    pub out: PathBuf,
    /// End with one JSON line of the headline numbers.
    #[arg(long)]
    pub json: bool,
}

/// The plain network's results.
struct PlainResult {
    arch: String,
    error: f64,
    single: Vec<SingleLesion>,
}

/// What the outputs are labelled with.
struct Names {
    arch: String,
    dataset: String,
}

pub fn run(args: LesionArgs) -> CliResult<()> {
    let started = Instant::now();
    let config = args.model.config(args.model.weights.as_deref(), None)?;
    let (test, channels, classes) = args.model.test_set(&config)?;
    let images: usize = test.iter().map(|b| b.labels.len()).sum();
    let mut model = args
        .model
        .model(&config, args.model.weights.as_deref(), channels, classes)?;
    let blocks = model_blocks(&model);
    let full_error = error_rate(&mut model, &test)?;
    eprintln!(
        "full model: {:.2}% error on {images} test images",
        100.0 * full_error
    );

    eprintln!("deleting each of {} blocks …", blocks.len());
    let single = lesion_each_block(&model, &test)?;

    let plain = match &args.plain_weights {
        Some(path) => {
            let plain_config = args
                .model
                .config(Some(path), args.plain_preset.as_deref())?;
            let (plain_test, channels, classes) = args.model.test_set(&plain_config)?;
            let mut plain_model = args
                .model
                .model(&plain_config, Some(path), channels, classes)?;
            let plain_error = error_rate(&mut plain_model, &plain_test)?;
            eprintln!(
                "plain network: {:.2}% error; deleting each block …",
                100.0 * plain_error
            );
            let plain_single = lesion_each_block(&plain_model, &plain_test)?;
            Some(PlainResult {
                arch: plain_config.arch,
                error: plain_error,
                single: plain_single,
            })
        }
        None => None,
    };

    let candidates = blocks.iter().filter(|b| !b.is_downsampling()).count();
    let max_deleted = args.max_deleted.unwrap_or(20.min(candidates));
    let random_config = RandomLesionConfig {
        max_deleted,
        draws: args.draws,
        seed: args.model.seed,
        include_downsampling: false,
    };
    eprintln!(
        "deleting k = 1 … {max_deleted} random blocks, {} draws each …",
        args.draws
    );
    let random = lesion_random_blocks(&model, &test, &random_config)?;

    let swap_config = ReorderConfig {
        max_swaps: args.max_swaps,
        draws: args.swap_draws,
        seed: args.model.seed.wrapping_add(1),
    };
    eprintln!(
        "swapping k = 1 … {} pairs, {} draws each …",
        args.max_swaps, args.swap_draws
    );
    let reordered = reorder_random_pairs(&model, &test, &swap_config)?;

    let out = &args.out;
    let names = Names {
        arch: config.arch.clone(),
        dataset: config.dataset.clone(),
    };
    write_outputs(
        &args,
        &names,
        full_error,
        &single,
        plain.as_ref(),
        &random,
        &reordered,
    )?;
    let summary = summary_text(
        &args,
        &names,
        images,
        full_error,
        &single,
        plain.as_ref(),
        &random,
        &reordered,
        swappable_pairs(&blocks).len(),
        started.elapsed().as_secs_f64(),
    );
    write_text(out, "summary.txt", &summary)?;
    print!("{summary}");
    if args.json {
        let line = json!({
            "experiment": "lesion",
            "preset": config.arch,
            "dataset": config.dataset,
            "test_images": images,
            "full_error": full_error,
            "single_block_errors": single.iter().map(|s| s.error).collect::<Vec<_>>(),
            "downsampling_blocks": single.iter().filter(|s| s.block.is_downsampling()).map(|s| s.block.index).collect::<Vec<_>>(),
            "plain_preset": plain.as_ref().map(|p| p.arch.clone()),
            "plain_full_error": plain.as_ref().map(|p| p.error),
            "plain_single_block_errors": plain.as_ref().map(|p| p.single.iter().map(|s| s.error).collect::<Vec<_>>()),
            "random_deletion_mean_error": random.iter().map(|r| r.spread.mean).collect::<Vec<_>>(),
            "random_deletion_std_error": random.iter().map(|r| r.spread.standard_deviation).collect::<Vec<_>>(),
            "reorder_tau": reordered.iter().map(|r| r.kendall_tau).collect::<Vec<_>>(),
            "reorder_error": reordered.iter().map(|r| r.error).collect::<Vec<_>>(),
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{line}");
    }
    Ok(())
}

fn single_rows(network: &str, lesions: &[SingleLesion]) -> Vec<Vec<String>> {
    lesions
        .iter()
        .map(|s| {
            vec![
                network.to_string(),
                s.block.index.to_string(),
                s.block.stage.to_string(),
                s.block.is_downsampling().to_string(),
                s.error.map(|e| format!("{e:.6}")).unwrap_or_default(),
            ]
        })
        .collect()
}

fn write_outputs(
    args: &LesionArgs,
    names: &Names,
    full_error: f64,
    single: &[SingleLesion],
    plain: Option<&PlainResult>,
    random: &[RandomLesion],
    reordered: &[Reordering],
) -> CliResult<()> {
    let out = &args.out;
    let mut rows = single_rows(&names.arch, single);
    if let Some(plain) = plain {
        rows.extend(single_rows(&plain.arch, &plain.single));
    }
    write_csv(
        out,
        "lesion_single.csv",
        &["network", "block", "stage", "downsampling", "error"],
        &rows,
    )?;

    // Fig. 3: error after deleting each block, the full model's error as a dashed line.
    let points = |lesions: &[SingleLesion], downsampling: bool| -> Vec<(f64, f64)> {
        lesions
            .iter()
            .filter(|s| !downsampling || s.block.is_downsampling())
            .filter_map(|s| s.error.map(|e| (s.block.index as f64, 100.0 * e)))
            .collect()
    };
    let mut series = vec![
        Series::new(
            format!("{}: block deleted", names.arch),
            points(single, false),
            BLUE_,
            Style::LineAndPoints,
        ),
        Series::new(
            "downsampling block deleted",
            points(single, true),
            RED_,
            Style::Points,
        ),
    ];
    let mut reference_lines = vec![(
        100.0 * full_error,
        format!("{} full model", names.arch),
        BLUE_,
    )];
    if let Some(PlainResult {
        arch,
        error: plain_error,
        single: plain_single,
    }) = plain
    {
        series.push(Series::new(
            format!("{arch}: block deleted"),
            points(plain_single, false),
            ORANGE_,
            Style::LineAndPoints,
        ));
        reference_lines.push((100.0 * plain_error, format!("{arch} full model"), ORANGE_));
    }
    plot::write(
        out,
        "fig3_lesion_single",
        &Chart {
            title: "Test error when deleting one block (Veit et al. Fig. 3)".into(),
            x_label: "deleted block".into(),
            y_label: "test error (%)".into(),
            series,
            reference_lines,
        },
    )?;

    let mut rows = Vec::new();
    for r in random {
        for (draw, (blocks, error)) in r.draws.iter().zip(&r.errors).enumerate() {
            let list: Vec<String> = blocks.iter().map(|b| b.to_string()).collect();
            rows.push(vec![
                r.deleted.to_string(),
                draw.to_string(),
                list.join(" "),
                format!("{error:.6}"),
            ]);
        }
    }
    write_csv(
        out,
        "lesion_random.csv",
        &["deleted", "draw", "blocks", "error"],
        &rows,
    )?;
    let mean: Vec<(f64, f64)> = random
        .iter()
        .map(|r| (r.deleted as f64, 100.0 * r.spread.mean))
        .collect();
    let bars: Vec<(f64, f64)> = random
        .iter()
        .map(|r| {
            (
                100.0 * (r.spread.mean - r.spread.standard_deviation),
                100.0 * (r.spread.mean + r.spread.standard_deviation),
            )
        })
        .collect();
    plot::write(
        out,
        "fig5a_lesion_random",
        &Chart {
            title: "Deleting k random blocks (Veit et al. Fig. 5a)".into(),
            x_label: "number of deleted blocks k".into(),
            y_label: "test error (%), mean ± std over draws".into(),
            series: vec![
                Series::new("mean error", mean, BLUE_, Style::LineAndPoints).with_error_bars(bars)
            ],
            reference_lines: vec![(100.0 * full_error, "full model".into(), GREY_)],
        },
    )?;

    let rows: Vec<Vec<String>> = reordered
        .iter()
        .map(|r| {
            let order: Vec<String> = r.order.iter().map(|b| b.to_string()).collect();
            vec![
                r.swaps.to_string(),
                format!("{:.6}", r.kendall_tau),
                format!("{:.6}", r.error),
                order.join(" "),
            ]
        })
        .collect();
    write_csv(
        out,
        "reorder.csv",
        &["swaps", "kendall_tau", "error", "order"],
        &rows,
    )?;
    plot::write(
        out,
        "fig5b_reorder",
        &Chart {
            title: "Swapping k random pairs of blocks (Veit et al. Fig. 5b)".into(),
            x_label: "Kendall's tau between the original and the new order".into(),
            y_label: "test error (%)".into(),
            series: vec![Series::new(
                "reordered network",
                reordered
                    .iter()
                    .map(|r| (r.kendall_tau, 100.0 * r.error))
                    .collect(),
                GREEN_,
                Style::Points,
            )],
            reference_lines: vec![(100.0 * full_error, "full model".into(), GREY_)],
        },
    )?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn summary_text(
    args: &LesionArgs,
    names: &Names,
    images: usize,
    full_error: f64,
    single: &[SingleLesion],
    plain: Option<&PlainResult>,
    random: &[RandomLesion],
    reordered: &[Reordering],
    swappable: usize,
    seconds: f64,
) -> String {
    let pct = |e: f64| format!("{:.2}%", 100.0 * e);
    let mut text = String::new();
    text.push_str(&format!(
        "Lesion study (Veit et al. 2016, §4): {} on {} test images of {}\n",
        names.arch, images, names.dataset
    ));
    text.push_str(&format!("full model: {} error\n", pct(full_error)));
    let (down, rest): (Vec<&SingleLesion>, Vec<&SingleLesion>) =
        single.iter().partition(|s| s.block.is_downsampling());
    let errors =
        |list: &[&SingleLesion]| -> Vec<f64> { list.iter().filter_map(|s| s.error).collect() };
    let rest_errors = errors(&rest);
    if !rest_errors.is_empty() {
        let max = rest_errors.iter().copied().fold(f64::MIN, f64::max);
        let mean = rest_errors.iter().sum::<f64>() / rest_errors.len() as f64;
        text.push_str(&format!(
            "delete one non-downsampling block ({}): mean {}, worst {}\n",
            rest_errors.len(),
            pct(mean),
            pct(max)
        ));
    }
    for s in &down {
        text.push_str(&format!(
            "delete downsampling block {}: {}\n",
            s.block.index,
            s.error.map(pct).unwrap_or_else(|| "not deletable".into())
        ));
    }
    if let Some(PlainResult {
        arch,
        error: plain_error,
        single: plain_single,
    }) = plain
    {
        let deletable: Vec<f64> = plain_single.iter().filter_map(|s| s.error).collect();
        let mean = deletable.iter().sum::<f64>() / deletable.len().max(1) as f64;
        text.push_str(&format!(
            "{}: full {}, delete one block ({} deletable of {}): mean {}\n",
            arch,
            pct(*plain_error),
            deletable.len(),
            plain_single.len(),
            pct(mean)
        ));
    }
    text.push_str("delete k random blocks (mean ± std):");
    for r in random {
        if r.deleted == 1 || r.deleted % 5 == 0 || r.deleted == random.len() {
            text.push_str(&format!(
                " k={}: {}±{:.2}",
                r.deleted,
                pct(r.spread.mean),
                100.0 * r.spread.standard_deviation
            ));
        }
    }
    text.push('\n');
    if let (Some(first), Some(last)) = (reordered.first(), reordered.last()) {
        let min_tau = reordered
            .iter()
            .map(|r| r.kendall_tau)
            .fold(f64::MAX, f64::min);
        text.push_str(&format!(
            "reorder ({swappable} swappable pairs): 1 swap τ={:.3} {}; {} swaps τ={:.3} {}; lowest τ {:.3}\n",
            first.kendall_tau,
            pct(first.error),
            last.swaps,
            last.kendall_tau,
            pct(last.error),
            min_tau
        ));
    }
    text.push_str(&format!(
        "wrote {}/{{lesion_single,lesion_random,reorder}}.csv and fig3/fig5a/fig5b PNG+SVG plots ({seconds:.0} s)\n",
        args.out.display()
    ));
    text
}
