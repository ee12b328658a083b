//! The report's charts: bar charts drawn by plotters' SVG backend into a string, embedded in
//! the page as inline SVG (no script, no image file, no font file: the browser lays out the
//! text).
//!
//! Figures come in as `Decimal` and are converted to `f64` here, for drawing only: the tables
//! beside each chart carry the exact figures. Category labels are drawn by this module at the
//! bars' centres (plotters' own tick labels fall on round numbers, not on categories).

use crate::error::{Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

const WIDTH: u32 = 1000;
const FONT: &str = "sans-serif";

/// Bar colours, series by series: a stacked share chart's first series (e.g. covered by
/// packages) is green and its second (pay-as-you-go) grey.
const PALETTE: [RGBColor; 10] = [
    RGBColor(42, 157, 143),
    RGBColor(176, 184, 194),
    RGBColor(36, 89, 168),
    RGBColor(233, 150, 58),
    RGBColor(142, 84, 168),
    RGBColor(214, 69, 80),
    RGBColor(110, 180, 220),
    RGBColor(120, 120, 40),
    RGBColor(240, 200, 60),
    RGBColor(60, 60, 60),
];

fn color(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// One series of bars: a name (for the legend) and a value per category.
pub struct Series {
    pub name: String,
    pub values: Vec<Decimal>,
}

/// Vertical bars, one group per category (e.g. a month), one bar per series in each group
/// (e.g. a product), with a legend when there is more than one series.
pub fn columns(caption: &str, categories: &[String], series: &[Series]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let (lo, hi) = value_range(series.iter().flat_map(|s| &s.values), false);
        let n = categories.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 16))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..n, lo..hi)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(TRANSPARENT)
            .x_labels(0)
            .y_label_formatter(&|v| short_number(*v))
            .draw()
            .map_err(chart_error)?;
        let width = 0.8 / series.len().max(1) as f64;
        for (k, s) in series.iter().enumerate() {
            let color = color(k);
            let bars = s.values.iter().enumerate().map(|(i, v)| {
                let x0 = i as f64 + 0.1 + k as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, f(*v))], color.filled())
            });
            let drawn = chart.draw_series(bars).map_err(chart_error)?;
            if series.len() > 1 {
                drawn.label(s.name.as_str()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
            }
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 12))
                .draw()
                .map_err(chart_error)?;
        }
        let anchor = Pos::new(HPos::Center, VPos::Top);
        for (i, c) in categories.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, lo));
            label(&root, c, (x, y + 6), anchor)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Horizontal bars, one row per label (e.g. an account), top to bottom; with several series
/// the bars of a row are stacked (e.g. covered by packages, then pay-as-you-go, in percent).
/// No legend (it would cover bars): the caption names the series' colours ([`PALETTE`]).
pub fn rows(caption: &str, labels: &[String], series: &[Series], stacked: bool) -> Result<String> {
    let mut svg = String::new();
    {
        let height = 70 + 26 * labels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let values = series.iter().flat_map(|s| &s.values);
        let (lo, hi) = match stacked {
            true => (0.0, 100.0),
            false => value_range(values, true),
        };
        let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        let n = labels.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, (FONT, 16))
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size((longest as u32 * 7 + 16).clamp(60, 360))
            .build_cartesian_2d(lo..hi, 0f64..n)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(TRANSPARENT)
            .y_labels(0)
            .x_label_formatter(&|v| short_number(*v))
            .draw()
            .map_err(chart_error)?;
        let mut base = vec![0.0; labels.len()];
        for (k, s) in series.iter().enumerate() {
            let color = color(k);
            let bars = s.values.iter().enumerate().map(|(i, v)| {
                // Row 0 at the top.
                let y = n - i as f64;
                let x0 = if stacked { base[i] } else { 0.0 };
                Rectangle::new([(x0, y - 0.85), (x0 + f(*v), y - 0.15)], color.filled())
            });
            chart.draw_series(bars).map_err(chart_error)?;
            if stacked {
                base.iter_mut()
                    .zip(&s.values)
                    .for_each(|(b, v)| *b += f(*v));
            }
        }
        let anchor = Pos::new(HPos::Right, VPos::Center);
        for (i, l) in labels.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(lo, n - i as f64 - 0.5));
            label(&root, l, (x - 6, y), anchor)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A category label at pixel `at` of the whole chart.
fn label(
    root: &DrawingArea<SVGBackend, Shift>,
    text: &str,
    at: (i32, i32),
    pos: Pos,
) -> Result<()> {
    let style = TextStyle::from((FONT, 12).into_font()).pos(pos);
    root.draw(&Text::new(text.to_string(), at, style))
        .map_err(chart_error)
}

/// The axis range for `values`: always holding 0, with a margin; `(0, 1)` for no value.
fn value_range<'a>(values: impl Iterator<Item = &'a Decimal>, tight: bool) -> (f64, f64) {
    let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), v| {
        (lo.min(f(*v)), hi.max(f(*v)))
    });
    let pad = if tight { 1.05 } else { 1.1 };
    if lo == 0.0 && hi == 0.0 {
        (0.0, 1.0)
    } else {
        (lo * pad, hi * pad)
    }
}

/// For drawing only.
fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

/// An axis label: `1.2M`, `35k`, `1.4k`, `0.5`.
fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 1e3 {
        // One decimal, so that the ticks 1,200 and 1,400 do not both read `1k`.
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn chart_error<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> Error {
    Error::Internal(format!("drawing a chart: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_chart_is_one_svg_document_with_its_labels() {
        let cats = vec!["2024-04".to_string(), "2024-05".to_string()];
        let series = [
            Series {
                name: "apigw".into(),
                values: vec![dec!(10), dec!(-2.5)],
            },
            Series {
                name: "eip<&>".into(),
                values: vec![dec!(1), dec!(0)],
            },
        ];
        let svg = columns("Totals", &cats, &series).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert_eq!(svg.matches("<svg").count(), 1);
        // plotters writes a text element's content on a line of its own.
        assert!(
            svg.contains("\n2024-05\n") && svg.contains("\napigw\n"),
            "{svg}"
        );
        // Text from the data is escaped by the SVG backend.
        assert!(svg.contains("eip&lt;&amp;&gt;"), "{svg}");
        let svg = rows("Top", &cats, &series, true).unwrap();
        assert!(svg.contains("\n2024-04\n"));
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short_number(1_400_326.0), "1.4M");
        assert_eq!(short_number(35_200.0), "35k");
        assert_eq!(short_number(1_400.0), "1.4k");
        assert_eq!(short_number(-1_200.0), "-1.2k");
        assert_eq!(short_number(0.5), "0.5");
        assert_eq!(short_number(0.0), "0");
    }
}
