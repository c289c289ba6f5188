//! Plots in the style of He et al. 2015: Figures 1 and 6 (training error as thin dashed lines,
//! test error as bold lines, against epochs, several networks overlaid) and Figure 7 (the
//! standard deviation of each 3×3 layer's response, layer by layer).
//!
//! Each plot is written twice, `STEM.png` (bitmap) and `STEM.svg`. Text is drawn with the
//! DejaVu Sans font compiled into the program, so no system font or fontconfig is needed.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{Result, TrainError};
use crate::metrics::EpochRecord;

/// One line of a plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Dashed and thin (training error in Figures 1 and 6) or solid and bold.
    pub dashed: bool,
    /// Index into the palette; lines of the same network share a colour.
    pub colour: usize,
}

/// Axis titles and the plot title.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    pub title: String,
    pub x: String,
    pub y: String,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(230, 159, 0),
    RGBColor(0, 114, 178),
    RGBColor(204, 37, 41),
    RGBColor(0, 158, 115),
    RGBColor(148, 103, 189),
    RGBColor(86, 180, 233),
    RGBColor(140, 86, 75),
    RGBColor(0, 0, 0),
];

/// Registers the embedded DejaVu Sans as plotters' `sans-serif` (and every family name, for
/// callers that ask for another). With plotters' `ab_glyph` text backend, which this crate
/// enables for the whole program, text needs a registered font: a program that draws with
/// plotters anywhere calls this once first (the `unravel` binary does, in `main`).
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Registering a valid embedded font cannot fail; if it did, text would be missing.
        for family in ["sans-serif", "serif", "monospace"] {
            for style in [
                FontStyle::Normal,
                FontStyle::Bold,
                FontStyle::Italic,
                FontStyle::Oblique,
            ] {
                let _ = register_font(family, style, dejavu::sans::regular());
            }
        }
    });
}

fn plot_error(path: &Path, error: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("drawing the plot: {error}"),
    }
}

/// The curves of Figures 1 and 6: for each run, training error (dashed) and test error (bold),
/// in percent, against the epoch.
pub fn error_curves(runs: &[(String, Vec<EpochRecord>)]) -> Vec<Series> {
    let mut series = Vec::new();
    for (colour, (name, records)) in runs.iter().enumerate() {
        let points = |f: fn(&EpochRecord) -> f64| {
            records
                .iter()
                .map(|r| (r.epoch as f64, 100.0 * f(r)))
                .collect()
        };
        series.push(Series {
            label: format!("{name} train"),
            points: points(|r| r.train_error),
            dashed: true,
            colour,
        });
        series.push(Series {
            label: format!("{name} test"),
            points: points(|r| r.test_error),
            dashed: false,
            colour,
        });
    }
    series
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
    labels: &Labels,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x_min, x_max) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (_, y_max) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
        (a.min(y), b.max(y))
    });
    if !x_min.is_finite() || !y_max.is_finite() {
        return Err("nothing to plot".into());
    }
    let x_max = if x_max > x_min { x_max } else { x_min + 1.0 };
    let y_max = if y_max > 0.0 { y_max * 1.05 } else { 1.0 };
    let mut chart = ChartBuilder::on(&root)
        .caption(&labels.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x_min..x_max, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(&labels.x)
        .y_desc(&labels.y)
        .label_style(("sans-serif", 14))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(|e| e.to_string())?;
    for s in series {
        let colour = PALETTE[s.colour % PALETTE.len()];
        let style = ShapeStyle::from(&colour).stroke_width(if s.dashed { 1 } else { 3 });
        let drawn = if s.dashed {
            chart.draw_series(DashedLineSeries::new(s.points.iter().copied(), 6, 4, style))
        } else {
            chart.draw_series(LineSeries::new(s.points.iter().copied(), style))
        }
        .map_err(|e| e.to_string())?;
        drawn
            .label(&s.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerLeft)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Draws `series` to `STEM.png` (960×640) and `STEM.svg`; returns both paths.
pub fn save(stem: &Path, series: &[Series], labels: &Labels) -> Result<Vec<PathBuf>> {
    register_fonts();
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| TrainError::io(parent, e))?;
    }
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    // Drawn to temporary files next to the targets, then renamed: never a half-written plot.
    let temporary = |path: &Path, extension: &str| {
        path.with_extension(format!("tmp-{}.{extension}", std::process::id()))
    };
    let (png_tmp, svg_tmp) = (temporary(&png, "png"), temporary(&svg, "svg"));
    let result = draw(
        BitMapBackend::new(&png_tmp, (960, 640)).into_drawing_area(),
        series,
        labels,
    )
    .map_err(|e| plot_error(&png, e))
    .and_then(|()| {
        draw(
            SVGBackend::new(&svg_tmp, (960, 640)).into_drawing_area(),
            series,
            labels,
        )
        .map_err(|e| plot_error(&svg, e))
    })
    .and_then(|()| std::fs::rename(&png_tmp, &png).map_err(|e| TrainError::io(&png, e)))
    .and_then(|()| std::fs::rename(&svg_tmp, &svg).map_err(|e| TrainError::io(&svg, e)));
    if result.is_err() {
        std::fs::remove_file(&png_tmp).ok();
        std::fs::remove_file(&svg_tmp).ok();
    }
    result.map(|()| vec![png, svg])
}
