//! Colour images made from grey ones by a fixed, seeded rule (`colour:SOURCE`).
//!
//! A colour data set this machine can make without downloading anything, in the spirit of
//! the coloured-MNIST exercises of courses on these models: `colour:fashion-mnist` gives
//! 70,000 colour images of 32x32. The rule, for the image at position `i` of the grey
//! source's order (train file, then test file):
//!
//! 1. Its generator is `ChaCha8Rng::seed_from_u64(COLOUR_SEED + i)`, so an image's colours
//!    do not depend on the split or on the other images.
//! 2. A hue h is drawn uniformly from [0, 1). The foreground colour is HSL(h, s, l) with
//!    s ~ U[0.6, 1] and l ~ U[0.45, 0.75]; the background is HSL(h + 1/2 + u, s', l') with
//!    u ~ U[−1/6, 1/6], s' ~ U[0.3, 0.8] and l' ~ U[0.05, 0.35]: a darker colour from the
//!    other side of the colour wheel. Both are rounded to 8-bit RGB.
//! 3. A grey value g of L levels becomes, in each channel c, the level
//!    round(b_c + g/(L−1) · (f_c − b_c)), where f_c and b_c are the two colours scaled to
//!    0..L−1: black is the background, white the foreground, grey between.
//! 4. The image is centred on a canvas whose height and width are the next powers of two
//!    (28 → 32, 8 → 8), filled with the background colour: every number of resolutions of
//!    the PixelCNN++ fits, and the images have CIFAR-10's shape.
//!
//! Labels and conditioning vectors stay with their images.

use plotters::style::{Color, HSLColor};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{DataError, ImageData, ImageSet};

/// Seed of the colour rule; the image at source position `i` uses `COLOUR_SEED + i`.
pub const COLOUR_SEED: u64 = 0xC0105;

/// The foreground and background colours of the image at source position `index`, as 8-bit
/// RGB (step 2 of the module's rule).
pub fn image_colours(index: usize) -> ([u8; 3], [u8; 3]) {
    let mut rng = ChaCha8Rng::seed_from_u64(COLOUR_SEED.wrapping_add(index as u64));
    let hue: f64 = rng.random();
    let (s, l) = (rng.random_range(0.6..=1.0), rng.random_range(0.45..=0.75));
    let foreground = HSLColor(hue, s, l);
    let offset: f64 = rng.random_range(-1.0 / 6.0..=1.0 / 6.0);
    let background_hue = (hue + 0.5 + offset).rem_euclid(1.0);
    let (s, l) = (rng.random_range(0.3..=0.8), rng.random_range(0.05..=0.35));
    let background = HSLColor(background_hue, s, l);
    let rgb = |c: HSLColor| {
        let (r, g, b) = c.to_backend_color().rgb;
        [r, g, b]
    };
    (rgb(foreground), rgb(background))
}

/// The canvas side for an image side: the next power of two (step 4 of the rule).
pub fn canvas_side(side: usize) -> usize {
    side.next_power_of_two()
}

/// The colour version of a grey set of `levels` levels, by the module's rule. Errors when
/// the set is not grey.
pub fn colour_set(set: &ImageSet, levels: usize) -> Result<ImageSet, DataError> {
    if set.channels != 1 {
        return Err(DataError::BadArrays(format!(
            "colour: makes colour images from grey ones, but these images have {} channels",
            set.channels
        )));
    }
    let (height, width) = (canvas_side(set.height), canvas_side(set.width));
    let (top, left) = ((height - set.height) / 2, (width - set.width) / 2);
    let top_level = (levels - 1) as f64;
    let plane = height * width;
    let mut pixels = Vec::with_capacity(set.len() * 3 * plane);
    for i in 0..set.len() {
        let (foreground, background) = image_colours(set.index[i]);
        let scale = |v: u8| f64::from(v) * top_level / 255.0;
        let grey = set.image(i);
        for c in 0..3 {
            let (f, b) = (scale(foreground[c]), scale(background[c]));
            let background_level = b.round() as u8;
            let start = pixels.len();
            pixels.resize(start + plane, background_level);
            for y in 0..set.height {
                let row = &grey[y * set.width..(y + 1) * set.width];
                let out = start + (top + y) * width + left;
                for (x, &g) in row.iter().enumerate() {
                    let t = f64::from(g) / top_level;
                    pixels[out + x] = (b + t * (f - b)).round() as u8;
                }
            }
        }
    }
    Ok(ImageSet {
        pixels,
        labels: set.labels.clone(),
        height,
        width,
        channels: 3,
        index: set.index.clone(),
        vectors: set.vectors.clone(),
    })
}

/// The colour version of a grey data set (all three parts), named `name`.
pub fn colour_data(data: &ImageData, name: String) -> Result<ImageData, DataError> {
    let colour = |set: &ImageSet| colour_set(set, data.levels);
    ImageData::from_sets(
        name,
        data.levels,
        colour(&data.train)?,
        colour(&data.valid)?,
        colour(&data.test)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey set of `n` images of `h`x`w` with values `v(i, y, x)`.
    fn grey(n: usize, h: usize, w: usize, v: impl Fn(usize, usize, usize) -> u8) -> ImageSet {
        let mut pixels = Vec::new();
        for i in 0..n {
            for y in 0..h {
                for x in 0..w {
                    pixels.push(v(i, y, x));
                }
            }
        }
        ImageSet::new(pixels, vec![3; n], h, w, 1)
    }

    #[test]
    fn black_is_the_background_and_white_the_foreground() {
        let set = grey(
            4,
            28,
            28,
            |i, y, _| if i % 2 == 0 || y < 14 { 255 } else { 0 },
        );
        let out = colour_set(&set, 256).unwrap();
        assert_eq!((out.channels, out.height, out.width), (3, 32, 32));
        for i in 0..4 {
            let (f, b) = image_colours(i);
            let image = out.image(i);
            for c in 0..3 {
                let at = |y: usize, x: usize| image[c * 1024 + y * 32 + x];
                assert_eq!(at(0, 0), b[c], "border of image {i}");
                assert_eq!(at(2, 2), f[c], "white pixel of image {i}");
                if i % 2 == 1 {
                    assert_eq!(at(29, 29), b[c], "black pixel of image {i}");
                }
            }
        }
        assert_eq!(out.labels, set.labels);
    }

    #[test]
    fn grey_values_fall_between_the_two_colours_in_order() {
        let set = grey(1, 1, 16, |_, _, x| x as u8);
        let out = colour_set(&set, 17).unwrap();
        let (f, b) = image_colours(0);
        for c in 0..3 {
            let row = &out.image(0)[c * 16..c * 16 + 16];
            let (lo, hi) = (b[c].min(f[c]), b[c].max(f[c]));
            for &v in row {
                assert!(v <= 16);
                let scaled = |u: u8| f64::from(u) * 16.0 / 255.0;
                assert!(f64::from(v) >= scaled(lo).floor() && f64::from(v) <= scaled(hi).ceil());
            }
            let increasing = f[c] >= b[c];
            let monotone = row.windows(2).all(|p| {
                if increasing {
                    p[0] <= p[1]
                } else {
                    p[0] >= p[1]
                }
            });
            assert!(monotone, "channel {c}: {row:?}");
        }
    }

    #[test]
    fn colours_follow_the_image_not_its_position_in_a_set() {
        let set = grey(5, 8, 8, |i, y, x| ((i + y + x) * 9 % 256) as u8);
        let all = colour_set(&set, 256).unwrap();
        let some = colour_set(&set.subset(&[3, 1]), 256).unwrap();
        assert_eq!(some.image(0), all.image(3));
        assert_eq!(some.image(1), all.image(1));
        assert_ne!(all.image(0), all.image(1));
    }

    #[test]
    fn colours_differ_between_images_and_backgrounds_are_darker() {
        let mut hues = std::collections::HashSet::new();
        for i in 0..200 {
            let (f, b) = image_colours(i);
            // Twice the HSL lightness: the largest channel plus the smallest.
            let lightness = |c: [u8; 3]| {
                let (lo, hi) = (c.iter().min().unwrap(), c.iter().max().unwrap());
                u32::from(*lo) + u32::from(*hi)
            };
            assert!(lightness(b) < lightness(f), "image {i}: {f:?} on {b:?}");
            hues.insert(f);
        }
        assert!(hues.len() > 190);
    }

    #[test]
    fn colour_images_are_refused() {
        let set = ImageSet::new(vec![0; 3 * 4], vec![0], 2, 2, 3);
        let message = colour_set(&set, 256).unwrap_err().to_string();
        assert!(message.contains("3 channels"), "{message}");
    }
}
