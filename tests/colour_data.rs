//! Colour images: CIFAR-10 binary files, folders of PNG images and grey sources coloured by the
//! seeded rule (`colour:SOURCE`), read back value for value, and bad input that must give an
//! error naming the file and the problem, never a panic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use argen::data::{DataError, DataSource, ImageData, load, read_cifar10_batch};
use image::{GrayImage, ImageBuffer, Luma, RgbImage, Rgba, RgbaImage};

/// Bytes per CIFAR-10 record: 1 label byte and 3 x 32 x 32 pixel bytes.
const RECORD: usize = 3073;
/// Pixel bytes per CIFAR-10 image.
const PIXELS: usize = 3072;

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

/// The path as it appears in error messages.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// A CIFAR-10 record of image number `id`: label `id % 10`, pixel `j` = `(id * 7 + j) % 256`,
/// except that the top-left pixel is pure red.
fn record(id: usize) -> Vec<u8> {
    let mut bytes = vec![(id % 10) as u8];
    bytes.extend((0..PIXELS).map(|j| ((id * 7 + j) % 256) as u8));
    // Top-left pixel: red plane at 0, green at 1,024, blue at 2,048 (after the label byte).
    bytes[1] = 255;
    bytes[1 + 1024] = 0;
    bytes[1 + 2048] = 0;
    bytes
}

/// Writes the records of images `ids` to `dir/name` and returns the path.
fn write_cifar(dir: &Path, name: &str, ids: std::ops::Range<usize>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, ids.flat_map(record).collect::<Vec<u8>>()).unwrap();
    path
}

/// A CIFAR-10 folder: five data batches of 4 images (ids 0..20) and a test batch of 3
/// (ids 100..103).
fn cifar_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for b in 0..5 {
        let name = format!("data_batch_{}.bin", b + 1);
        write_cifar(dir.path(), &name, 4 * b..4 * b + 4);
    }
    write_cifar(dir.path(), "test_batch.bin", 100..103);
    dir
}

/// The pixels of a CIFAR-10 record, without the label.
fn cifar_pixels(id: usize) -> Vec<u8> {
    record(id)[1..].to_vec()
}

#[test]
fn cifar_round_trip_layout_and_split() {
    let dir = cifar_dir();
    let source: DataSource = format!("cifar10:{}", shown(dir.path())).parse().unwrap();
    let data = load(&source).unwrap();
    assert_eq!(data.name, source.to_string());
    assert_eq!((data.levels, data.num_classes), (256, 10));
    let sizes = (data.train.len(), data.valid.len(), data.test.len());
    assert_eq!(
        sizes,
        (18, 2, 3),
        "20 training images: the last 10% validate"
    );
    for set in [&data.train, &data.valid, &data.test] {
        assert_eq!((set.channels, set.height, set.width), (3, 32, 32));
        assert_eq!(set.pixels.len(), set.len() * PIXELS);
    }
    // Batches in order, then the last images held out for validation.
    for (i, id) in (0..18).enumerate() {
        assert_eq!(data.train.image(i), cifar_pixels(id));
        assert_eq!(data.train.labels[i], (id % 10) as u8);
    }
    assert_eq!(data.valid.image(1), cifar_pixels(19));
    assert_eq!(data.valid.labels, vec![8, 9]);
    assert_eq!(data.test.image(2), cifar_pixels(102));
    assert_eq!(data.test.labels, vec![0, 1, 2]);
    // The red top-left pixel reads as channel 0: [c][h][w] offsets 0, 1,024 and 2,048.
    let image = data.test.image(0);
    assert_eq!((image[0], image[1024], image[2048]), (255, 0, 0));
    // Pixel (row 1, column 2) of the green plane.
    assert_eq!(
        image[1024 + 32 + 2],
        ((100 * 7 + 1024 + 32 + 2) % 256) as u8
    );
}

#[test]
fn cifar_single_batch_and_minimum_size() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), "data_batch_2.bin", 0..2);
    write_cifar(dir.path(), "test_batch.bin", 0..1);
    let data = load(&DataSource::Cifar10(dir.path().into())).unwrap();
    assert_eq!(
        (data.train.len(), data.valid.len(), data.test.len()),
        (1, 1, 1)
    );
    let path = write_cifar(dir.path(), "data_batch_2.bin", 0..1);
    let result = load(&DataSource::Cifar10(dir.path().into()));
    assert_error(result, &shown(&path), "too few images (1");
}

#[test]
fn cifar_wrong_record_size() {
    let dir = cifar_dir();
    let path = dir.path().join("data_batch_3.bin");
    let mut bytes = record(0);
    bytes.push(0);
    std::fs::write(&path, &bytes).unwrap();
    let result = load(&DataSource::Cifar10(dir.path().into()));
    assert_error(result, &shown(&path), "wrong record size");
    assert_error(
        read_cifar10_batch(&path),
        "3074 bytes",
        "multiple of the 3073",
    );
}

#[test]
fn cifar_label_out_of_range() {
    let dir = cifar_dir();
    let mut bytes: Vec<u8> = (0..3).flat_map(record).collect();
    bytes[2 * RECORD] = 10;
    let path = dir.path().join("test_batch.bin");
    std::fs::write(&path, &bytes).unwrap();
    let result = load(&DataSource::Cifar10(dir.path().into()));
    assert_error(
        result,
        &shown(&path),
        "record 3: label 10 out of range 0..=9",
    );
}

#[test]
fn cifar_missing_test_batch_and_empty_file() {
    let dir = cifar_dir();
    let test = dir.path().join("test_batch.bin");
    std::fs::remove_file(&test).unwrap();
    let result = load(&DataSource::Cifar10(dir.path().into()));
    assert_error(result, &shown(&test), "missing file");
    std::fs::write(&test, []).unwrap();
    let result = load(&DataSource::Cifar10(dir.path().into()));
    assert_error(result, &shown(&test), "empty file");
}

#[test]
fn cifar_missing_data_batches_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path(), "test_batch.bin", 0..3);
    let result = load(&DataSource::Cifar10(dir.path().into()));
    let first = dir.path().join("data_batch_1.bin");
    assert_error(result, &shown(&first), "missing file");
    let result = load(&DataSource::Cifar10(dir.path().into()));
    assert_error(result, "data_batch_5.bin", "tried");
    let missing = dir.path().join("nowhere");
    let result = load(&DataSource::Cifar10(missing.clone()));
    assert_error(result, &shown(&missing), "not found");
}

/// A 3x2 RGB image for id `i`: pixel (row, col) = (i, 10 row + col, 100 + i), except that
/// pixel (0, 0) is pure red.
fn rgb_image(i: u8) -> RgbImage {
    let mut image = RgbImage::from_fn(3, 2, |col, row| {
        image::Rgb([i, (10 * row + col) as u8, 100 + i])
    });
    image.put_pixel(0, 0, image::Rgb([255, 0, 0]));
    image
}

/// The planar [c][h][w] pixels of [`rgb_image`].
fn rgb_planes(i: u8) -> Vec<u8> {
    let mut planes = vec![255, i, i, i, i, i];
    planes.extend([0, 1, 2, 10, 11, 12]);
    planes.extend([0, 100 + i, 100 + i, 100 + i, 100 + i, 100 + i]);
    planes
}

/// The images of all three parts by label (every label in the tests here is unique).
fn by_label(data: &ImageData) -> BTreeMap<u8, Vec<u8>> {
    let mut images = BTreeMap::new();
    for set in [&data.train, &data.valid, &data.test] {
        for i in 0..set.len() {
            let old = images.insert(set.labels[i], set.image(i).to_vec());
            assert!(old.is_none(), "label {} twice", set.labels[i]);
        }
    }
    images
}

/// The images of all three parts, sorted.
fn sorted_images(data: &ImageData) -> Vec<Vec<u8>> {
    let sets = [&data.train, &data.valid, &data.test];
    let mut images: Vec<Vec<u8>> = sets
        .iter()
        .flat_map(|s| (0..s.len()).map(|i| s.image(i).to_vec()))
        .collect();
    images.sort();
    images
}

#[test]
fn png_round_trip_layout_labels_and_split() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20u8 {
        rgb_image(i)
            .save(dir.path().join(format!("{i}_img.png")))
            .unwrap();
    }
    // Not PNG files, or not directly in the folder: ignored.
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    std::fs::create_dir(dir.path().join("sub.png")).unwrap();
    let source: DataSource = format!("png:{}", shown(dir.path())).parse().unwrap();
    let data = load(&source).unwrap();
    assert_eq!(data.name, source.to_string());
    assert_eq!((data.levels, data.num_classes), (256, 20));
    let sizes = (data.train.len(), data.valid.len(), data.test.len());
    assert_eq!(sizes, (16, 2, 2));
    for set in [&data.train, &data.valid, &data.test] {
        assert_eq!((set.channels, set.height, set.width), (3, 2, 3));
    }
    let images = by_label(&data);
    assert_eq!(images.len(), 20);
    for (&label, pixels) in &images {
        assert_eq!(pixels, &rgb_planes(label), "image {label}");
    }
    // The split is a fixed shuffle: the same on a second load, and not the file order.
    let again = load(&source).unwrap();
    assert_eq!(again.test.labels, data.test.labels);
    assert_ne!(data.train.labels, (0..16).collect::<Vec<u8>>());
}

#[test]
fn png_grey_sixteen_bit_and_alpha() {
    let dir = tempfile::tempdir().unwrap();
    // Grey only: 1 channel; 16-bit values scaled to 8 bits; no label in the name: label 0.
    let grey16: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_raw(2, 2, vec![0, 257 * 100, 65535, 257]).unwrap();
    grey16.save(dir.path().join("a.png")).unwrap();
    let grey = GrayImage::from_raw(2, 2, vec![1, 2, 3, 4]).unwrap();
    grey.save(dir.path().join("b.png")).unwrap();
    grey.save(dir.path().join("c.png")).unwrap();
    let data = load(&DataSource::PngFolder(dir.path().into())).unwrap();
    assert_eq!((data.num_classes, data.train.channels), (1, 1));
    let grey16: Vec<u8> = vec![0, 100, 255, 1];
    let grey: Vec<u8> = vec![1, 2, 3, 4];
    assert_eq!(
        sorted_images(&data),
        [grey16.clone(), grey.clone(), grey.clone()]
    );
    // A colour image with alpha: 3 channels, alpha dropped, grey ones repeated per channel.
    let rgba = RgbaImage::from_pixel(2, 2, Rgba([9, 8, 7, 0]));
    rgba.save(dir.path().join("2_d.png")).unwrap();
    let data = load(&DataSource::PngFolder(dir.path().into())).unwrap();
    assert_eq!((data.num_classes, data.train.channels), (3, 3));
    let rgba: Vec<u8> = vec![9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7];
    let (grey16, grey) = (grey16.repeat(3), grey.repeat(3));
    assert_eq!(
        sorted_images(&data),
        [grey16.clone(), grey.clone(), grey, rgba]
    );
}

#[test]
fn png_mixed_image_sizes() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png", "d.png"] {
        rgb_image(0).save(dir.path().join(name)).unwrap();
    }
    let odd = dir.path().join("c.png");
    RgbImage::new(4, 5).save(&odd).unwrap();
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, &shown(&odd), "mixed image sizes");
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, "is 3x2 but", "is 4x5");
}

#[test]
fn png_file_that_is_not_a_png() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.png", "b.png", "c.png"] {
        rgb_image(0).save(dir.path().join(name)).unwrap();
    }
    let bad = dir.path().join("x.png");
    std::fs::write(&bad, b"this is not an image").unwrap();
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, &shown(&bad), "not a valid PNG");
    // A truncated PNG is no better.
    let bytes = std::fs::read(dir.path().join("a.png")).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, &shown(&bad), "not a valid PNG");
}

#[test]
fn png_empty_missing_and_small_folders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("readme.txt"), "no images").unwrap();
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, &shown(dir.path()), "no PNG files");
    let missing = dir.path().join("nowhere");
    let result = load(&DataSource::PngFolder(missing.clone()));
    assert_error(result, &shown(&missing), "not found");
    for name in ["a.png", "b.png"] {
        rgb_image(0).save(dir.path().join(name)).unwrap();
    }
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, &shown(dir.path()), "too few images (2");
    let big_label = dir.path().join("300_c.png");
    rgb_image(0).save(&big_label).unwrap();
    let result = load(&DataSource::PngFolder(dir.path().into()));
    assert_error(result, &shown(&big_label), "label 300");
}

#[test]
fn colour_sources_parse_and_display() {
    for source in [
        DataSource::Cifar10("/a/b".into()),
        DataSource::PngFolder("c d/e".into()),
    ] {
        assert_eq!(source.to_string().parse::<DataSource>().unwrap(), source);
    }
    assert_eq!(
        "cifar10:/x".parse::<DataSource>().unwrap(),
        DataSource::Cifar10("/x".into())
    );
    for bad in ["png:", "cifar10:", "cifar:x"] {
        let message = bad.parse::<DataSource>().unwrap_err().to_string();
        for form in ["idx:DIR", "cifar10:DIR", "png:DIR"] {
            assert!(message.contains(form), "{message}");
        }
    }
}

#[test]
fn coloured_sources_parse_display_and_refuse_colour_inputs() {
    for source in [
        DataSource::Colour(Box::new(DataSource::Digits)),
        DataSource::Colour(Box::new(DataSource::FashionMnist)),
        DataSource::Colour(Box::new(DataSource::Idx("/a b/c".into()))),
        DataSource::Arrays("/runs/py/data".into()),
    ] {
        assert_eq!(source.to_string().parse::<DataSource>().unwrap(), source);
    }
    for bad in [
        "colour:colour:digits",
        "colour:cifar10:/x",
        "colour:arrays:/x",
    ] {
        let message = bad.parse::<DataSource>().unwrap_err().to_string();
        assert!(message.contains("grey source"), "{bad}: {message}");
    }
    let message = "colour:mnist"
        .parse::<DataSource>()
        .unwrap_err()
        .to_string();
    assert!(message.contains("'mnist'"), "{message}");
    assert_eq!(
        argen::data::absolute_source("colour:digits"),
        "colour:digits"
    );
}

#[test]
fn coloured_digits_keep_their_split_labels_and_grey_order() {
    let grey = load(&DataSource::Digits).unwrap();
    let colour = load(&"colour:digits".parse().unwrap()).unwrap();
    assert_eq!(colour.name, "colour:digits");
    assert_eq!(colour.levels, grey.levels);
    assert_eq!(colour.num_classes, grey.num_classes);
    for (g, c) in [
        (&grey.train, &colour.train),
        (&grey.valid, &colour.valid),
        (&grey.test, &colour.test),
    ] {
        assert_eq!((c.channels, c.height, c.width), (3, 8, 8));
        assert_eq!(
            (c.labels.clone(), c.index.clone()),
            (g.labels.clone(), g.index.clone())
        );
        for i in 0..g.len() {
            let (f, b) = argen::data::colour::image_colours(g.index[i]);
            let (grey_image, colour_image) = (g.image(i), c.image(i));
            for (p, &v) in grey_image.iter().enumerate() {
                for ch in 0..3 {
                    let level = |u: u8| f64::from(u) * 16.0 / 255.0;
                    let t = f64::from(v) / 16.0;
                    let want = level(b[ch]) + t * (level(f[ch]) - level(b[ch]));
                    assert_eq!(colour_image[ch * 64 + p], want.round() as u8);
                }
            }
        }
    }
}
