//! Line and scatter charts with error bars (plotters), in the layout of the figures of
//! Veit et al. 2016 (one panel, axis titles, a legend, optional reference lines) and in the
//! style of the train crate's plots: each chart written as `STEM.png` (960×640) and
//! `STEM.svg`, text in the DejaVu Sans font compiled into the program (no system font needed),
//! both files written atomically.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::cli::bench::CliResult;
use crate::cli::experiment::setup::output_path;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    Points,
    LineAndPoints,
}

/// One series: points, and optionally a (low, high) error bar per point.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub error_bars: Option<Vec<(f64, f64)>>,
    pub color: RGBColor,
    pub style: Style,
}

impl Series {
    pub fn new(
        name: impl Into<String>,
        points: Vec<(f64, f64)>,
        color: RGBColor,
        style: Style,
    ) -> Self {
        Series {
            name: name.into(),
            points,
            error_bars: None,
            color,
            style,
        }
    }

    pub fn with_error_bars(mut self, bars: Vec<(f64, f64)>) -> Self {
        self.error_bars = Some(bars);
        self
    }
}

/// A chart: title, axis titles, series and horizontal reference lines.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Dashed horizontal lines: height, legend, colour.
    pub reference_lines: Vec<(f64, String, RGBColor)>,
}

// The train crate's palette.
pub const BLUE_: RGBColor = RGBColor(0, 114, 178);
pub const ORANGE_: RGBColor = RGBColor(230, 159, 0);
pub const GREEN_: RGBColor = RGBColor(0, 158, 115);
pub const RED_: RGBColor = RGBColor(204, 37, 41);
pub const GREY_: RGBColor = RGBColor(120, 120, 120);

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Registering a valid embedded font cannot fail; if it did, text would be missing.
        let _ = register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular());
    });
}

fn padded(low: f64, high: f64) -> (f64, f64) {
    if !low.is_finite() || !high.is_finite() {
        return (0.0, 1.0);
    }
    let span = (high - low).abs().max(1e-9);
    (low - 0.05 * span, high + 0.05 * span)
}

/// Draws `chart` on `root`.
fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, chart: &Chart) -> Result<(), String> {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for series in &chart.series {
        for &(x, y) in &series.points {
            xs.push(x);
            ys.push(y);
        }
        for &(low, high) in series.error_bars.iter().flatten() {
            ys.push(low);
            ys.push(high);
        }
    }
    ys.extend(chart.reference_lines.iter().map(|(y, _, _)| *y));
    let fold = |values: &[f64]| {
        values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            })
    };
    let (x_low, x_high) = fold(&xs);
    let (y_low, y_high) = fold(&ys);
    let (x_low, x_high) = padded(x_low, x_high);
    let (y_low, y_high) = padded(y_low, y_high);

    {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut context = ChartBuilder::on(&root)
            .caption(&chart.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)
            .map_err(|e| e.to_string())?;
        context
            .configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .label_style(("sans-serif", 14))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        for (y, name, colour) in &chart.reference_lines {
            let colour = *colour;
            let style = ShapeStyle::from(&colour).stroke_width(1);
            context
                .draw_series(DashedLineSeries::new(
                    vec![(x_low, *y), (x_high, *y)],
                    6,
                    4,
                    style,
                ))
                .map_err(|e| e.to_string())?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour));
        }
        for series in &chart.series {
            let color = series.color;
            if let Some(bars) = &series.error_bars {
                context
                    .draw_series(
                        series
                            .points
                            .iter()
                            .zip(bars)
                            .map(|(&(x, y), &(low, high))| {
                                ErrorBar::new_vertical(x, low, y, high, color.stroke_width(1), 6)
                            }),
                    )
                    .map_err(|e| e.to_string())?;
            }
            if series.style != Style::Points {
                context
                    .draw_series(LineSeries::new(
                        series.points.clone(),
                        color.stroke_width(3),
                    ))
                    .map_err(|e| e.to_string())?
                    .label(series.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            }
            if series.style != Style::Line {
                let drawn = context
                    .draw_series(
                        series
                            .points
                            .iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                    )
                    .map_err(|e| e.to_string())?;
                if series.style == Style::Points {
                    drawn
                        .label(series.name.clone())
                        .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.filled()));
                }
            }
        }
        context
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Draws `chart` to `dir/STEM.png` and `dir/STEM.svg` (temporary files renamed into place);
/// returns both paths.
pub fn write(dir: &Path, stem: &str, chart: &Chart) -> CliResult<Vec<PathBuf>> {
    register_fonts();
    let png = output_path(dir, &format!("{stem}.png"))?;
    let svg = output_path(dir, &format!("{stem}.svg"))?;
    // The image encoder picks the format from the extension: keep it last.
    let temporary = |path: &Path, extension: &str| {
        path.with_extension(format!("tmp-{}.{extension}", std::process::id()))
    };
    let (png_tmp, svg_tmp) = (temporary(&png, "png"), temporary(&svg, "svg"));
    let result = draw(
        BitMapBackend::new(&png_tmp, (960, 640)).into_drawing_area(),
        chart,
    )
    .and_then(|()| {
        draw(
            SVGBackend::new(&svg_tmp, (960, 640)).into_drawing_area(),
            chart,
        )
    })
    .and_then(|()| std::fs::rename(&png_tmp, &png).map_err(|e| e.to_string()))
    .and_then(|()| std::fs::rename(&svg_tmp, &svg).map_err(|e| e.to_string()));
    if let Err(error) = result {
        std::fs::remove_file(&png_tmp).ok();
        std::fs::remove_file(&svg_tmp).ok();
        return Err(format!("{}: drawing the plot: {error}", png.display()).into());
    }
    Ok(vec![png, svg])
}
