//! CIFAR-10 binary batches: any bytes give images or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data_batch_1.bin");
    std::fs::write(&path, data).unwrap();
    if let Ok(set) = argen::data::read_cifar10_batch(&path) {
        assert_eq!(set.pixels.len(), set.len() * set.image_size());
    }
});
