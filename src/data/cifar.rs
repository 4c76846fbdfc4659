//! Reader for the CIFAR-10 binary format.
//!
//! A folder holds `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`; each file is a
//! sequence of 3,073-byte records: one label byte (0..=9), then 3,072 pixel bytes (1,024 red,
//! then 1,024 green, then 1,024 blue, each 32x32 row-major), which is the [n][channels]
//! [height][width] layout of [`ImageSet`].

use std::path::Path;

use super::{DataError, ImageData, ImageSet};

/// Image side in pixels.
const SIDE: usize = 32;
/// Colour channels per image (red, green, blue).
const CHANNELS: usize = 3;
/// Pixel bytes per image.
const IMAGE_BYTES: usize = CHANNELS * SIDE * SIDE;
/// Bytes per record: the label byte, then the pixels.
const RECORD_BYTES: usize = 1 + IMAGE_BYTES;
/// Number of classes; every label is below it.
const NUM_CLASSES: usize = 10;
/// Number of training files, `data_batch_1.bin` … `data_batch_5.bin`.
const NUM_TRAIN_BATCHES: usize = 5;
/// The test file.
const TEST_BATCH: &str = "test_batch.bin";
/// Number of images held out for validation from the end of the training images.
const VALID_IMAGES: usize = 5000;
/// From this many training images on, [`VALID_IMAGES`] are held out, below it 10%.
const FULL_TRAIN: usize = 50_000;

/// A [`DataError::BadCifar`] for `path`.
fn bad_cifar(path: &Path, problem: String) -> DataError {
    let path = path.to_path_buf();
    DataError::BadCifar { path, problem }
}

/// The name of training file `i` (1-based).
fn train_batch_name(i: usize) -> String {
    format!("data_batch_{i}.bin")
}

/// Reads one CIFAR-10 binary file: 32x32 images with 3 channels, laid out
/// [n][channels][height][width], and their labels in 0..=9.
///
/// Errors name the file: it cannot be read, it is empty, its size is not a multiple of the
/// 3,073-byte record, or a label byte is 10 or more.
pub fn read_cifar10_batch(path: &Path) -> Result<ImageSet, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(bad_cifar(path, "empty file (no records)".into()));
    }
    if bytes.len() % RECORD_BYTES != 0 {
        let problem = format!(
            "wrong record size ({} bytes is not a multiple of the {RECORD_BYTES}-byte record)",
            bytes.len()
        );
        return Err(bad_cifar(path, problem));
    }
    let n = bytes.len() / RECORD_BYTES;
    let mut pixels = Vec::with_capacity(n * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    for (record, chunk) in (1..).zip(bytes.chunks_exact(RECORD_BYTES)) {
        let label = chunk[0];
        if label as usize >= NUM_CLASSES {
            let max = NUM_CLASSES - 1;
            let problem = format!("record {record}: label {label} out of range 0..={max}");
            return Err(bad_cifar(path, problem));
        }
        labels.push(label);
        pixels.extend_from_slice(&chunk[1..]);
    }
    Ok(ImageSet::new(pixels, labels, SIDE, SIDE, CHANNELS))
}

/// Loads a folder in the CIFAR-10 binary format (32x32, 3 channels, 256 levels, 10 classes).
///
/// The training images are those of the `data_batch_1.bin` … `data_batch_5.bin` files
/// present, read in that order (at least one is required). The validation part is the last
/// 5,000 of them (the last 10%, at least 1 image, when there are fewer than 50,000), and the
/// train part the images before them; at least 2 training images are needed. The test part
/// is `test_batch.bin`.
pub fn load_cifar10_dir(dir: &Path, name: &str) -> Result<ImageData, DataError> {
    let last = train_batch_name(NUM_TRAIN_BATCHES);
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: format!(
                "expected a folder with the CIFAR-10 binary files {} … {last} and {TEST_BATCH}",
                train_batch_name(1)
            ),
        });
    }
    let batches: Vec<_> = (1..=NUM_TRAIN_BATCHES)
        .map(|i| dir.join(train_batch_name(i)))
        .filter(|path| path.is_file())
        .collect();
    if batches.is_empty() {
        return Err(DataError::MissingFile {
            path: dir.join(train_batch_name(1)),
            tried: format!("{} … {last}", train_batch_name(1)),
        });
    }
    let test_path = dir.join(TEST_BATCH);
    if !test_path.is_file() {
        return Err(DataError::MissingFile {
            path: test_path,
            tried: TEST_BATCH.into(),
        });
    }
    let mut full_train = read_cifar10_batch(&batches[0])?;
    for path in &batches[1..] {
        let batch = read_cifar10_batch(path)?;
        full_train.pixels.extend_from_slice(&batch.pixels);
        full_train.labels.extend_from_slice(&batch.labels);
    }
    let full_train = full_train.numbered_from(0);
    let test = read_cifar10_batch(&test_path)?;
    let n = full_train.len();
    if n < 2 {
        let problem =
            format!("too few images ({n}, need at least 2 to hold out a validation part)");
        return Err(bad_cifar(&batches[0], problem));
    }
    let num_valid = if n >= FULL_TRAIN {
        VALID_IMAGES
    } else {
        (n / 10).max(1)
    };
    let train_indices: Vec<usize> = (0..n - num_valid).collect();
    let valid_indices: Vec<usize> = (n - num_valid..n).collect();
    Ok(ImageData {
        name: name.to_string(),
        levels: 256,
        num_classes: NUM_CLASSES,
        train: full_train.subset(&train_indices),
        valid: full_train.subset(&valid_indices),
        test: test.numbered_from(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `n` records whose label is `(first + i) % 10` and whose pixels are
    /// `(first + i + j) % 256`.
    fn write_batch(path: &Path, first: usize, n: usize) {
        let mut bytes = Vec::new();
        for i in first..first + n {
            bytes.push((i % NUM_CLASSES) as u8);
            bytes.extend((0..IMAGE_BYTES).map(|j| ((i + j) % 256) as u8));
        }
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn batches_present_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write_batch(&dir.path().join("data_batch_1.bin"), 0, 4);
        write_batch(&dir.path().join("data_batch_3.bin"), 4, 6);
        write_batch(&dir.path().join(TEST_BATCH), 100, 3);
        let data = load_cifar10_dir(dir.path(), "cifar10:test").unwrap();
        let sizes = (data.train.len(), data.valid.len(), data.test.len());
        assert_eq!(sizes, (9, 1, 3));
        assert_eq!(data.train.labels, vec![0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(data.valid.labels, vec![9]);
        assert_eq!(data.valid.image(0)[0], 9);
        assert_eq!(data.test.labels, vec![0, 1, 2]);
        assert_eq!((data.levels, data.num_classes), (256, 10));
    }
}
