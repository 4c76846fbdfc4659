//! A run folder: the input is cut into config.json, state.json, CHECKPOINT and classic.json
//! (at 0xFF 0x00 markers); opening the folder and reading its state give a run or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let names = ["config.json", "state.json", "CHECKPOINT", "classic.json"];
    let mut rest = data;
    for name in names {
        let (part, next) = match rest.windows(2).position(|w| w == [0xFF, 0x00]) {
            Some(i) => (&rest[..i], &rest[i + 2..]),
            None => (rest, &[][..]),
        };
        if !part.is_empty() {
            let path = if name == "state.json" {
                std::fs::create_dir_all(dir.path().join("epoch-00001")).unwrap();
                dir.path().join("epoch-00001").join(name)
            } else {
                dir.path().join(name)
            };
            std::fs::write(path, part).unwrap();
        }
        rest = next;
    }
    let folder = argen::train::RunFolder(dir.path().to_path_buf());
    let _ = folder.read_state();
    let _ = folder.checkpoint();
    if let Ok(run) = argen::run::Run::open(dir.path()) {
        let _ = run.kind();
    }
});
