//! Music: piano rolls written as MIDI files and read back with midly, folders of MIDI files
//! as data (quantisation, merged tracks, dropped notes, errors), and a CLI run from MIDI
//! files to MIDI samples.

mod common;

use std::path::Path;

use argen::data::midi::{
    MidiSpec, decode_midi, encode_midi, load_midi_folder, read_midi, write_midi,
};
use argen::data::sequences::{KEYS, LOWEST_NOTE, SeqExample};
use argen::distributions::OutputDistribution;
use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

/// A roll of `steps` steps with the notes (MIDI number, step) set.
fn roll_of(steps: usize, notes: &[(u8, usize)]) -> Vec<f32> {
    let mut roll = vec![0f32; steps * KEYS];
    for &(key, step) in notes {
        roll[step * KEYS + (i64::from(key) - LOWEST_NOTE) as usize] = 1.0;
    }
    roll
}

/// The notes of a parsed file, paired by this test (not the library): (key, on tick, off
/// tick, velocity, channel), sorted.
fn notes_of(smf: &Smf) -> Vec<(u8, u64, u64, u8, u8)> {
    let mut notes = Vec::new();
    for track in &smf.tracks {
        let mut tick = 0u64;
        let mut open: Vec<(u8, u8, u64, u8)> = Vec::new();
        for e in track {
            tick += u64::from(e.delta.as_int());
            if let TrackEventKind::Midi { channel, message } = e.kind {
                let ch = channel.as_int();
                match message {
                    MidiMessage::NoteOn { key, vel } if vel.as_int() > 0 => {
                        open.push((ch, key.as_int(), tick, vel.as_int()));
                    }
                    MidiMessage::NoteOn { key, .. } | MidiMessage::NoteOff { key, .. } => {
                        let i = open
                            .iter()
                            .position(|o| o.0 == ch && o.1 == key.as_int())
                            .expect("a note-off closes an open note");
                        let (ch, key, on, vel) = open.remove(i);
                        notes.push((key, on, tick, vel, ch));
                    }
                    _ => {}
                }
            }
        }
        assert!(open.is_empty(), "notes left open: {open:?}");
    }
    notes.sort();
    notes
}

#[test]
fn a_written_roll_reads_back_with_midly_as_held_notes() {
    // 60 held over steps 0..=2; 64 struck at 1 and again at 3; 21 and 108 (the range's ends)
    // on the last step.
    let roll = roll_of(
        6,
        &[
            (60, 0),
            (60, 1),
            (60, 2),
            (64, 1),
            (64, 3),
            (21, 5),
            (108, 5),
        ],
    );
    let bytes = encode_midi(&roll, 2, 90.0).unwrap();
    let smf = Smf::parse(&bytes).unwrap();
    assert_eq!(smf.header.format, Format::SingleTrack);
    // 240 ticks a step, 2 steps a beat.
    assert_eq!(smf.header.timing, Timing::Metrical(u15::new(480)));
    assert_eq!(smf.tracks.len(), 1);
    let track = &smf.tracks[0];
    assert!(
        track
            .iter()
            .any(|e| e.kind == TrackEventKind::Meta(MetaMessage::Tempo(u24::new(666_667))))
    );
    assert_eq!(
        track.last().unwrap().kind,
        TrackEventKind::Meta(MetaMessage::EndOfTrack)
    );
    let end: u64 = track.iter().map(|e| u64::from(e.delta.as_int())).sum();
    assert_eq!(end, 6 * 240, "the file lasts the roll's 6 steps");
    assert_eq!(
        notes_of(&smf),
        vec![
            (21, 1200, 1440, 80, 0),
            (60, 0, 720, 80, 0),
            (64, 240, 480, 80, 0),
            (64, 720, 960, 80, 0),
            (108, 1200, 1440, 80, 0),
        ]
    );
    // Another grid: 4 steps a beat is 960 ticks a beat, a step still 240 ticks.
    let smf_bytes = encode_midi(&roll, 4, 120.0).unwrap();
    let smf = Smf::parse(&smf_bytes).unwrap();
    assert_eq!(smf.header.timing, Timing::Metrical(u15::new(960)));
    assert_eq!(notes_of(&smf)[1], (60, 0, 720, 80, 0));
    // A ragged roll is refused.
    assert!(encode_midi(&roll[..100], 2, 120.0).is_err());
}

/// A seeded 0/1 roll of `steps` steps, sparse, its last step sounding (a roll read back ends
/// with its last sounding step); the first step silent when `rest_first`.
fn random_roll(seed: u64, steps: usize, rest_first: bool) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut roll = vec![0f32; steps * KEYS];
    for (i, v) in roll.iter_mut().enumerate() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if (state >> 33).is_multiple_of(11) && !(rest_first && i < KEYS) {
            *v = 1.0;
        }
    }
    roll[(steps - 1) * KEYS + 40] = 1.0;
    roll
}

#[test]
fn writing_then_loading_a_folder_gives_the_same_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let rolls: Vec<Vec<f32>> = (0..12)
        .map(|i| random_roll(i, 10 + i as usize, i == 0))
        .collect();
    for (i, roll) in rolls.iter().enumerate() {
        write_midi(
            &dir.path().join(format!("piece_{i:02}.mid")),
            roll,
            4,
            120.0,
        )
        .unwrap();
    }
    let data = load_midi_folder("midi:test", dir.path(), &MidiSpec { steps_per_beat: 4 }).unwrap();
    assert_eq!(data.output, OutputDistribution::Bernoulli { dims: KEYS });
    assert_eq!(data.num_classes, 1);
    // The 9th and 10th of every ten are held out; the 11th and 12th train.
    let indices = |set: &[SeqExample]| set.iter().map(|e| e.index).collect::<Vec<_>>();
    assert_eq!(indices(&data.train), [0, 1, 2, 3, 4, 5, 6, 7, 10, 11]);
    assert_eq!(indices(&data.valid), [8]);
    assert_eq!(indices(&data.test), [9]);
    for e in data.train.iter().chain(&data.valid).chain(&data.test) {
        assert_eq!(e.targets, rolls[e.index], "piece {}", e.index);
    }
    // The first piece's leading rest is kept.
    assert!(data.train[0].targets[..KEYS].iter().all(|&v| v == 0.0));
}

/// One track of notes (channel, key, on tick, off tick), a note-on of velocity 0 ending
/// those on channel 1, a tempo event of `tempo` µs per beat at `tempo_at`.
fn track_of(notes: &[(u8, u8, u32, u32)], tempo: u32, tempo_at: u32) -> Vec<TrackEvent<'static>> {
    let mut timed: Vec<(u32, u8, TrackEventKind<'static>)> = vec![(
        tempo_at,
        1,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(tempo))),
    )];
    for &(channel, key, on, off) in notes {
        let midi = |message| TrackEventKind::Midi {
            channel: u4::new(channel),
            message,
        };
        let (key, vel) = (u7::new(key), u7::new(100));
        timed.push((on, 2, midi(MidiMessage::NoteOn { key, vel })));
        let off_event = if channel == 1 {
            MidiMessage::NoteOn {
                key,
                vel: u7::new(0),
            }
        } else {
            MidiMessage::NoteOff { key, vel }
        };
        timed.push((off, 0, midi(off_event)));
    }
    timed.sort_by_key(|&(t, order, _)| (t, order));
    let mut last = 0;
    let mut track: Vec<TrackEvent> = timed
        .into_iter()
        .map(|(t, _, kind)| {
            let delta = u28::new(t - last);
            last = t;
            TrackEvent { delta, kind }
        })
        .collect();
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    track
}

/// The bytes of a file of `tracks` at `ticks_per_beat` (format 1).
fn file_of(ticks_per_beat: u16, tracks: Vec<Vec<TrackEvent<'static>>>) -> Vec<u8> {
    let mut smf = Smf::new(Header::new(
        Format::Parallel,
        Timing::Metrical(u15::new(ticks_per_beat)),
    ));
    smf.tracks = tracks;
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).unwrap();
    bytes
}

/// The sounding MIDI notes of each step of a roll.
fn steps_of(roll: &[f32]) -> Vec<Vec<i64>> {
    roll.chunks(KEYS)
        .map(|step| {
            (0..KEYS)
                .filter(|&k| step[k] == 1.0)
                .map(|k| k as i64 + LOWEST_NOTE)
                .collect()
        })
        .collect()
}

/// A hand-made file at 96 ticks per beat: notes on and off the grid over two tracks, two
/// notes outside 21..=108 and a drum, a tempo change halfway.
fn hand_made() -> Vec<u8> {
    let first = track_of(
        &[
            (0, 60, 0, 96),  // on the grid
            (0, 64, 50, 70), // shorter than a step, covers no step's middle
            (0, 67, 20, 100),
            (0, 10, 0, 48),   // below A0
            (0, 120, 48, 96), // above C8
        ],
        500_000,
        60,
    );
    let second = track_of(
        &[
            (1, 72, 30, 140),
            (1, 48, 144, 192),
            (9, 36, 0, 48), // the drum channel
        ],
        300_000,
        0,
    );
    file_of(96, vec![first, second])
}

#[test]
fn hand_made_files_are_quantised_to_the_grid_with_tracks_merged() {
    let bytes = hand_made();
    // 2 steps a beat: 48 ticks a step, middles at 24, 72, 120, 168.
    let read = decode_midi(&bytes, 2).unwrap();
    assert_eq!(
        steps_of(&read.roll),
        vec![vec![60, 67], vec![60, 64, 67, 72], vec![72], vec![48]]
    );
    assert_eq!(read.steps, 4);
    assert_eq!(read.notes, 5);
    assert_eq!(read.out_of_range, 2, "10 and 120 are reported");
    assert_eq!(read.drums, 1);
    // 1 step a beat: middles at 48 and 144.
    let read = decode_midi(&bytes, 1).unwrap();
    assert_eq!(steps_of(&read.roll), vec![vec![60, 64, 67, 72], vec![48]]);
    // The tempo events do not move the grid: the same notes under other tempi read the same.
    let a = file_of(96, vec![track_of(&[(0, 60, 0, 96)], 500_000, 0)]);
    let b = file_of(96, vec![track_of(&[(0, 60, 0, 96)], 250_000, 48)]);
    assert_eq!(decode_midi(&a, 2).unwrap(), decode_midi(&b, 2).unwrap());
}

#[test]
fn a_folder_of_only_dropped_notes_is_an_error_that_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let only_low = file_of(
        96,
        vec![track_of(&[(0, 10, 0, 48), (0, 12, 0, 48)], 500_000, 0)],
    );
    std::fs::write(dir.path().join("low.mid"), only_low).unwrap();
    let e = load_midi_folder("midi:low", dir.path(), &MidiSpec::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no note") && e.contains("2 outside 21..=108"),
        "{e}"
    );
}

#[test]
fn bad_files_and_folders_are_clear_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = hand_made();
    let spec = MidiSpec::default();
    let expect = |path: &Path, phrase: &str| {
        let e = read_midi(path, 2).unwrap_err().to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains(phrase),
            "{e}"
        );
    };
    // Cut inside the last track, and after the first track of two.
    let cut = dir.path().join("cut.mid");
    std::fs::write(&cut, &good[..good.len() - 5]).unwrap();
    expect(&cut, "truncated");
    let first_track_end = 14 + 8 + u32::from_be_bytes(good[18..22].try_into().unwrap()) as usize;
    std::fs::write(&cut, &good[..first_track_end]).unwrap();
    expect(&cut, "truncated");
    // Not a MIDI file at all.
    let text = dir.path().join("notes.mid");
    std::fs::write(&text, "C E G, not MIDI").unwrap();
    expect(&text, "not a MIDI file");
    // SMPTE time code has no beats.
    let smpte = dir.path().join("smpte.mid");
    let mut smf = Smf::new(Header::new(
        Format::SingleTrack,
        Timing::Timecode(midly::Fps::Fps25, 40),
    ));
    smf.tracks = vec![track_of(&[(0, 60, 0, 40)], 500_000, 0)];
    smf.save(&smpte).unwrap();
    expect(&smpte, "SMPTE");
    // A folder with a bad file names the file.
    let e = load_midi_folder("midi:dir", dir.path(), &spec)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.mid") && e.contains("truncated"), "{e}");
    // An empty folder, and a missing one.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::write(empty.join("readme.txt"), "no music").unwrap();
    let e = load_midi_folder("midi:empty", &empty, &spec)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("empty") && e.contains("no .mid or .midi file"),
        "{e}"
    );
    let e = load_midi_folder("midi:missing", &dir.path().join("missing"), &spec)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing") && e.contains("cannot read"), "{e}");
    // A grid out of range.
    assert!(decode_midi(&good, 0).is_err());
    assert!(
        load_midi_folder(
            "midi:dir",
            dir.path(),
            &MidiSpec {
                steps_per_beat: 1000
            }
        )
        .is_err()
    );
}

/// A scale of `steps` steps at 96 ticks per beat, one key a beat (4 steps of 24 ticks at
/// 4 steps per beat), starting at `base`, plus the note 127 (above C8).
fn scale_file(base: u8, steps: u32) -> Vec<u8> {
    let mut notes: Vec<(u8, u8, u32, u32)> = (0..steps / 4)
        .map(|i| (0, base + (i % 12) as u8, i * 96, (i + 1) * 96))
        .collect();
    notes.push((0, 127, 0, 24));
    file_of(96, vec![track_of(&notes, 500_000, 0)])
}

#[test]
fn a_cli_run_trains_on_midi_files_and_writes_midi_samples() {
    use common::{argen_in, argen_ok, assert_clean_failure, stderr};
    let dir = tempfile::tempdir().unwrap();
    let songs = dir.path().join("songs");
    std::fs::create_dir(&songs).unwrap();
    for i in 0..4u8 {
        std::fs::write(songs.join(format!("song_{i}.mid")), scale_file(48 + i, 24)).unwrap();
    }
    let cwd = dir.path();
    let data = format!("midi:{}", songs.display());
    let out = argen_ok(
        &[
            "train",
            "--model",
            "lstm",
            "--data",
            &data,
            "--steps-per-beat",
            "4",
            "--hidden",
            "8",
            "--epochs",
            "1",
            "--quiet",
            "--out",
            "run",
        ],
        cwd,
    );
    assert!(
        stderr(&out).contains("4 outside 21..=108"),
        "the dropped notes are reported: {}",
        stderr(&out)
    );
    let config = std::fs::read_to_string(cwd.join("run/config.json")).unwrap();
    assert!(config.contains("\"steps_per_beat\": 4"), "{config}");
    // The run reopens its data with its grid, to evaluate and to train on.
    argen_ok(&["eval", "run"], cwd);
    argen_ok(
        &["train", "--resume", "run", "--epochs", "2", "--quiet"],
        cwd,
    );
    assert!(cwd.join("run/epoch-00002").exists());
    // Samples: the PNG and one MIDI file per roll, on the run's grid.
    argen_ok(&["sample", "run", "--n", "2", "--length", "12"], cwd);
    assert!(cwd.join("run/samples.png").exists());
    for i in 0..2 {
        let bytes = std::fs::read(cwd.join(format!("run/samples/sample_00{i}.mid"))).unwrap();
        let smf = Smf::parse(&bytes).unwrap();
        assert_eq!(smf.header.timing, Timing::Metrical(u15::new(960)));
        let end: u64 = smf.tracks[0]
            .iter()
            .map(|e| u64::from(e.delta.as_int()))
            .sum();
        assert_eq!(end, 12 * 240, "12 steps of 240 ticks");
        notes_of(&smf);
    }
    // Beside --out, on another grid and tempo.
    argen_ok(
        &[
            "sample",
            "run",
            "--n",
            "1",
            "--length",
            "8",
            "--out",
            "roll.png",
            "--steps-per-beat",
            "1",
            "--bpm",
            "60",
        ],
        cwd,
    );
    let smf_bytes = std::fs::read(cwd.join("roll_000.mid")).unwrap();
    let smf = Smf::parse(&smf_bytes).unwrap();
    assert_eq!(smf.header.timing, Timing::Metrical(u15::new(240)));
    assert!(
        smf.tracks[0]
            .iter()
            .any(|e| e.kind == TrackEventKind::Meta(MetaMessage::Tempo(u24::new(1_000_000))))
    );
    // A tempo a MIDI file cannot hold is refused before drawing.
    let out = argen_in(&["sample", "run", "--bpm", "0"], cwd);
    assert_clean_failure(&out, "--bpm 0 is outside");
    // The grid applies to MIDI data only.
    let out = argen_in(
        &[
            "train",
            "--model",
            "lstm",
            "--data",
            "sine",
            "--steps-per-beat",
            "2",
            "--out",
            "no",
        ],
        cwd,
    );
    assert_clean_failure(&out, "midi:DIR");
    assert!(!cwd.join("no").exists());
}
