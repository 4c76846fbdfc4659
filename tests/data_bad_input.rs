//! Bad data must give an error that names the file and says what is wrong, never a panic.

use std::io::Write;
use std::path::{Path, PathBuf};

use argen::data::{
    DataError, DataSource, load, load_idx_dir, parse_digits_csv, read_idx_images, read_idx_labels,
};

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// IDX bytes: magic, big-endian dimensions, then the data.
fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
    bytes.extend_from_slice(data);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Writes `bytes` to `dir/name` and returns the path.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Asserts that the error message names `file` and contains `phrase`.
fn assert_error<T: std::fmt::Debug>(result: Result<T, DataError>, file: &str, phrase: &str) {
    let message = result
        .expect_err("bad input must give an error")
        .to_string();
    assert!(message.contains(file), "'{message}' should name {file}");
    assert!(
        message.contains(phrase),
        "'{message}' should say '{phrase}'"
    );
}

/// A valid IDX image file of `n` images of 2x2 pixels.
fn images(n: u32) -> Vec<u8> {
    idx_bytes(IMAGES_MAGIC, &[n, 2, 2], &vec![7; n as usize * 4])
}

#[test]
fn missing_file_names_the_file_and_the_tried_names() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "train-images-idx3-ubyte", &images(4));
    let expected = dir.path().join("train-labels-idx1-ubyte");
    let result = load_idx_dir(dir.path(), "idx:test");
    assert_error(result, &expected.display().to_string(), "missing file");
    let result = load_idx_dir(dir.path(), "idx:test");
    assert_error(result, "train-labels-idx1-ubyte.gz", "tried");
}

#[test]
fn missing_folder_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let result = load(&DataSource::Idx(missing.clone()));
    assert_error(result, &missing.display().to_string(), "not found");
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let full = gzip(&images(50));
    let path = write(dir.path(), "images.gz", &full[..full.len() / 2]);
    let result = read_idx_images(&path);
    assert_error(
        result,
        &path.display().to_string(),
        "truncated or corrupt gzip",
    );
}

#[test]
fn corrupt_gzip_after_valid_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = gzip(&images(4))[..10].to_vec();
    bytes.extend_from_slice(&[0xff; 64]);
    let path = write(dir.path(), "labels.gz", &bytes);
    let result = read_idx_labels(&path);
    assert_error(
        result,
        &path.display().to_string(),
        "truncated or corrupt gzip",
    );
}

#[test]
fn wrong_magic_number_says_found_and_expected() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "images",
        &idx_bytes(LABELS_MAGIC, &[4], &[1; 4]),
    );
    let result = read_idx_images(&path);
    assert_error(result, &path.display().to_string(), "wrong magic number");
    let result = read_idx_images(&path);
    assert_error(result, "found 0x00000801", "expected 0x00000803");
}

#[test]
fn truncated_image_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = images(3);
    bytes.truncate(bytes.len() - 2);
    let path = write(dir.path(), "images", &bytes);
    let result = read_idx_images(&path);
    assert_error(result, &path.display().to_string(), "truncated data");
    let result = read_idx_images(&path);
    assert_error(result, "promises 12 bytes", "found only 10");
}

#[test]
fn trailing_label_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "labels",
        &idx_bytes(LABELS_MAGIC, &[2], &[1; 3]),
    );
    assert_error(read_idx_labels(&path), "labels", "trailing data");
}

#[test]
fn short_header_and_huge_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "short", &IMAGES_MAGIC.to_be_bytes()[..3]);
    assert_error(read_idx_images(&path), "short", "truncated header");
    let huge = idx_bytes(IMAGES_MAGIC, &[u32::MAX; 3], &[0; 8]);
    let path = write(dir.path(), "huge", &huge);
    let result = read_idx_images(&path);
    assert_error(result, "huge", "too large");
}

#[test]
fn image_label_count_mismatch_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let images_path = write(dir.path(), "train-images-idx3-ubyte", &images(5));
    let labels = gzip(&idx_bytes(LABELS_MAGIC, &[4], &[0; 4]));
    let labels_path = write(dir.path(), "train-labels-idx1-ubyte.gz", &labels);
    let message = load_idx_dir(dir.path(), "idx:test")
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&images_path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&labels_path.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains("5 images") && message.contains("4 labels"),
        "{message}"
    );
    assert!(message.contains("count mismatch"), "{message}");
}

#[test]
fn empty_set_and_zero_size_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "empty",
        &idx_bytes(IMAGES_MAGIC, &[0, 2, 2], &[]),
    );
    assert_error(read_idx_images(&path), "empty", "empty set");
    let path = write(
        dir.path(),
        "flat",
        &idx_bytes(IMAGES_MAGIC, &[3, 0, 2], &[]),
    );
    assert_error(read_idx_images(&path), "flat", "zero image size");
}

/// A valid digits CSV row: 64 pixels then the label.
fn csv_row() -> Vec<String> {
    (0..65).map(|i| (i % 10).to_string()).collect()
}

#[test]
fn digits_csv_non_numeric_value() {
    let mut row = csv_row();
    row[5] = "abc".into();
    let result = parse_digits_csv(row.join(",").as_bytes(), "bad.csv");
    assert_error(
        result,
        "bad.csv",
        "row 1, column 6: 'abc' is not an integer",
    );
}

#[test]
fn digits_csv_wrong_column_count() {
    let text = format!("{}\n{}", csv_row().join(","), csv_row()[..64].join(","));
    let result = parse_digits_csv(text.as_bytes(), "short.csv");
    assert_error(result, "short.csv", "row 2 has 64 columns, expected 65");
}

#[test]
fn digits_csv_value_out_of_range() {
    let mut row = csv_row();
    row[3] = "17".into();
    let result = parse_digits_csv(&gzip(row.join(",").as_bytes()), "range.csv.gz");
    assert_error(result, "range.csv.gz", "pixel value 17 out of range 0..=16");
    let mut row = csv_row();
    row[64] = "10".into();
    let result = parse_digits_csv(row.join(",").as_bytes(), "label.csv");
    assert_error(
        result,
        "label.csv",
        "column 65: label 10 out of range 0..=9",
    );
}

#[test]
fn unknown_data_source_lists_the_accepted_forms() {
    let message = "mnist".parse::<DataSource>().unwrap_err().to_string();
    for form in ["'mnist'", "digits", "fashion-mnist", "idx:DIR"] {
        assert!(message.contains(form), "{message}");
    }
    for source in [
        DataSource::Digits,
        DataSource::FashionMnist,
        DataSource::Idx("/a/b".into()),
    ] {
        assert_eq!(source.to_string().parse::<DataSource>().unwrap(), source);
    }
}
