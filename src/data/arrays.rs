//! A data set saved as numpy arrays (`arrays:DIR`): the exact split of images held in
//! memory (by a program or the Python package), so that a run trained on them reopens with
//! its data from the command line (`argen eval`, `train --resume`).
//!
//! The folder holds `levels.txt` (the number of levels L, as text) and, for each part
//! `train`, `valid` and `test`, `PART.npy` (uint8 levels [N, H, W] or [N, C, H, W]),
//! `PART_labels.npy` (uint8 [N]) and, when the images have conditioning vectors,
//! `PART_vectors.npy` (float32 [N, D]). The test part may hold no image.

use std::path::Path;

use npyz::WriterBuilder;

use super::{DataError, ImageData, ImageSet, SetVectors};
use crate::files::write_atomically;

/// The three parts, in the order their images are numbered.
const PARTS: [&str; 3] = ["train", "valid", "test"];
/// The file that holds the number of levels.
const LEVELS_FILE: &str = "levels.txt";
/// The most images one part may hold.
const MAX_IMAGES: u64 = 10_000_000;

/// A [`DataError::BadArrays`] naming `path`.
fn bad(path: &Path, problem: impl std::fmt::Display) -> DataError {
    DataError::BadArrays(format!("{}: {problem}", path.display()))
}

/// An `.npy` file of `shape` holding `values`, in memory.
fn npy_bytes<T: npyz::Serialize + npyz::AutoSerialize + Copy>(
    shape: &[u64],
    values: &[T],
) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    {
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut bytes)
            .begin_nd()?;
        writer.extend(values.iter().copied())?;
        writer.finish()?;
    }
    Ok(bytes)
}

/// Writes `data` into `dir` (created when missing), each file atomically.
pub fn save_arrays_dir(data: &ImageData, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (part, set) in PARTS.iter().zip([&data.train, &data.valid, &data.test]) {
        let n = set.len() as u64;
        let (c, h, w) = (set.channels as u64, set.height as u64, set.width as u64);
        let shape: Vec<u64> = if c == 1 {
            vec![n, h, w]
        } else {
            vec![n, c, h, w]
        };
        write_atomically(
            &dir.join(format!("{part}.npy")),
            &npy_bytes(&shape, &set.pixels)?,
        )?;
        write_atomically(
            &dir.join(format!("{part}_labels.npy")),
            &npy_bytes(&[n], &set.labels)?,
        )?;
        if let Some(v) = &set.vectors {
            write_atomically(
                &dir.join(format!("{part}_vectors.npy")),
                &npy_bytes(&[n, v.dim as u64], &v.values)?,
            )?;
        }
    }
    write_atomically(
        &dir.join(LEVELS_FILE),
        format!("{}\n", data.levels).as_bytes(),
    )?;
    Ok(())
}

/// Reads an `.npy` file: its shape and its values as `T`.
fn read_npy<T: npyz::Deserialize>(
    path: &Path,
    what: &str,
) -> Result<(Vec<u64>, Vec<T>), DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| bad(path, format!("not a valid .npy file ({e})")))?;
    if file.order() != npyz::Order::C {
        return Err(bad(path, "a Fortran-order array: save it in C order"));
    }
    let shape = file.shape().to_vec();
    let total = shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    if total.is_none_or(|t| t > MAX_IMAGES * 4096) {
        return Err(bad(
            path,
            format!("an array of shape {shape:?} is too large"),
        ));
    }
    let reader = file
        .data::<T>()
        .map_err(|e| bad(path, format!("{what} of the wrong type ({e})")))?;
    let values: Vec<T> = reader
        .collect::<Result<_, _>>()
        .map_err(|e| bad(path, format!("truncated or corrupt data ({e})")))?;
    if Some(values.len() as u64) != total {
        return Err(bad(path, "fewer values than its header promises"));
    }
    Ok((shape, values))
}

/// Loads the data set saved in `dir` by [`save_arrays_dir`]; `name` is written into the
/// config of a run trained on it. Errors name the file and the problem.
pub fn load_arrays_dir(dir: &Path, name: &str) -> Result<ImageData, DataError> {
    if !dir.is_dir() {
        return Err(DataError::MissingDir {
            path: dir.to_path_buf(),
            hint: "expected a folder with levels.txt, train.npy, valid.npy, test.npy and their \
                   _labels.npy"
                .into(),
        });
    }
    let levels_path = dir.join(LEVELS_FILE);
    let text = std::fs::read_to_string(&levels_path).map_err(|source| DataError::Io {
        path: levels_path.clone(),
        source,
    })?;
    let levels: usize = text.trim().parse().map_err(|_| {
        bad(
            &levels_path,
            format!("'{}' is not a number of levels", text.trim()),
        )
    })?;
    let mut sets = Vec::with_capacity(3);
    let mut first = 0;
    for part in PARTS {
        let path = dir.join(format!("{part}.npy"));
        let (shape, pixels) = read_npy::<u8>(&path, "levels")?;
        let shape = match *shape.as_slice() {
            [n, h, w] => [n, 1, h, w],
            [n, c, h, w] => [n, c, h, w],
            _ => {
                return Err(bad(
                    &path,
                    format!("shape {shape:?}: expected [N, H, W] or [N, C, H, W]"),
                ));
            }
        }
        .map(|d| d as usize);
        let labels_path = dir.join(format!("{part}_labels.npy"));
        let (label_shape, labels) = read_npy::<u8>(&labels_path, "labels")?;
        if label_shape != [shape[0] as u64] {
            return Err(bad(
                &labels_path,
                format!("{label_shape:?} labels for {} images", shape[0]),
            ));
        }
        let mut set = ImageSet::from_levels(pixels, shape, Some(labels))
            .map_err(|e| bad(&path, e))?
            .numbered_from(first);
        let vectors_path = dir.join(format!("{part}_vectors.npy"));
        if vectors_path.exists() {
            let (vector_shape, values) = read_npy::<f32>(&vectors_path, "vectors")?;
            match *vector_shape.as_slice() {
                [n, d]
                    if n as usize == set.len() && d > 0 && values.iter().all(|v| v.is_finite()) =>
                {
                    set.vectors = Some(SetVectors {
                        dim: d as usize,
                        values,
                    });
                }
                _ => {
                    return Err(bad(
                        &vectors_path,
                        format!("vectors of shape {vector_shape:?} (finite, one row per image)"),
                    ));
                }
            }
        }
        first += set.len();
        sets.push(set);
    }
    let [train, valid, test]: [ImageSet; 3] = sets.try_into().expect("three parts");
    ImageData::from_sets(name, levels, train, valid, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> ImageData {
        let set = |n: usize, offset: u8| {
            let pixels = (0..n * 12)
                .map(|i| (i as u8).wrapping_add(offset) % 17)
                .collect();
            let labels = (0..n).map(|i| (i % 3) as u8).collect();
            ImageSet::new(pixels, labels, 2, 2, 3)
        };
        ImageData::from_sets("x", 17, set(5, 0), set(2, 1), set(0, 0)).unwrap()
    }

    #[test]
    fn a_saved_data_set_reads_back_value_for_value() {
        let dir = tempfile::tempdir().unwrap();
        let mut original = data();
        original.train.vectors = Some(SetVectors {
            dim: 2,
            values: (0..10).map(|v| v as f32 * 0.5).collect(),
        });
        save_arrays_dir(&original, dir.path()).unwrap();
        let back = load_arrays_dir(dir.path(), "y").unwrap();
        assert_eq!(back.levels, 17);
        for (a, b) in [
            (&original.train, &back.train),
            (&original.valid, &back.valid),
            (&original.test, &back.test),
        ] {
            assert_eq!(
                (&a.pixels, &a.labels, &a.vectors),
                (&b.pixels, &b.labels, &b.vectors)
            );
            assert_eq!(
                (a.channels, a.height, a.width),
                (b.channels, b.height, b.width)
            );
        }
        assert_eq!(back.valid.index, vec![5, 6]);
    }

    #[test]
    fn damaged_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        save_arrays_dir(&data(), dir.path()).unwrap();
        let train = dir.path().join("train.npy");
        let bytes = std::fs::read(&train).unwrap();
        std::fs::write(&train, &bytes[..bytes.len() - 3]).unwrap();
        let message = load_arrays_dir(dir.path(), "y").unwrap_err().to_string();
        assert!(message.contains("train.npy"), "{message}");
        std::fs::write(dir.path().join(LEVELS_FILE), "many").unwrap();
        let message = load_arrays_dir(dir.path(), "y").unwrap_err().to_string();
        assert!(
            message.contains("levels.txt") && message.contains("many"),
            "{message}"
        );
        let message = load_arrays_dir(&dir.path().join("none"), "y")
            .unwrap_err()
            .to_string();
        assert!(message.contains("not found"), "{message}");
    }
}
