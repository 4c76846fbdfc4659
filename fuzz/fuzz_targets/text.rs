//! A text file (`text:FILE`), read as characters for a chain and as sequence data: any
//! bytes give symbols or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.txt");
    std::fs::write(&path, data).unwrap();
    let name = format!("text:{}", path.display());
    if let Ok(source) = name.parse::<argen::data::series::SeriesSource>() {
        let _ = argen::data::series::load_series(&source, Default::default());
    }
    let _ = argen::data::sequences::load_sequences(&name);
});
