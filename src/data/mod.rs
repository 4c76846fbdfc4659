//! Data sets of small discrete-valued images, cut into train / validation / test parts.
//!
//! Two sources: the 8x8 digits embedded in the binary ([`DataSource::Digits`], 17 grey
//! levels) and folders of IDX files in the MNIST format ([`DataSource::Idx`], 256 grey
//! levels), of which Fashion-MNIST ([`DataSource::FashionMnist`]) is one. Colour images come
//! from CIFAR-10 binary files ([`DataSource::Cifar10`]) or a folder of PNG images
//! ([`DataSource::PngFolder`]), or are made from any grey source by a fixed, seeded colour
//! rule ([`DataSource::Colour`], `colour:fashion-mnist`).

pub mod arrays;
pub mod audio;
mod cifar;
pub mod colour;
mod digits;
mod idx;
pub mod midi;
mod png_folder;
pub mod sequences;
pub mod series;
mod vectors;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use cifar::{load_cifar10_dir, read_cifar10_batch};
pub use digits::{load_digits, parse_digits_csv};
pub use idx::{load_idx_dir, read_idx_images, read_idx_labels};
pub use png_folder::load_png_dir;
pub use vectors::{ConditionVectors, MAX_VECTOR_VALUES};

/// Folder where the Debian package `dataset-fashion-mnist` installs its IDX files.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// One set of images with discrete pixel values.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Pixel values, row-major per image, laid out [n][channels][height][width], each in 0..levels.
    pub pixels: Vec<u8>,
    /// Class label per image, in 0..num_classes.
    pub labels: Vec<u8>,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Number of channels (1 for grey images).
    pub channels: usize,
    /// The position of each image in its source's order (train file, then test file),
    /// which is the row of its conditioning vector in a `vectors:FILE`.
    pub index: Vec<usize>,
    /// The conditioning vector h of each image, when the data has them.
    pub vectors: Option<SetVectors>,
}

/// The conditioning vectors of the images of a set, one row of `dim` values per image.
#[derive(Debug, Clone, PartialEq)]
pub struct SetVectors {
    /// Values per vector (D).
    pub dim: usize,
    /// The vectors, one after the other.
    pub values: Vec<f32>,
}

impl SetVectors {
    /// The vector of image `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }
}

impl ImageSet {
    /// A set of images (`pixels` laid out [n][channels][height][width]) with their
    /// `labels`, numbered 0..n in the source's order, without conditioning vectors.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        height: usize,
        width: usize,
        channels: usize,
    ) -> ImageSet {
        let index = (0..labels.len()).collect();
        ImageSet {
            pixels,
            labels,
            height,
            width,
            channels,
            index,
            vectors: None,
        }
    }

    /// The same set numbered from `first` in the source's order (a test file after a train
    /// file of `first` images).
    pub fn numbered_from(mut self, first: usize) -> ImageSet {
        self.index = (first..first + self.len()).collect();
        self
    }
    /// A set from `levels` laid out [n][channels][height][width] (`shape`), with a label per
    /// image (all 0 when `labels` is `None`). Errors when the shape and the lengths disagree.
    pub fn from_levels(
        levels: Vec<u8>,
        shape: [usize; 4],
        labels: Option<Vec<u8>>,
    ) -> Result<ImageSet, DataError> {
        let [n, channels, height, width] = shape;
        if channels == 0 || height == 0 || width == 0 {
            return Err(DataError::BadArrays(format!(
                "images of shape {shape:?} have no pixels"
            )));
        }
        let expected = n.checked_mul(channels * height * width);
        if expected != Some(levels.len()) {
            return Err(DataError::BadArrays(format!(
                "{} levels do not fill {n} images of {channels}x{height}x{width}",
                levels.len()
            )));
        }
        let labels = labels.unwrap_or_else(|| vec![0; n]);
        if labels.len() != n {
            return Err(DataError::BadArrays(format!(
                "{} labels for {n} images",
                labels.len()
            )));
        }
        Ok(ImageSet::new(levels, labels, height, width, channels))
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of pixel values in one image: channels * height * width.
    pub fn image_size(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// The pixels of image `i`. Panics if `i >= self.len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.image_size();
        &self.pixels[i * size..(i + 1) * size]
    }

    /// A new set with the images at the given indices (in that order).
    /// Panics if an index is `>= self.len()`, like slice indexing.
    pub fn subset(&self, indices: &[usize]) -> ImageSet {
        let mut pixels = Vec::with_capacity(indices.len() * self.image_size());
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        ImageSet {
            pixels,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            height: self.height,
            width: self.width,
            channels: self.channels,
            index: indices.iter().map(|&i| self.index[i]).collect(),
            vectors: self.vectors.as_ref().map(|v| SetVectors {
                dim: v.dim,
                values: indices.iter().flat_map(|&i| v.row(i).to_vec()).collect(),
            }),
        }
    }
}

/// A data set cut into train / validation / test parts, with what a model needs to know.
#[derive(Debug, Clone)]
pub struct ImageData {
    /// Name of the source, e.g. "digits", "fashion-mnist", "idx:/path".
    pub name: String,
    /// Number of discrete values per pixel: 17 for digits, 256 for IDX.
    pub levels: usize,
    /// Number of classes; every label is below it.
    pub num_classes: usize,
    /// Images to fit the model on.
    pub train: ImageSet,
    /// Held-out images for model selection and early stopping.
    pub valid: ImageSet,
    /// Held-out images for the final evaluation.
    pub test: ImageSet,
}

impl ImageData {
    /// A data set from its three parts, with `levels` values per pixel; `name` is written
    /// into the config of a run trained on it. Errors when the parts differ in shape, a
    /// value is not below `levels`, or the training or validation part is empty.
    pub fn from_sets(
        name: impl Into<String>,
        levels: usize,
        train: ImageSet,
        valid: ImageSet,
        test: ImageSet,
    ) -> Result<ImageData, DataError> {
        let name = name.into();
        let shape = |s: &ImageSet| (s.channels, s.height, s.width);
        if shape(&valid) != shape(&train) || shape(&test) != shape(&train) {
            return Err(DataError::BadArrays(format!(
                "the parts of {name} have different shapes: train {:?}, valid {:?}, test {:?}",
                shape(&train),
                shape(&valid),
                shape(&test)
            )));
        }
        if train.is_empty() || valid.is_empty() {
            return Err(DataError::BadArrays(format!(
                "{name} needs training and validation images"
            )));
        }
        if !(2..=256).contains(&levels) {
            return Err(DataError::BadArrays(format!(
                "{levels} levels: between 2 and 256 values per pixel are supported"
            )));
        }
        for (part, set) in [("train", &train), ("valid", &valid), ("test", &test)] {
            if let Some(&v) = set.pixels.iter().find(|&&v| usize::from(v) >= levels) {
                return Err(DataError::BadArrays(format!(
                    "the {part} part of {name} has the value {v}, but the levels are 0..{}",
                    levels - 1
                )));
            }
        }
        let num_classes = [&train, &valid, &test]
            .iter()
            .flat_map(|s| s.labels.iter())
            .map(|&l| usize::from(l) + 1)
            .max()
            .unwrap_or(1);
        Ok(ImageData {
            name,
            levels,
            num_classes,
            train,
            valid,
            test,
        })
    }
}

impl ImageData {
    /// Every image of the three parts: their total count (the rows a `vectors:FILE` needs).
    pub fn total_images(&self) -> usize {
        self.train.len() + self.valid.len() + self.test.len()
    }

    /// The same data with a conditioning vector for each image: row `index` of `vectors`
    /// for the image at position `index` of the source's order. Errors when the file's row
    /// count differs from the number of images.
    pub fn with_vectors(mut self, vectors: &ConditionVectors) -> Result<ImageData, DataError> {
        let total = self.total_images();
        if vectors.rows() != total {
            return Err(DataError::Vectors {
                origin: vectors.origin.clone(),
                problem: format!(
                    "{} rows, but {} has {total} images (one row per image, in the data's order)",
                    vectors.rows(),
                    self.name
                ),
            });
        }
        for set in [&mut self.train, &mut self.valid, &mut self.test] {
            set.vectors = Some(SetVectors {
                dim: vectors.dim,
                values: vectors.pick(&set.index),
            });
        }
        Ok(self)
    }
}

/// The data source `spec` (a `--data` value of any family) with the file or folder it names
/// made absolute where it exists, so that a run's config names the same data from any
/// working folder. Sources without a path (`digits`, `sine`, `adding:T`, ...) are unchanged;
/// `colour:SOURCE` keeps its prefix around the absolute SOURCE.
pub fn absolute_source(spec: &str) -> String {
    if let Some(inner) = spec.strip_prefix("colour:") {
        return format!("colour:{}", absolute_source(inner));
    }
    let absolute = |path: &str| {
        std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.to_str().map(String::from))
    };
    for prefix in [
        "idx:",
        "cifar10:",
        "png:",
        "arrays:",
        "text:",
        "pianoroll:",
        "wav:",
        "midi:",
    ] {
        if let Some(path) = spec.strip_prefix(prefix)
            && let Some(path) = absolute(path)
        {
            return format!("{prefix}{path}");
        }
    }
    if let Some(rest) = spec.strip_prefix("csv:")
        && let Some((path, column)) = rest.rsplit_once(':')
        && let Some(path) = absolute(path)
    {
        return format!("csv:{path}:{column}");
    }
    spec.to_string()
}

/// Where images come from; parsed from the `--data` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// The 1,797 8x8 digits embedded in the binary (`digits`).
    Digits,
    /// Fashion-MNIST from [`FASHION_MNIST_DIR`] (`fashion-mnist`).
    FashionMnist,
    /// A folder with the four standard MNIST-style IDX files (`idx:DIR`).
    Idx(PathBuf),
    /// A folder with the CIFAR-10 binary files (`cifar10:DIR`).
    Cifar10(PathBuf),
    /// A folder of PNG images of one size (`png:DIR`).
    PngFolder(PathBuf),
    /// The images of a grey source coloured by the rule of [`colour`] (`colour:SOURCE`).
    Colour(Box<DataSource>),
    /// A split saved as numpy arrays by [`arrays::save_arrays_dir`] (`arrays:DIR`).
    Arrays(PathBuf),
}

impl FromStr for DataSource {
    type Err = DataError;

    /// Parses `digits`, `fashion-mnist`, `idx:DIR`, `cifar10:DIR`, `png:DIR` or
    /// `colour:SOURCE` with SOURCE one of the others.
    fn from_str(s: &str) -> Result<Self, DataError> {
        let dir = |prefix: &str| s.strip_prefix(prefix).filter(|d| !d.is_empty());
        if let Some(inner) = s.strip_prefix("colour:") {
            let inner: DataSource = inner.parse()?;
            if matches!(
                inner,
                DataSource::Colour(_) | DataSource::Cifar10(_) | DataSource::Arrays(_)
            ) {
                return Err(DataError::BadArrays(format!(
                    "`{s}`: colour: takes a grey source (digits, fashion-mnist, idx:DIR, png:DIR)"
                )));
            }
            return Ok(DataSource::Colour(Box::new(inner)));
        }
        match s {
            "digits" => Ok(DataSource::Digits),
            "fashion-mnist" => Ok(DataSource::FashionMnist),
            _ => {
                if let Some(d) = dir("idx:") {
                    Ok(DataSource::Idx(PathBuf::from(d)))
                } else if let Some(d) = dir("cifar10:") {
                    Ok(DataSource::Cifar10(PathBuf::from(d)))
                } else if let Some(d) = dir("png:") {
                    Ok(DataSource::PngFolder(PathBuf::from(d)))
                } else if let Some(d) = dir("arrays:") {
                    Ok(DataSource::Arrays(PathBuf::from(d)))
                } else {
                    Err(DataError::UnknownSource(s.to_string()))
                }
            }
        }
    }
}

impl fmt::Display for DataSource {
    /// Writes the form that [`DataSource::from_str`] accepts.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Digits => write!(f, "digits"),
            DataSource::FashionMnist => write!(f, "fashion-mnist"),
            DataSource::Idx(dir) => write!(f, "idx:{}", dir.display()),
            DataSource::Cifar10(dir) => write!(f, "cifar10:{}", dir.display()),
            DataSource::PngFolder(dir) => write!(f, "png:{}", dir.display()),
            DataSource::Colour(inner) => write!(f, "colour:{inner}"),
            DataSource::Arrays(dir) => write!(f, "arrays:{}", dir.display()),
        }
    }
}

/// Loads a data set and cuts it into train / validation / test parts.
pub fn load(source: &DataSource) -> Result<ImageData, DataError> {
    match source {
        DataSource::Digits => load_digits(),
        DataSource::FashionMnist => {
            let dir = Path::new(FASHION_MNIST_DIR);
            if !dir.is_dir() {
                return Err(DataError::MissingDir {
                    path: dir.to_path_buf(),
                    hint: "install it with `apt-get install dataset-fashion-mnist`, \
                           or use --data idx:DIR with a folder of IDX files"
                        .into(),
                });
            }
            load_idx_dir(dir, &source.to_string())
        }
        DataSource::Idx(dir) => load_idx_dir(dir, &source.to_string()),
        DataSource::Cifar10(dir) => load_cifar10_dir(dir, &source.to_string()),
        DataSource::PngFolder(dir) => load_png_dir(dir, &source.to_string()),
        DataSource::Colour(inner) => colour::colour_data(&load(inner)?, source.to_string()),
        DataSource::Arrays(dir) => arrays::load_arrays_dir(dir, &source.to_string()),
    }
}

/// Indices 0..n in a seeded random order (Fisher–Yates with `ChaCha8Rng::seed_from_u64(seed)`).
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut indices: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.random_range(0..=i);
        indices.swap(i, j);
    }
    indices
}

/// Everything that can go wrong while loading data; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The `--data` value is none of the accepted forms.
    #[error(
        "unknown data source '{0}': expected one of `digits`, `fashion-mnist`, \
         `idx:DIR` (DIR a folder with MNIST-style IDX files), `cifar10:DIR` (DIR a folder \
         with the CIFAR-10 binary files), `png:DIR` (DIR a folder of PNG images of one size), \
         `colour:SOURCE` (a grey source coloured by a fixed, seeded rule, e.g. \
         `colour:fashion-mnist`), `arrays:DIR` (a split saved as .npy arrays)"
    )]
    UnknownSource(String),
    /// Arrays given in memory do not describe a data set.
    #[error("{0}")]
    BadArrays(String),
    /// A data folder does not exist.
    #[error("data folder {} not found: {hint}", path.display())]
    MissingDir { path: PathBuf, hint: String },
    /// A file of an IDX folder exists under none of the accepted names.
    #[error("missing file {} (tried {tried})", path.display())]
    MissingFile { path: PathBuf, tried: String },
    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file starts like gzip but does not decompress.
    #[error("truncated or corrupt gzip data in {}", path.display())]
    Gzip {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An IDX file starts with the wrong magic number.
    #[error("wrong magic number in {}: found {found:#010x}, expected {expected:#010x} ({kind})", path.display())]
    BadMagic {
        path: PathBuf,
        found: u32,
        expected: u32,
        kind: &'static str,
    },
    /// Any other problem with the content of an IDX file (truncated header or data, trailing
    /// data, empty set, zero or overflowing dimensions, too few images to split).
    #[error("{problem} in {}", path.display())]
    BadIdx { path: PathBuf, problem: String },
    /// An image file and its label file hold different numbers of items.
    #[error(
        "image/label count mismatch: {} has {n_images} images but {} has {n_labels} labels",
        images.display(), labels.display()
    )]
    CountMismatch {
        images: PathBuf,
        n_images: usize,
        labels: PathBuf,
        n_labels: usize,
    },
    /// Train and test images have different sizes.
    #[error(
        "image size mismatch: {} has {train_rows}x{train_cols} images but {} has {test_rows}x{test_cols}",
        train.display(), test.display()
    )]
    ShapeMismatch {
        train: PathBuf,
        train_rows: usize,
        train_cols: usize,
        test: PathBuf,
        test_rows: usize,
        test_cols: usize,
    },
    /// A digits CSV value, row or column is invalid (the message gives row and column).
    #[error("bad CSV in {origin}: {message}")]
    Csv { origin: String, message: String },
    /// A conditioning vector file is unreadable, malformed or does not fit the data.
    #[error("{origin}: {problem}")]
    Vectors { origin: String, problem: String },
    /// A problem with a CIFAR-10 binary file (wrong record size, empty file, label out of
    /// range, too few images to split).
    #[error("{problem} in {}", path.display())]
    BadCifar { path: PathBuf, problem: String },
    /// A problem with a PNG folder or one of its files (not a valid PNG, no PNG files, a label
    /// in a file name out of range, too few images to split).
    #[error("{problem} in {}", path.display())]
    BadPng { path: PathBuf, problem: String },
    /// The images of a PNG folder differ in size.
    #[error(
        "mixed image sizes: {} is {first_width}x{first_height} but {} is {width}x{height} \
         (width x height)",
        first.display(), path.display()
    )]
    MixedSizes {
        first: PathBuf,
        first_width: u32,
        first_height: u32,
        path: PathBuf,
        width: u32,
        height: u32,
    },
}

/// The most bytes a gzipped data file may decompress to (Fashion-MNIST's largest file is
/// 47 MB): a file that inflates beyond it is refused while it is read, not after.
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

/// The bytes themselves, or their decompressed content when they start with the gzip magic
/// bytes 0x1f 0x8b; `path` names the origin in errors.
fn gunzip_if_needed(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>, DataError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(DataError::BadIdx {
            path: path.to_path_buf(),
            problem: format!(
                "gzip data that decompresses to more than {} MiB",
                MAX_DECOMPRESSED >> 20
            ),
        });
    }
    Ok(out)
}
