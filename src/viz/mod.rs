//! Pictures: PNG grids of images; charts of series and forecasts ([`chart`]).

pub mod chart;

use std::path::Path;

use anyhow::{Context, Result};
use image::{GrayImage, Luma};

/// Draws `images` (levels 0..L, each `height` x `width`, flattened) as a grid with
/// `columns` images per row, each pixel enlarged to `scale` x `scale`, grey level l shown
/// as round(255 l / (L-1)), with a 1-pixel mid-grey border between images.
pub fn image_grid(
    images: &[u8],
    height: usize,
    width: usize,
    levels: usize,
    columns: usize,
    scale: usize,
) -> GrayImage {
    let size = height * width;
    let count = images.len() / size.max(1);
    let columns = columns.clamp(1, count.max(1));
    let rows = count.div_ceil(columns).max(1);
    let cell_w = width * scale + 1;
    let cell_h = height * scale + 1;
    let mut grid = GrayImage::from_pixel(
        (columns * cell_w + 1) as u32,
        (rows * cell_h + 1) as u32,
        Luma([128]),
    );
    let max = (levels.max(2) - 1) as f64;
    for (k, img) in images.chunks(size).enumerate().take(count) {
        let (gx, gy) = ((k % columns) * cell_w + 1, (k / columns) * cell_h + 1);
        for (p, &level) in img.iter().enumerate() {
            let value = (f64::from(level) * 255.0 / max).round().clamp(0.0, 255.0) as u8;
            let (r, c) = (p / width, p % width);
            for dy in 0..scale {
                for dx in 0..scale {
                    grid.put_pixel(
                        (gx + c * scale + dx) as u32,
                        (gy + r * scale + dy) as u32,
                        Luma([value]),
                    );
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

/// Saves a grid made by [`image_grid`] as PNG.
pub fn save_png(image: &GrayImage, path: &Path) -> Result<()> {
    image
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}
