//! A MIDI file (`midi:DIR`): any bytes give a piano roll or an error, on two grids.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for steps_per_beat in [1, 4] {
        if let Ok(read) = argen::data::midi::decode_midi(data, steps_per_beat) {
            assert_eq!(read.roll.len(), read.steps * argen::data::sequences::KEYS);
        }
    }
});
