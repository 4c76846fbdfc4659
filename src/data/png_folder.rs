//! Reader for a folder of PNG images of one size (`png:DIR`).
//!
//! Every `*.png` file directly in the folder is one image; grey images give 1 channel, colour
//! images 3 (RGB, alpha dropped), and a folder that mixes both gives 3 channels throughout.
//! A file name that starts with `<digits>_` (e.g. `3_cat.png`) carries the label; others get 0.

use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat};

use super::{DataError, ImageData, ImageSet, shuffled_indices};

/// Seed of the fixed shuffle that cuts the images into train / validation / test.
const SPLIT_SEED: u64 = 0x504E47;
/// The smallest number of images that gives every part at least one.
const MIN_IMAGES: usize = 3;

/// A [`DataError::BadPng`] for `path`.
fn bad_png(path: &Path, problem: String) -> DataError {
    let path = path.to_path_buf();
    DataError::BadPng { path, problem }
}

/// A [`DataError::Io`] for `path`.
fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `*.png` files directly in `dir` (extension compared without regard to case), sorted
/// by file name.
fn png_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let path = entry.map_err(io_error(dir))?.path();
        let is_png = path
            .extension()
            .is_some_and(|ext| ext.eq_ignore_ascii_case("png"));
        if is_png && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(files)
}

/// The label in the file name of `path`: the number before the first `_` when the name
/// starts with digits followed by `_`, else 0. A number above 255 is an error.
fn label_of(path: &Path) -> Result<u8, DataError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || name.as_bytes().get(digits) != Some(&b'_') {
        return Ok(0);
    }
    let number = &name[..digits];
    number.parse().map_err(|_| {
        let problem = format!("label {number} in the file name is above 255");
        bad_png(path, problem)
    })
}

/// One decoded image: its 8-bit values (interleaved RGB when `colour`, else grey), width and
/// height.
struct Decoded {
    values: Vec<u8>,
    colour: bool,
    width: u32,
    height: u32,
}

/// Reads and decodes one PNG file; 16-bit values are scaled down to 8 bits, alpha is dropped.
fn decode(path: &Path) -> Result<Decoded, DataError> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let image: DynamicImage = image::load_from_memory_with_format(&bytes, ImageFormat::Png)
        .map_err(|e| bad_png(path, format!("not a valid PNG image ({e})")))?;
    let colour = image.color().has_color();
    let values = if colour {
        image.to_rgb8().into_raw()
    } else {
        image.to_luma8().into_raw()
    };
    let (width, height) = (image.width(), image.height());
    Ok(Decoded {
        values,
        colour,
        width,
        height,
    })
}

/// Appends `image` to `pixels` as `channels` planes ([channels][height][width]): colour values
/// are de-interleaved, grey values repeated in every plane.
fn push_planar(pixels: &mut Vec<u8>, image: &Decoded, channels: usize) {
    if image.colour {
        for c in 0..channels {
            pixels.extend(image.values.iter().skip(c).step_by(channels));
        }
    } else {
        for _ in 0..channels {
            pixels.extend_from_slice(&image.values);
        }
    }
}

/// Loads a folder of PNG images of one size (256 levels).
///
/// Reads every `*.png` file directly in `dir`, sorted by file name. Grey images give 1
/// channel; if any image has colour, all give 3 (RGB, grey ones repeated in each channel).
/// Alpha is dropped and 16-bit values are scaled down to 8 bits. A file name that starts
/// with `<digits>_` (e.g. `3_cat.png`) gives the label, any other name label 0;
/// `num_classes` is the largest label plus one. A fixed shuffle (seed 0x504E47) cuts the
/// images into train, validation (10%, at least 1) and test (10%, at least 1) parts.
///
/// Errors: a missing folder, no PNG files, fewer than 3 images, a file that is not a valid
/// PNG, a label above 255, images of different sizes.
pub fn load_png_dir(dir: &Path, name: &str) -> Result<ImageData, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: "expected a folder of PNG images (*.png) of one size".into(),
        });
    }
    let files = png_files(dir)?;
    if files.is_empty() {
        return Err(bad_png(dir, "no PNG files (*.png)".into()));
    }
    let n = files.len();
    if n < MIN_IMAGES {
        let problem = format!(
            "too few images ({n}, need at least {MIN_IMAGES} for train, validation and test parts)"
        );
        return Err(bad_png(dir, problem));
    }
    let mut images: Vec<Decoded> = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for path in &files {
        let image = decode(path)?;
        let size = (image.width, image.height);
        if let Some(first) = images.first()
            && (first.width, first.height) != size
        {
            return Err(DataError::MixedSizes {
                first: files[0].clone(),
                first_width: first.width,
                first_height: first.height,
                path: path.clone(),
                width: image.width,
                height: image.height,
            });
        }
        labels.push(label_of(path)?);
        images.push(image);
    }
    let channels = if images.iter().any(|image| image.colour) {
        3
    } else {
        1
    };
    let (width, height) = (images[0].width as usize, images[0].height as usize);
    let mut pixels = Vec::with_capacity(n * channels * width * height);
    for image in &images {
        push_planar(&mut pixels, image, channels);
    }
    drop(images);
    let num_classes = labels.iter().max().map_or(1, |&max| max as usize + 1);
    let all = ImageSet::new(pixels, labels, height, width, channels);
    let order = shuffled_indices(n, SPLIT_SEED);
    let num_held_out = (n / 10).max(1);
    let (train, rest) = order.split_at(n - 2 * num_held_out);
    let (valid, test) = rest.split_at(num_held_out);
    Ok(ImageData {
        name: name.to_string(),
        levels: 256,
        num_classes,
        train: all.subset(train),
        valid: all.subset(valid),
        test: all.subset(test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, RgbImage};

    #[test]
    fn grey_and_colour_images_give_three_channels() {
        let dir = tempfile::tempdir().unwrap();
        let grey = GrayImage::from_raw(2, 1, vec![10, 20]).unwrap();
        grey.save(dir.path().join("a.png")).unwrap();
        grey.save(dir.path().join("b.png")).unwrap();
        let colour = RgbImage::from_raw(2, 1, vec![1, 2, 3, 4, 5, 6]).unwrap();
        colour.save(dir.path().join("c.png")).unwrap();
        let data = load_png_dir(dir.path(), "png:test").unwrap();
        let sets = [&data.train, &data.valid, &data.test];
        assert!(sets.iter().all(|s| s.channels == 3));
        let mut images: Vec<&[u8]> = sets
            .iter()
            .flat_map(|s| (0..s.len()).map(|i| s.image(i)))
            .collect();
        images.sort();
        // Planes [R][G][B]: the colour image de-interleaved, the grey ones repeated.
        assert_eq!(images[0], &[1, 4, 2, 5, 3, 6]);
        assert_eq!(images[1], &[10, 20, 10, 20, 10, 20]);
        assert_eq!(images[2], &[10, 20, 10, 20, 10, 20]);
    }

    #[test]
    fn labels_from_file_names() {
        let label = |name: &str| label_of(Path::new(name)).map_err(|e| e.to_string());
        assert_eq!(label("3_cat.png"), Ok(3));
        assert_eq!(label("dir/12_x.png"), Ok(12));
        assert_eq!(label("cat.png"), Ok(0));
        assert_eq!(label("3cat.png"), Ok(0));
        assert_eq!(label("_3.png"), Ok(0));
        assert!(label("256_x.png").unwrap_err().contains("label 256"));
        assert!(label("99999999999999999999999_x.png").is_err());
    }
}
