//! A piano-roll file (the JSON of JSB Chorales): any text gives sequences or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = argen::data::sequences::piano_roll(&text, std::path::Path::new("fuzz.json"), "fuzz");
});
