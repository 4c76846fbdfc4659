//! Pictures: PNG grids of images, receptive-field maps, piano rolls; charts of series and
//! forecasts ([`chart`]); spectrograms of sound ([`spectrogram`]).

pub mod chart;
pub mod spectrogram;

use std::path::Path;

use anyhow::Result;
use image::{Rgb, RgbImage};

use crate::receptive_field::ReceptiveField;

/// Colour of the borders between images.
const BORDER: Rgb<u8> = Rgb([128, 128, 128]);

/// The shape of the images of a grid.
#[derive(Debug, Clone, Copy)]
pub struct ImageShape {
    /// Colour channels (1 grey, 3 RGB).
    pub colours: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Levels per channel: level l is shown as round(255 l / (L−1)).
    pub levels: usize,
}

impl ImageShape {
    /// Values per image.
    pub fn size(&self) -> usize {
        self.colours * self.height * self.width
    }

    /// The RGB colour of pixel (row, col) of `image` ([colour][row][column] levels).
    fn rgb(&self, image: &[u8], row: usize, col: usize) -> Rgb<u8> {
        let max = (self.levels.max(2) - 1) as f64;
        let value = |c: usize| {
            let level = image[(c * self.height + row) * self.width + col];
            (f64::from(level) * 255.0 / max).round().clamp(0.0, 255.0) as u8
        };
        if self.colours >= 3 {
            Rgb([value(0), value(1), value(2)])
        } else {
            let v = value(0);
            Rgb([v, v, v])
        }
    }
}

/// Draws `images` (one after the other, each [colour][row][column] levels) as a grid with
/// `columns` images per row, each pixel enlarged to `scale` x `scale`, with a 1-pixel
/// mid-grey border between images. Pixels marked in `hidden` (one flag per pixel of each
/// image, row-major) are drawn as a dark red hatch: the part a completion had to fill.
pub fn image_grid(
    images: &[u8],
    shape: ImageShape,
    columns: usize,
    scale: usize,
    hidden: Option<&[bool]>,
) -> RgbImage {
    let count = images.len() / shape.size().max(1);
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns).max(1);
    let (cell_w, cell_h) = (shape.width * scale + 1, shape.height * scale + 1);
    let mut grid = RgbImage::from_pixel(
        (columns * cell_w + 1) as u32,
        (rows * cell_h + 1) as u32,
        BORDER,
    );
    for (k, image) in images.chunks(shape.size()).enumerate().take(count) {
        let (gx, gy) = ((k % columns) * cell_w + 1, (k / columns) * cell_h + 1);
        let hidden = hidden
            .map(|h| &h[k * shape.height * shape.width..(k + 1) * shape.height * shape.width]);
        for row in 0..shape.height {
            for col in 0..shape.width {
                let is_hidden = hidden.is_some_and(|h| h[row * shape.width + col]);
                for dy in 0..scale {
                    for dx in 0..scale {
                        let colour = if is_hidden {
                            if (dx + dy) % 4 == 0 {
                                Rgb([160, 40, 40])
                            } else {
                                Rgb([60, 20, 20])
                            }
                        } else {
                            shape.rgb(image, row, col)
                        };
                        grid.put_pixel(
                            (gx + col * scale + dx) as u32,
                            (gy + row * scale + dy) as u32,
                            colour,
                        );
                    }
                }
            }
        }
    }
    grid
}

/// A scale that makes an image of `side` pixels about 64 pixels wide on screen.
pub fn default_scale(side: usize) -> usize {
    (64 / side.max(1)).clamp(2, 8)
}

/// Draws a receptive-field map, each pixel a `scale` x `scale` square:
/// the target in red; the pixels it depends on in blue, darker for more influence
/// (log scale); the nominal field's pixels with no influence (the blind spot) in orange;
/// a dependency at or after the target (a causality violation) in magenta; the rest white,
/// with the nominal field's other pixels in light grey.
pub fn receptive_field_map(field: &ReceptiveField, scale: usize) -> RgbImage {
    let (h, w) = (field.height, field.width);
    let mut map = RgbImage::from_pixel((w * scale + 1) as u32, (h * scale + 1) as u32, BORDER);
    let max = field
        .influence
        .iter()
        .cloned()
        .fold(0.0f32, f32::max)
        .max(f32::MIN_POSITIVE);
    let leaks = field.leaks();
    let (tr, tc, _) = field.target;
    for row in 0..h {
        for col in 0..w {
            let influence = field.influence[row * w + col];
            let colour = if (row, col) == (tr, tc) && !leaks.contains(&(row, col)) {
                Rgb([220, 30, 30])
            } else if leaks.contains(&(row, col)) {
                Rgb([230, 0, 230])
            } else if influence > 0.0 {
                // log10 of the relative influence, from 1 (darkest) down to 1e-6 (lightest).
                let t = ((influence / max).log10().max(-6.0) + 6.0) / 6.0;
                let v = (210.0 - 170.0 * t) as u8;
                Rgb([
                    v / 2,
                    v / 2 + 20,
                    255u8.saturating_sub(((1.0 - t) * 40.0) as u8),
                ])
            } else if field.in_nominal_field(row, col) {
                Rgb([255, 165, 0])
            } else {
                Rgb([250, 250, 250])
            };
            for dy in 0..scale.saturating_sub(1).max(1) {
                for dx in 0..scale.saturating_sub(1).max(1) {
                    map.put_pixel(
                        (col * scale + 1 + dx) as u32,
                        (row * scale + 1 + dy) as u32,
                        colour,
                    );
                }
            }
        }
    }
    map
}

/// Saves an image as PNG, atomically ([`crate::files::save_png`]).
pub fn save_png(image: &RgbImage, path: &Path) -> Result<()> {
    crate::files::save_png(image, path)
}

/// Piano rolls as a picture: one roll per band of rows, time to the right, low notes at the
/// bottom, each step `scale` pixels wide; `values` holds `length` steps of `keys` values
/// (0 or 1) per roll, roll after roll.
pub fn piano_rolls(values: &[f32], length: usize, keys: usize, scale: u32) -> RgbImage {
    let rolls = values.len() / (length * keys).max(1);
    let (w, h) = (
        length as u32 * scale,
        (keys as u32 + 4) * scale * rolls as u32,
    );
    let mut image = RgbImage::from_pixel(w.max(1), h.max(1), image::Rgb([255, 255, 255]));
    for i in 0..rolls {
        for t in 0..length {
            for k in 0..keys {
                if values[(i * length + t) * keys + k] > 0.5 {
                    let y0 = (i as u32 * (keys as u32 + 4) + (keys - 1 - k) as u32) * scale;
                    for dy in 0..scale {
                        for dx in 0..scale {
                            image.put_pixel(
                                t as u32 * scale + dx,
                                y0 + dy,
                                image::Rgb([20, 20, 120]),
                            );
                        }
                    }
                }
            }
        }
    }
    image
}
