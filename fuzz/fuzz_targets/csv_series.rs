//! A CSV series (`csv:FILE:value`): any bytes give a series or an error.
#![no_main]

use argen::data::series::{LoadOptions, SeriesSource, load_series};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("series.csv");
    std::fs::write(&path, data).unwrap();
    for skip_missing in [false, true] {
        let source = SeriesSource::Csv {
            path: path.clone(),
            column: "value".into(),
        };
        let _ = load_series(
            &source,
            LoadOptions {
                skip_missing,
                seed: 0,
            },
        );
    }
});
