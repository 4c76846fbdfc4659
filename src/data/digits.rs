//! The 8x8 handwritten digits embedded in the binary (UCI / scikit-learn, see data/ATTRIBUTION.md).

use std::path::Path;

use super::{DataError, ImageData, ImageSet, gunzip_if_needed, shuffled_indices};

/// The embedded CSV: 1,797 rows, 64 pixel columns in 0..=16, then the label in 0..=9.
const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");
/// Name of the embedded file in error messages.
const DIGITS_ORIGIN: &str = "data/digits.csv.gz (embedded)";
const SIDE: usize = 8;
const MAX_PIXEL: i64 = 16;
const MAX_LABEL: i64 = 9;
const NUM_ROWS: usize = 1797;
const NUM_TRAIN: usize = 1000;
const NUM_VALID: usize = 350;
/// Seed of the fixed shuffle that cuts the rows into train / validation / test.
const SPLIT_SEED: u64 = 1797;

/// Parses digits CSV text (plain or gzipped): per row 64 pixel values in 0..=16, then a label
/// in 0..=9. `origin` names the data in error messages, which also give the row and column.
pub fn parse_digits_csv(bytes: &[u8], origin: &str) -> Result<ImageSet, DataError> {
    let csv_error = |message: String| DataError::Csv {
        origin: origin.to_string(),
        message,
    };
    let bytes = gunzip_if_needed(bytes.to_vec(), Path::new(origin))?;
    let text =
        std::str::from_utf8(&bytes).map_err(|e| csv_error(format!("not UTF-8 text ({e})")))?;
    let columns = SIDE * SIDE + 1;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (row, line) in (1..).zip(text.lines()) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != columns {
            return Err(csv_error(format!(
                "row {row} has {} columns, expected {columns}",
                fields.len()
            )));
        }
        for (column, field) in (1..).zip(&fields) {
            let value: i64 = field.trim().parse().map_err(|_| {
                csv_error(format!(
                    "row {row}, column {column}: '{field}' is not an integer"
                ))
            })?;
            let is_label = column == columns;
            let (what, max) = if is_label {
                ("label", MAX_LABEL)
            } else {
                ("pixel value", MAX_PIXEL)
            };
            // The range check makes the cast to u8 lossless.
            if !(0..=max).contains(&value) {
                return Err(csv_error(format!(
                    "row {row}, column {column}: {what} {value} out of range 0..={max}"
                )));
            }
            if is_label {
                labels.push(value as u8);
            } else {
                pixels.push(value as u8);
            }
        }
    }
    if labels.is_empty() {
        return Err(csv_error("no rows".into()));
    }
    Ok(ImageSet::new(pixels, labels, SIDE, SIDE, 1))
}

/// Row indices of the fixed split of the embedded digits: 1,000 train, 350 validation and
/// 447 test rows, cut from one shuffle of all rows with the constant seed [`SPLIT_SEED`].
fn split_indices() -> [Vec<usize>; 3] {
    let order = shuffled_indices(NUM_ROWS, SPLIT_SEED);
    let (train, rest) = order.split_at(NUM_TRAIN);
    let (valid, test) = rest.split_at(NUM_VALID);
    [train.to_vec(), valid.to_vec(), test.to_vec()]
}

/// Loads the embedded digits (8x8, 1 channel, 17 levels, 10 classes) with their fixed
/// 1,000 / 350 / 447 split.
pub fn load_digits() -> Result<ImageData, DataError> {
    let all = parse_digits_csv(DIGITS_CSV_GZ, DIGITS_ORIGIN)?;
    if all.len() != NUM_ROWS {
        return Err(DataError::Csv {
            origin: DIGITS_ORIGIN.into(),
            message: format!("{} rows, expected {NUM_ROWS}", all.len()),
        });
    }
    let [train, valid, test] = split_indices();
    Ok(ImageData {
        name: "digits".into(),
        levels: MAX_PIXEL as usize + 1,
        num_classes: MAX_LABEL as usize + 1,
        train: all.subset(&train),
        valid: all.subset(&valid),
        test: all.subset(&test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn digits_split_sizes_shapes_and_ranges() {
        let data = load_digits().unwrap();
        assert_eq!(
            (data.train.len(), data.valid.len(), data.test.len()),
            (1000, 350, 447)
        );
        assert_eq!((data.levels, data.num_classes), (17, 10));
        for set in [&data.train, &data.valid, &data.test] {
            assert_eq!((set.channels, set.height, set.width), (1, 8, 8));
            assert_eq!(set.pixels.len(), set.len() * 64);
            assert!(set.labels.iter().all(|&l| l < 10));
        }
        assert_eq!(data.train.pixels.iter().max(), Some(&16));
        let classes: HashSet<u8> = data.train.labels.iter().copied().collect();
        assert_eq!(classes.len(), 10);
    }

    #[test]
    fn digits_split_is_fixed_and_disjoint() {
        let [train, valid, test] = split_indices();
        assert_eq!(
            [train.clone(), valid.clone(), test.clone()],
            split_indices()
        );
        let all: HashSet<usize> = train.iter().chain(&valid).chain(&test).copied().collect();
        assert_eq!(all.len(), NUM_ROWS);
        assert!(all.iter().all(|&i| i < NUM_ROWS));
        // The loaded parts are the rows at those indices, identically on two calls.
        let (a, b) = (load_digits().unwrap(), load_digits().unwrap());
        let rows = parse_digits_csv(DIGITS_CSV_GZ, DIGITS_ORIGIN).unwrap();
        assert_eq!(a.valid.pixels, rows.subset(&valid).pixels);
        assert_eq!(a.test.labels, rows.subset(&test).labels);
        assert_eq!(a.train.pixels, b.train.pixels);
        assert_eq!(a.test.pixels, b.test.pixels);
    }

    #[test]
    fn parses_plain_csv() {
        let row: Vec<String> = (0..64).map(|i| (i % 17).to_string()).collect();
        let text = format!("{},3\n\n{},9\n", row.join(","), row.join(", "));
        let set = parse_digits_csv(text.as_bytes(), "mem.csv").unwrap();
        assert_eq!(set.labels, vec![3, 9]);
        assert_eq!(set.image(1)[16], 16);
    }
}
