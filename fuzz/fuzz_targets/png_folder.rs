//! A folder of PNG images: the input is cut into up to four files (at 0xFF 0x00 0xFF 0x00
//! markers) and read as a PNG folder; any bytes give a data set or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let marker = [0xFFu8, 0x00, 0xFF, 0x00];
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while parts.len() < 3 {
        match rest.windows(4).position(|w| w == marker) {
            Some(i) => {
                parts.push(&rest[..i]);
                rest = &rest[i + 4..];
            }
            None => break,
        }
    }
    parts.push(rest);
    for (i, part) in parts.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}_x.png")), part).unwrap();
    }
    if let Ok(d) = argen::data::load_png_dir(dir.path(), "fuzz") {
        assert!(!d.train.is_empty());
    }
});
