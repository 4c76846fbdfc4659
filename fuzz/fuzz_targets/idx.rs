//! IDX image and label files (plain or gzipped): any bytes give a data set or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file");
    std::fs::write(&path, data).unwrap();
    if let Ok((pixels, n, h, w)) = argen::data::read_idx_images(&path) {
        assert_eq!(pixels.len(), n * h * w);
    }
    let _ = argen::data::read_idx_labels(&path);
});
