//! SVG line and scatter charts with error bars (plotters), in the layout of the figures of
//! Veit et al. 2016: one panel, axis titles, a legend, optional reference lines.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::cli::bench::CliResult;
use crate::cli::experiment::setup::write_text;

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
    pub reference_lines: Vec<(f64, String)>,
}

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE_: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub const RED_: RGBColor = RGBColor(214, 39, 40);
pub const GREY_: RGBColor = RGBColor(120, 120, 120);

fn padded(low: f64, high: f64) -> (f64, f64) {
    if !low.is_finite() || !high.is_finite() {
        return (0.0, 1.0);
    }
    let span = (high - low).abs().max(1e-9);
    (low - 0.05 * span, high + 0.05 * span)
}

/// Renders `chart` to SVG text.
pub fn render(chart: &Chart) -> CliResult<String> {
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
    ys.extend(chart.reference_lines.iter().map(|(y, _)| *y));
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

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut context = ChartBuilder::on(&root)
            .caption(&chart.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_low..x_high, y_low..y_high)
            .map_err(|e| e.to_string())?;
        context
            .configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| e.to_string())?;
        for (y, name) in &chart.reference_lines {
            let style = ShapeStyle::from(&GREY_).stroke_width(1);
            context
                .draw_series(DashedLineSeries::new(
                    vec![(x_low, *y), (x_high, *y)],
                    6,
                    4,
                    style,
                ))
                .map_err(|e| e.to_string())?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREY_));
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
                        color.stroke_width(2),
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
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// Renders `chart` and writes it to `dir/name` atomically.
pub fn write(dir: &Path, name: &str, chart: &Chart) -> CliResult<PathBuf> {
    write_text(dir, name, &render(chart)?)
}
