//! Reader for IDX files (the MNIST format), plain or gzipped.
//!
//! Images: magic 0x00000803, then n, rows, cols as big-endian u32, then n*rows*cols bytes.
//! Labels: magic 0x00000801, then n as a big-endian u32, then n bytes.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::{DataError, ImageData, ImageSet, gunzip_if_needed};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
/// Number of images held out for validation from the end of the official train file.
const VALID_IMAGES: usize = 5000;
/// The four files of an IDX folder, each also accepted with a `.gz` suffix.
const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// A [`DataError::BadIdx`] for `path`.
fn bad_idx(path: &Path, problem: String) -> DataError {
    let path = path.to_path_buf();
    DataError::BadIdx { path, problem }
}

/// Reads a whole file, gunzipped if it starts with the gzip magic bytes.
fn read_maybe_gzipped(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    gunzip_if_needed(bytes, path)
}

/// Checks the magic number of an IDX file with `N` dimensions and returns the dimensions and
/// the data after the header.
fn parse_header<'a, const N: usize>(
    bytes: &'a [u8],
    path: &Path,
    expected: u32,
    kind: &'static str,
) -> Result<([usize; N], &'a [u8]), DataError> {
    let short = || {
        let (len, needed) = (bytes.len(), 4 * (N + 1));
        bad_idx(
            path,
            format!("truncated header ({len} bytes, an IDX header needs {needed})"),
        )
    };
    let word = |i: usize| -> Result<u32, DataError> {
        let b = bytes.get(4 * i..4 * i + 4).ok_or_else(short)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let found = word(0)?;
    if found != expected {
        let path = path.to_path_buf();
        return Err(DataError::BadMagic {
            path,
            found,
            expected,
            kind,
        });
    }
    let mut dims = [0; N];
    for (i, dim) in dims.iter_mut().enumerate() {
        *dim = word(i + 1)? as usize;
    }
    if dims[0] == 0 {
        return Err(bad_idx(path, "empty set (the header says 0 items)".into()));
    }
    Ok((dims, bytes.get(4 * (N + 1)..).unwrap_or_default()))
}

/// Checks that the data after the header has exactly the `expected` length.
fn check_data_len(data: &[u8], expected: usize, path: &Path) -> Result<(), DataError> {
    let found = data.len();
    let promise = format!("header promises {expected} bytes after the header");
    match found.cmp(&expected) {
        Ordering::Less => Err(bad_idx(
            path,
            format!("truncated data ({promise}, found only {found})"),
        )),
        Ordering::Greater => Err(bad_idx(
            path,
            format!("trailing data ({promise}, found {found})"),
        )),
        Ordering::Equal => Ok(()),
    }
}

/// Reads an IDX image file (plain or gzipped): returns (pixels, n, rows, cols), the pixels
/// laid out [n][rows][cols].
pub fn read_idx_images(path: &Path) -> Result<(Vec<u8>, usize, usize, usize), DataError> {
    let bytes = read_maybe_gzipped(path)?;
    let ([n, rows, cols], data) = parse_header::<3>(&bytes, path, IMAGES_MAGIC, "IDX images")?;
    if rows == 0 || cols == 0 {
        let problem = format!("zero image size ({rows} rows x {cols} columns)");
        return Err(bad_idx(path, problem));
    }
    let expected = n.checked_mul(rows).and_then(|x| x.checked_mul(cols));
    let expected = expected.ok_or_else(|| {
        bad_idx(
            path,
            format!("header dimensions too large ({n} x {rows} x {cols} overflows)"),
        )
    })?;
    check_data_len(data, expected, path)?;
    Ok((data.to_vec(), n, rows, cols))
}

/// Reads an IDX label file (plain or gzipped): one label per item.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_maybe_gzipped(path)?;
    let ([n], data) = parse_header::<1>(&bytes, path, LABELS_MAGIC, "IDX labels")?;
    check_data_len(data, n, path)?;
    Ok(data.to_vec())
}

/// The path of `base` in `dir`, plain if it exists, else with `.gz`.
fn find_file(dir: &Path, base: &str) -> Result<PathBuf, DataError> {
    let gz = format!("{base}.gz");
    [base, gz.as_str()]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingFile {
            path: dir.join(base),
            tried: format!("{base} and {gz}"),
        })
}

/// Reads one pair of image and label files from `dir` into a one-channel set.
fn read_pair(dir: &Path, images: &str, labels: &str) -> Result<(ImageSet, PathBuf), DataError> {
    let (images, labels) = (find_file(dir, images)?, find_file(dir, labels)?);
    let (pixels, n_images, height, width) = read_idx_images(&images)?;
    let label_values = read_idx_labels(&labels)?;
    if label_values.len() != n_images {
        return Err(DataError::CountMismatch {
            images,
            n_images,
            labels,
            n_labels: label_values.len(),
        });
    }
    let set = ImageSet::new(pixels, label_values, height, width, 1);
    Ok((set, images))
}

/// Loads a folder with the four standard IDX files (`train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each plain
/// or with a `.gz` suffix; the plain one is preferred when both exist).
///
/// The test part is the official test (`t10k`) file. The validation part is the last 5,000
/// images of the official train file and the train part the images before them (55,000 for
/// MNIST and Fashion-MNIST). A train file with at most 5,000 images gives its last 10%
/// (at least 1 image) to validation, and it needs at least 2 images.
/// Pixels have 256 levels; `num_classes` is the largest label in any part plus one, so every
/// label is below it.
pub fn load_idx_dir(dir: &Path, name: &str) -> Result<ImageData, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: format!(
                "expected a folder with {TRAIN_IMAGES}, {TRAIN_LABELS}, {TEST_IMAGES} \
                 and {TEST_LABELS} (each optionally .gz)"
            ),
        });
    }
    let (full_train, train_path) = read_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?;
    let (test, test_path) = read_pair(dir, TEST_IMAGES, TEST_LABELS)?;
    if (test.height, test.width) != (full_train.height, full_train.width) {
        return Err(DataError::ShapeMismatch {
            train: train_path,
            train_rows: full_train.height,
            train_cols: full_train.width,
            test: test_path,
            test_rows: test.height,
            test_cols: test.width,
        });
    }
    let n = full_train.len();
    if n < 2 {
        let problem =
            format!("too few images ({n}, need at least 2 to hold out a validation part)");
        return Err(bad_idx(&train_path, problem));
    }
    let num_valid = if n > VALID_IMAGES {
        VALID_IMAGES
    } else {
        (n / 10).max(1)
    };
    let train_indices: Vec<usize> = (0..n - num_valid).collect();
    let valid_indices: Vec<usize> = (n - num_valid..n).collect();
    let all_labels = full_train.labels.iter().chain(&test.labels);
    let num_classes = all_labels.max().map_or(1, |&max| max as usize + 1);
    Ok(ImageData {
        name: name.to_string(),
        levels: 256,
        num_classes,
        train: full_train.subset(&train_indices),
        valid: full_train.subset(&valid_indices),
        test: test.numbered_from(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Writes an IDX file (gzipped if asked): magic, big-endian dimensions, then the data.
    fn write_idx(path: &Path, magic: u32, dims: &[u32], data: &[u8], gzip: bool) {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend_from_slice(data);
        if gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), Default::default());
            enc.write_all(&bytes).unwrap();
            bytes = enc.finish().unwrap();
        }
        std::fs::write(path, bytes).unwrap();
    }

    /// Writes a pair of image/label files of `n` 3x2 images whose label is the index mod 4.
    fn write_pair(dir: &Path, images: &str, labels: &str, n: u32, gzip: bool) -> Vec<u8> {
        let pixels: Vec<u8> = (0..n * 6).map(|i| (i * 7 % 256) as u8).collect();
        let labels_data: Vec<u8> = (0..n).map(|i| (i % 4) as u8).collect();
        let ext = if gzip { ".gz" } else { "" };
        let images = dir.join(format!("{images}{ext}"));
        write_idx(&images, IMAGES_MAGIC, &[n, 3, 2], &pixels, gzip);
        let labels = dir.join(format!("{labels}{ext}"));
        write_idx(&labels, LABELS_MAGIC, &[n], &labels_data, gzip);
        pixels
    }

    #[test]
    fn idx_round_trip_plain_and_gzipped() {
        for gzip in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let pixels = write_pair(dir.path(), "a", "b", 5, gzip);
            let ext = if gzip { ".gz" } else { "" };
            let read = read_idx_images(&dir.path().join(format!("a{ext}"))).unwrap();
            assert_eq!(read, (pixels, 5, 3, 2));
            let labels = read_idx_labels(&dir.path().join(format!("b{ext}"))).unwrap();
            assert_eq!(labels, vec![0, 1, 2, 3, 0]);
        }
    }

    #[test]
    fn idx_dir_splits_off_validation() {
        let dir = tempfile::tempdir().unwrap();
        let train_pixels = write_pair(dir.path(), TRAIN_IMAGES, TRAIN_LABELS, 25, true);
        write_pair(dir.path(), TEST_IMAGES, TEST_LABELS, 7, false);
        let data = load_idx_dir(dir.path(), "idx:test").unwrap();
        assert_eq!(
            (data.train.len(), data.valid.len(), data.test.len()),
            (23, 2, 7)
        );
        assert_eq!(
            (data.levels, data.num_classes, data.name.as_str()),
            (256, 4, "idx:test")
        );
        assert_eq!(
            (data.valid.height, data.valid.width, data.valid.channels),
            (3, 2, 1)
        );
        assert_eq!(data.valid.image(1), &train_pixels[24 * 6..]);
        assert_eq!(data.train.pixels, &train_pixels[..23 * 6]);
    }

    #[test]
    fn fashion_mnist_when_installed() {
        let dir = Path::new(crate::data::FASHION_MNIST_DIR);
        if !dir.is_dir() {
            eprintln!("skipped: {} not installed", dir.display());
            return;
        }
        let data = crate::data::load(&crate::data::DataSource::FashionMnist).unwrap();
        let sizes = (data.train.len(), data.valid.len(), data.test.len());
        assert_eq!(sizes, (55_000, 5_000, 10_000));
        assert_eq!(
            (data.train.height, data.train.width, data.num_classes),
            (28, 28, 10)
        );
    }
}
