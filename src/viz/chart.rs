//! Line charts of series and forecasts, drawn with plotters into a PNG: lines (history,
//! actual values, forecasts) and shaded bands (prediction intervals). Text uses the DejaVu
//! Sans font embedded in the binary (data/DejaVuSans.ttf), so no system font is needed.

use std::path::Path;
use std::sync::Once;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// The embedded font (DejaVu Sans; licence in data/DejaVuSans-LICENSE.txt).
const FONT: &[u8] = include_bytes!("../../data/DejaVuSans.ttf");
static REGISTER_FONT: Once = Once::new();

fn register_font() {
    REGISTER_FONT.call_once(|| {
        // The bytes are the font file shipped with the crate, so this cannot fail.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// Colour as (r, g, b).
    pub colour: (u8, u8, u8),
    /// Points (x, y) in order of x.
    pub points: Vec<(f64, f64)>,
    /// Stroke width in pixels.
    pub width: u32,
}

/// A shaded band between two curves, such as a prediction interval.
#[derive(Debug, Clone)]
pub struct Band {
    /// Legend text.
    pub label: String,
    /// Colour as (r, g, b); drawn translucent.
    pub colour: (u8, u8, u8),
    /// Points (x, low, high) in order of x.
    pub points: Vec<(f64, f64, f64)>,
}

/// A chart: bands below lines, a legend, and axis labels.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Caption of the x axis.
    pub x_label: String,
    /// Caption of the y axis.
    pub y_label: String,
    /// Lines, drawn in order.
    pub lines: Vec<Line>,
    /// Bands, drawn before the lines.
    pub bands: Vec<Band>,
    /// Tick labels for integer x positions (a date per time index); positions beyond the
    /// list, or all of them if it is empty, show the number itself.
    pub x_ticks: Vec<String>,
}

impl Chart {
    /// The smallest box holding every point and band.
    fn bounds(&self) -> Option<(f64, f64, f64, f64)> {
        let xs = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| (p.0, p.1, p.1)))
            .chain(self.bands.iter().flat_map(|b| b.points.iter().copied()));
        let mut b: Option<(f64, f64, f64, f64)> = None;
        for (x, lo, hi) in xs.filter(|p| p.0.is_finite() && p.1.is_finite() && p.2.is_finite()) {
            b = Some(match b {
                None => (x, x, lo, hi),
                Some((x0, x1, y0, y1)) => (x0.min(x), x1.max(x), y0.min(lo), y1.max(hi)),
            });
        }
        b
    }

    /// Draws the chart into a `width` x `height` PNG at `path`.
    pub fn save_png(&self, path: &Path, width: u32, height: u32) -> Result<()> {
        register_font();
        let (x0, x1, y0, y1) = self
            .bounds()
            .ok_or_else(|| anyhow!("nothing to draw in chart '{}'", self.title))?;
        let (x1, y1) = (
            if x1 > x0 { x1 } else { x0 + 1.0 },
            if y1 > y0 { y1 } else { y0 + 1.0 },
        );
        // Room above the data for the legend in the upper left corner.
        let (pad_low, pad_high) = (0.05 * (y1 - y0), 0.40 * (y1 - y0));
        let mut buffer = vec![255u8; (width * height * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
            let draw_err = |e: &dyn std::fmt::Display| anyhow!("cannot draw chart: {e}");
            root.fill(&WHITE).map_err(|e| draw_err(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(&self.title, ("sans-serif", 22))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, (y0 - pad_low)..(y1 + pad_high))
                .map_err(|e| draw_err(&e))?;
            let ticks = &self.x_ticks;
            let x_fmt = |x: &f64| {
                let i = x.round();
                if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < ticks.len() {
                    ticks[i as usize].clone()
                } else if x.fract() == 0.0 {
                    format!("{x:.0}")
                } else {
                    format!("{x:.1}")
                }
            };
            chart
                .configure_mesh()
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .x_label_formatter(&x_fmt)
                .x_labels(8)
                .y_labels(8)
                .label_style(("sans-serif", 14))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(|e| draw_err(&e))?;
            for band in &self.bands {
                let (r, g, b) = band.colour;
                let colour = RGBColor(r, g, b);
                let mut polygon: Vec<(f64, f64)> = band.points.iter().map(|p| (p.0, p.2)).collect();
                polygon.extend(band.points.iter().rev().map(|p| (p.0, p.1)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        polygon,
                        colour.mix(0.25).filled(),
                    )))
                    .map_err(|e| draw_err(&e))?
                    .label(band.label.as_str())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 18, y + 5)], colour.mix(0.25).filled())
                    });
            }
            for line in &self.lines {
                let (r, g, b) = line.colour;
                let style = RGBColor(r, g, b).stroke_width(line.width);
                chart
                    .draw_series(LineSeries::new(line.points.iter().copied(), style))
                    .map_err(|e| draw_err(&e))?
                    .label(line.label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(|e| draw_err(&e))?;
            root.present().map_err(|e| draw_err(&e))?;
        }
        let image = image::RgbImage::from_raw(width, height, buffer)
            .ok_or_else(|| anyhow!("chart buffer has the wrong size"))?;
        crate::files::save_png(&image, path)
    }
}
