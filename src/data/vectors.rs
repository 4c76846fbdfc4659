//! Conditioning vectors h, one row per example of a data set, read from a CSV file or a
//! numpy `.npy` array (`--condition vectors:FILE`).
//!
//! - CSV: one row of D numbers per example, in the data's order; a first row that is not all
//!   numbers is a header and skipped.
//! - `.npy`: a C-order array of shape [N, D] (or [N], D = 1) of floats or integers.
//!
//! Every value must be a finite number; errors name the file, the row and the column.

use std::path::Path;

use super::DataError;

/// The most values (rows × D) a vector file may hold (1 GiB of f32).
pub const MAX_VECTOR_VALUES: usize = 1 << 28;

/// Conditioning vectors: `rows()` rows of `dim` values.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionVectors {
    /// The file they were read from (for messages).
    pub origin: String,
    /// Values per row (D).
    pub dim: usize,
    /// The rows one after the other.
    pub values: Vec<f32>,
}

impl ConditionVectors {
    /// Vectors from values laid out [rows][dim]; `origin` names them in errors.
    pub fn from_values(
        origin: impl Into<String>,
        dim: usize,
        values: Vec<f32>,
    ) -> Result<Self, DataError> {
        let origin = origin.into();
        let bad = |problem: String| DataError::Vectors {
            origin: origin.clone(),
            problem,
        };
        if dim == 0 || values.is_empty() {
            return Err(bad("no vectors (a row needs at least one value)".into()));
        }
        if !values.len().is_multiple_of(dim) {
            return Err(bad(format!(
                "{} values do not fill rows of {dim}",
                values.len()
            )));
        }
        if let Some(at) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!(
                "row {}, column {}: {} is not a finite number",
                at / dim + 1,
                at % dim + 1,
                values[at]
            )));
        }
        Ok(Self {
            origin,
            dim,
            values,
        })
    }

    /// Reads a `.npy` file (by its extension) or a CSV file.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        let is_npy = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
            || bytes.starts_with(b"\x93NUMPY");
        if is_npy {
            read_npy(&bytes, origin)
        } else {
            read_csv(&bytes, origin)
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.values.len() / self.dim
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows at `indices`, one after the other. Panics if an index is out of range.
    pub fn pick(&self, indices: &[usize]) -> Vec<f32> {
        indices.iter().flat_map(|&i| self.row(i).to_vec()).collect()
    }
}

/// A numpy array [N, D] or [N].
fn read_npy(bytes: &[u8], origin: String) -> Result<ConditionVectors, DataError> {
    let bad = |problem: String| DataError::Vectors {
        origin: origin.clone(),
        problem,
    };
    let file =
        npyz::NpyFile::new(bytes).map_err(|e| bad(format!("not a valid .npy file ({e})")))?;
    let shape = file.shape().to_vec();
    let (rows, dim) = match shape.as_slice() {
        [n] => (*n, 1),
        [n, d] => (*n, *d),
        _ => {
            return Err(bad(format!(
                "an array of shape {shape:?}: expected [rows, dimensions] or [rows]"
            )));
        }
    };
    let total = rows
        .checked_mul(dim)
        .filter(|&t| t <= MAX_VECTOR_VALUES as u64);
    let Some(total) = total else {
        return Err(bad(format!(
            "an array of {rows}x{dim} values: at most {MAX_VECTOR_VALUES} are supported"
        )));
    };
    if file.order() != npyz::Order::C && dim > 1 {
        return Err(bad(
            "a Fortran-order array: save it in C order (numpy's default)".into(),
        ));
    }
    let truncated = |e: std::io::Error| bad(format!("truncated or corrupt data ({e})"));
    let values: Vec<f32> = read_as_f32(file).map_err(|e| match e {
        NpyRead::Io(e) => truncated(e),
        NpyRead::Type(t) => bad(format!("values of type {t}: expected floats or integers")),
    })?;
    if values.len() as u64 != total {
        return Err(bad(format!(
            "{} values where the header promises {total}",
            values.len()
        )));
    }
    ConditionVectors::from_values(origin.clone(), dim as usize, values)
}

enum NpyRead {
    Io(std::io::Error),
    Type(String),
}

/// The array's values as f32, whatever numeric type it stores.
fn read_as_f32(file: npyz::NpyFile<&[u8]>) -> Result<Vec<f32>, NpyRead> {
    fn all<T: npyz::Deserialize>(
        reader: npyz::NpyReader<T, &[u8]>,
        to_f32: impl Fn(T) -> f32,
    ) -> Result<Vec<f32>, NpyRead> {
        reader
            .map(|v| v.map(&to_f32).map_err(NpyRead::Io))
            .collect()
    }
    let file = match file.try_data::<f32>() {
        Ok(r) => return all(r, |v| v),
        Err(f) => f,
    };
    let file = match file.try_data::<f64>() {
        Ok(r) => return all(r, |v| v as f32),
        Err(f) => f,
    };
    let file = match file.try_data::<i64>() {
        Ok(r) => return all(r, |v| v as f32),
        Err(f) => f,
    };
    let file = match file.try_data::<i32>() {
        Ok(r) => return all(r, |v| v as f32),
        Err(f) => f,
    };
    let file = match file.try_data::<u8>() {
        Ok(r) => return all(r, f32::from),
        Err(f) => f,
    };
    Err(NpyRead::Type(file.dtype().descr()))
}

/// A CSV file of numbers, one row per example, with an optional header row.
fn read_csv(bytes: &[u8], origin: String) -> Result<ConditionVectors, DataError> {
    let bad = |problem: String| DataError::Vectors {
        origin: origin.clone(),
        problem,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut values = Vec::new();
    let mut dim = None;
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        let record = record.map_err(|e| bad(format!("line {line}: {e}")))?;
        if record.iter().all(str::is_empty) {
            continue;
        }
        let parsed: Vec<Result<f32, _>> = record.iter().map(str::parse::<f32>).collect();
        if i == 0 && parsed.iter().any(Result::is_err) {
            continue; // a header row
        }
        let d = *dim.get_or_insert(record.len());
        if record.len() != d {
            return Err(bad(format!(
                "line {line} has {} values, the first row {d}",
                record.len()
            )));
        }
        for (column, (field, value)) in record.iter().zip(parsed).enumerate() {
            match value {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(bad(format!(
                        "line {line}, column {}: `{field}` is not a finite number",
                        column + 1
                    )));
                }
            }
        }
        if values.len() > MAX_VECTOR_VALUES {
            return Err(bad(format!(
                "more than {MAX_VECTOR_VALUES} values: larger files are not supported"
            )));
        }
    }
    ConditionVectors::from_values(origin.clone(), dim.unwrap_or(0), values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_with_an_optional_header() {
        let v = read_csv(b"a,b\n1,2\n3.5, -4\n", "t.csv".into()).unwrap();
        assert_eq!((v.rows(), v.dim), (2, 2));
        assert_eq!(v.values, vec![1.0, 2.0, 3.5, -4.0]);
        let v = read_csv(b"1\n2\n", "t.csv".into()).unwrap();
        assert_eq!((v.rows(), v.dim), (2, 1));
    }

    #[test]
    fn csv_errors_name_the_line_and_column() {
        let e = read_csv(b"1,2\n3,NaN\n", "t.csv".into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.csv") && e.contains("line 2, column 2"), "{e}");
        let e = read_csv(b"1,2\n3,x\n", "t.csv".into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2, column 2") && e.contains("`x`"), "{e}");
        let e = read_csv(b"1,2\n3\n", "t.csv".into())
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2 has 1 values"), "{e}");
        let e = read_csv(b"", "t.csv".into()).unwrap_err().to_string();
        assert!(e.contains("no vectors"), "{e}");
    }

    #[test]
    fn npy_arrays_of_floats_and_integers() {
        use npyz::WriterBuilder;
        let mut bytes = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&[3, 2])
                .writer(&mut bytes)
                .begin_nd()
                .unwrap();
            w.extend([1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
            w.finish().unwrap();
        }
        let v = read_npy(&bytes, "t.npy".into()).unwrap();
        assert_eq!((v.rows(), v.dim), (3, 2));
        assert_eq!(v.row(2), &[5.0, 6.0]);
        // Truncated data is an error, not a panic.
        let e = read_npy(&bytes[..bytes.len() - 4], "t.npy".into()).unwrap_err();
        assert!(e.to_string().contains("t.npy"), "{e}");
        let e = read_npy(b"\x93NUMPY garbage", "t.npy".into()).unwrap_err();
        assert!(e.to_string().contains("not a valid .npy"), "{e}");
    }
}
