//! Music as piano rolls: standard MIDI files read into 88-key rolls on a grid of steps, and
//! rolls written back as MIDI files, with [`midly`].
//!
//! A piano roll is `steps × 88` values, key k of step t sounding when the value is 1 (MIDI
//! note [`LOWEST_NOTE`] + k, A0..C8). A step lasts a fixed part of a beat (a quarter note):
//! `steps_per_beat` steps make one beat, [`DEFAULT_STEPS_PER_BEAT`] (eighth notes) unless
//! `--steps-per-beat` says otherwise.
//!
//! **Reading** (`--data midi:DIR`): every `*.mid` / `*.midi` file of the folder, sorted by
//! name. All tracks and channels are merged into one roll, except channel 10 (the General
//! MIDI drum channel, whose note numbers name drums, not pitches), which is skipped. The grid
//! is in beats, from the ticks per beat of the file's header, so tempo changes do not move
//! it (files with SMPTE time-code timing are refused). A note sounding over the ticks
//! [on, off) sounds at every step whose middle it covers; a note that covers no step's
//! middle (shorter than a step) sounds on the step where it starts. Notes outside 21..=108
//! are dropped and counted (a warning line names the count); a file with no note left is
//! skipped with a warning. A roll ends with its last sounding step (trailing rests are not
//! kept; leading ones are). A file is refused, by name, when it is not a MIDI file, when
//! it is truncated (a chunk shorter than its declared length, fewer tracks than the header
//! declares) or a track stops before its End of Track event (a corrupt event), and when it is
//! larger than [`MAX_FILE_BYTES`] or longer than [`MAX_FILE_STEPS`]; a folder, when it
//! gives more than [`MAX_TOTAL_STEPS`]. Files are split as the WAV folder's are: the 9th and 10th of
//! every ten are held out for validation and test, and a folder of fewer than 3 files is cut
//! in time into 10 pieces per file first; with fewer than 10 pieces in all the last two are
//! the validation and test parts.
//!
//! **Writing** (`argen sample` of a piano-roll run): one format-0 file per roll, channel 1,
//! velocity [`VELOCITY`], [`TICKS_PER_STEP`] ticks a step, a tempo event of `bpm` beats per
//! minute ([`DEFAULT_BPM`]). A key on over consecutive steps is one held note: note-on at the
//! tick of its first step, note-off at the tick after its last.

use std::path::{Path, PathBuf};

use midly::num::{u4, u7, u15, u24, u28};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};
use serde::{Deserialize, Serialize};

use super::sequences::{
    FolderPart, KEYS, LOWEST_NOTE, SeqExample, SequenceData, SequenceDataError,
    files_with_extension, folder_part, tenths,
};
use crate::distributions::OutputDistribution;

/// The default grid: two steps per beat (eighth notes in 4/4).
pub const DEFAULT_STEPS_PER_BEAT: u32 = 2;
/// The finest grid a run may ask for (steps per beat).
pub const MAX_STEPS_PER_BEAT: u32 = 96;
/// The default tempo of written MIDI files (beats per minute).
pub const DEFAULT_BPM: f64 = 120.0;
/// Ticks of a written step (a written file has `TICKS_PER_STEP · steps_per_beat` ticks per
/// beat).
pub const TICKS_PER_STEP: u16 = 240;
/// Velocity of every written note.
pub const VELOCITY: u8 = 80;
/// The General MIDI drum channel (channel 10, numbered 9 from zero), skipped when reading.
pub const DRUM_CHANNEL: u8 = 9;
/// The longest roll one file may give (steps; at 4 steps per beat and 120 bpm, about 3.5
/// hours).
pub const MAX_FILE_STEPS: usize = 100_000;
/// The most steps a folder may give in all (17.6 million cells of 88 keys, 70 MB as f32).
pub const MAX_TOTAL_STEPS: usize = 200_000;
/// The largest MIDI file read (bytes).
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// How a `midi:DIR` run reads its files; saved in the run's `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MidiSpec {
    /// Steps per beat (a quarter note) of the grid the notes are quantised to.
    pub steps_per_beat: u32,
}

impl Default for MidiSpec {
    fn default() -> Self {
        Self {
            steps_per_beat: DEFAULT_STEPS_PER_BEAT,
        }
    }
}

impl MidiSpec {
    /// Checks the grid is in range.
    pub fn validate(&self) -> Result<(), String> {
        check_steps_per_beat(self.steps_per_beat)
    }
}

/// Checks a number of steps per beat is in 1..=[`MAX_STEPS_PER_BEAT`].
pub fn check_steps_per_beat(steps_per_beat: u32) -> Result<(), String> {
    if (1..=MAX_STEPS_PER_BEAT).contains(&steps_per_beat) {
        Ok(())
    } else {
        Err(format!(
            "--steps-per-beat {steps_per_beat} is outside 1..={MAX_STEPS_PER_BEAT}"
        ))
    }
}

/// Checks a tempo in beats per minute is in 4..=1000 (a MIDI tempo event holds 3.6 bpm
/// at the slowest).
pub fn check_bpm(bpm: f64) -> Result<(), String> {
    if (4.0..=1000.0).contains(&bpm) {
        Ok(())
    } else {
        Err(format!("--bpm {bpm} is outside 4..=1000"))
    }
}

/// Everything that can go wrong while reading or writing MIDI files.
#[derive(Debug, thiserror::Error)]
pub enum MidiError {
    /// A file could not be read, is not a MIDI file, or is truncated or too long.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The folder is missing, holds no MIDI file, no note, or too many steps.
    #[error("{}: {message}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

fn file_error(path: &Path, message: impl Into<String>) -> MidiError {
    MidiError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn folder_error(path: &Path, message: impl Into<String>) -> MidiError {
    MidiError::Folder {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A MIDI file read as a piano roll, with the notes it could not place.
#[derive(Debug, Clone, PartialEq)]
pub struct MidiRoll {
    /// `steps × 88` values of 0 or 1, step after step.
    pub roll: Vec<f32>,
    /// Steps of the roll (up to the last sounding one).
    pub steps: usize,
    /// Notes placed on the roll.
    pub notes: usize,
    /// Notes dropped because their pitch is outside 21..=108.
    pub out_of_range: usize,
    /// Notes skipped on the drum channel.
    pub drums: usize,
}

/// Reads a MIDI file as a piano roll on a grid of `steps_per_beat` steps per beat (see the
/// module documentation).
pub fn read_midi(path: &Path, steps_per_beat: u32) -> Result<MidiRoll, MidiError> {
    let size = std::fs::metadata(path)
        .map_err(|e| file_error(path, format!("cannot read it ({e})")))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(file_error(
            path,
            format!("{size} bytes: more than the {MAX_FILE_BYTES} a MIDI file may have"),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| file_error(path, format!("cannot read it ({e})")))?;
    decode_midi(&bytes, steps_per_beat).map_err(|m| file_error(path, m))
}

/// [`read_midi`] of the bytes of a MIDI file; the error says what is wrong.
pub fn decode_midi(bytes: &[u8], steps_per_beat: u32) -> Result<MidiRoll, String> {
    check_steps_per_beat(steps_per_beat)?;
    check_chunks(bytes)?;
    let smf = Smf::parse(bytes).map_err(|e| format!("not a MIDI file midly can read ({e})"))?;
    let ticks_per_beat = match smf.header.timing {
        Timing::Metrical(t) => u64::from(t.as_int()),
        Timing::Timecode(fps, sub) => {
            return Err(format!(
                "SMPTE time-code timing ({} frames per second, {sub} ticks per frame): the \
                 reader places notes on a grid of beats and needs ticks per beat (re-export \
                 the file with metrical timing)",
                fps.as_f32()
            ));
        }
    };
    if ticks_per_beat == 0 {
        return Err("the header gives 0 ticks per beat".into());
    }
    let grid = Grid {
        ticks_per_beat,
        steps_per_beat: u64::from(steps_per_beat),
    };
    let mut held = Notes::default();
    for (k, track) in smf.tracks.iter().enumerate() {
        if !matches!(
            track.last().map(|e| e.kind),
            Some(TrackEventKind::Meta(MetaMessage::EndOfTrack))
        ) {
            return Err(format!(
                "track {k} does not end with an End of Track event: the file is truncated or \
                 corrupt"
            ));
        }
        held.read_track(track);
    }
    held.into_roll(&grid)
}

/// Checks the chunk structure of a standard MIDI file: every chunk's declared length fits
/// in the file and the header's track count is there (midly reads truncated files without
/// complaint). RIFF-wrapped files are left to midly.
fn check_chunks(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(b"MThd") {
        return Ok(());
    }
    let mut at = 0usize;
    let mut tracks = 0usize;
    let mut declared = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_be_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let body = at + 8;
        if len > bytes.len() - body {
            return Err(format!(
                "truncated: the {} chunk at byte {at} declares {len} bytes, the file holds {}",
                String::from_utf8_lossy(id),
                bytes.len() - body
            ));
        }
        if at == 0 && len >= 4 {
            declared = Some(usize::from(u16::from_be_bytes([
                bytes[body + 2],
                bytes[body + 3],
            ])));
        }
        if id == b"MTrk" {
            tracks += 1;
        }
        at = body + len;
    }
    match declared {
        Some(n) if tracks < n => Err(format!(
            "truncated: track chunks declared in the header {n}, in the file {tracks}"
        )),
        _ => Ok(()),
    }
}

/// The grid a file's ticks are placed on.
struct Grid {
    ticks_per_beat: u64,
    steps_per_beat: u64,
}

impl Grid {
    /// The steps a note over the ticks [on, off) sounds at: those whose middle,
    /// (2s + 1) · tpb / (2 · spb) ticks, lies in [on, off); else the step holding `on`.
    fn steps(&self, on: u64, off: u64) -> std::ops::Range<u64> {
        let (tpb, spb) = (
            u128::from(self.ticks_per_beat),
            u128::from(self.steps_per_beat),
        );
        let (on, off) = (u128::from(on), u128::from(off));
        let start = on * spb / tpb;
        // The first step whose middle is at or after `on`, and the first whose middle is at
        // or after `off`: (2s + 1) · tpb ≥ 2 · spb · tick.
        let first_at = |tick: u128| (2 * spb * tick).saturating_sub(tpb).div_ceil(2 * tpb);
        let (from, to) = (first_at(on), first_at(off));
        let (from, to) = if to > from {
            (from, to)
        } else {
            (start, start + 1)
        };
        let clamp = |s: u128| u64::try_from(s).unwrap_or(u64::MAX);
        clamp(from)..clamp(to)
    }
}

/// The notes of a file as they are read: the open ones by channel and key, the closed ones
/// as (key, on tick, off tick), and the counts of dropped notes.
struct Notes {
    /// Ticks of the note-ons not yet closed, per channel × 128 keys (first on, first off).
    open: Vec<std::collections::VecDeque<u64>>,
    closed: Vec<(u8, u64, u64)>,
    out_of_range: usize,
    drums: usize,
}

impl Default for Notes {
    fn default() -> Self {
        Self {
            open: vec![std::collections::VecDeque::new(); 16 * 128],
            closed: Vec::new(),
            out_of_range: 0,
            drums: 0,
        }
    }
}

impl Notes {
    /// Reads the notes of one track; notes still on at its end end there.
    fn read_track(&mut self, track: &[TrackEvent]) {
        let mut tick = 0u64;
        for event in track {
            tick += u64::from(event.delta.as_int());
            let TrackEventKind::Midi { channel, message } = event.kind else {
                continue;
            };
            let channel = channel.as_int();
            let (key, on) = match message {
                MidiMessage::NoteOn { key, vel } => (key.as_int(), vel.as_int() > 0),
                MidiMessage::NoteOff { key, .. } => (key.as_int(), false),
                _ => continue,
            };
            let slot = usize::from(channel) * 128 + usize::from(key);
            if on {
                if channel == DRUM_CHANNEL {
                    self.drums += 1;
                } else if !(LOWEST_NOTE..LOWEST_NOTE + KEYS as i64).contains(&i64::from(key)) {
                    self.out_of_range += 1;
                } else {
                    self.open[slot].push_back(tick);
                }
            } else if let Some(start) = self.open[slot].pop_front() {
                self.closed.push((key, start, tick));
            }
        }
        for (slot, starts) in self.open.iter_mut().enumerate() {
            for start in starts.drain(..) {
                self.closed.push(((slot % 128) as u8, start, tick));
            }
        }
    }

    /// The roll of the closed notes on `grid`.
    fn into_roll(self, grid: &Grid) -> Result<MidiRoll, String> {
        let placed: Vec<(usize, std::ops::Range<u64>)> = self
            .closed
            .iter()
            .map(|&(key, on, off)| ((i64::from(key) - LOWEST_NOTE) as usize, grid.steps(on, off)))
            .collect();
        let steps = placed.iter().map(|(_, s)| s.end).max().unwrap_or(0);
        if steps > MAX_FILE_STEPS as u64 {
            return Err(format!(
                "{steps} steps at {} steps per beat: more than the {MAX_FILE_STEPS} one file \
                 may give",
                grid.steps_per_beat
            ));
        }
        let steps = steps as usize;
        // How many notes start minus how many end at each step and key, summed over time
        // (notes × steps work would be too much for long notes by the thousand).
        let mut change = vec![0i32; (steps + 1) * KEYS];
        for (key, range) in &placed {
            change[range.start as usize * KEYS + key] += 1;
            change[range.end as usize * KEYS + key] -= 1;
        }
        let mut sounding = [0i32; KEYS];
        let mut roll = vec![0f32; steps * KEYS];
        for (s, cells) in roll.chunks_mut(KEYS).enumerate() {
            for (k, cell) in cells.iter_mut().enumerate() {
                sounding[k] += change[s * KEYS + k];
                *cell = f32::from(u8::from(sounding[k] > 0));
            }
        }
        Ok(MidiRoll {
            roll,
            steps,
            notes: placed.len(),
            out_of_range: self.out_of_range,
            drums: self.drums,
        })
    }
}

/// The bytes of a format-0 MIDI file of a piano roll (`steps × 88` values, a key sounding
/// where its value is above 0.5) on a grid of `steps_per_beat` steps per beat at `bpm` beats
/// per minute (see the module documentation).
pub fn encode_midi(roll: &[f32], steps_per_beat: u32, bpm: f64) -> Result<Vec<u8>, String> {
    check_steps_per_beat(steps_per_beat)?;
    if !roll.len().is_multiple_of(KEYS) {
        return Err(format!(
            "a piano roll of {} values is not a whole number of {KEYS}-key steps",
            roll.len()
        ));
    }
    check_bpm(bpm)?;
    let steps = roll.len() / KEYS;
    let ticks_per_step = u64::from(TICKS_PER_STEP);
    // Every delta time must fit in 28 bits.
    let longest = u64::from(u28::max_value().as_int()) / ticks_per_step;
    if steps as u64 > longest {
        return Err(format!(
            "{steps} steps: a written MIDI file holds at most {longest}"
        ));
    }
    let sounding = |s: usize, k: usize| s < steps && roll[s * KEYS + k] > 0.5;
    let micros_per_beat = (60e6 / bpm).round() as u32;
    let mut events = vec![TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::Tempo(u24::new(micros_per_beat))),
    }];
    let mut last_tick = 0u64;
    let mut push = |tick: u64, message: MidiMessage, events: &mut Vec<TrackEvent>| {
        events.push(TrackEvent {
            delta: u28::new((tick - last_tick) as u32),
            kind: TrackEventKind::Midi {
                channel: u4::new(0),
                message,
            },
        });
        last_tick = tick;
    };
    // At each step boundary the notes that end there go off before the ones that start.
    for s in 0..=steps {
        let tick = s as u64 * ticks_per_step;
        for k in 0..KEYS {
            let key = u7::new((LOWEST_NOTE as usize + k) as u8);
            if s > 0 && sounding(s - 1, k) && !sounding(s, k) {
                let message = MidiMessage::NoteOff {
                    key,
                    vel: u7::new(0),
                };
                push(tick, message, &mut events);
            }
        }
        for k in 0..KEYS {
            let key = u7::new((LOWEST_NOTE as usize + k) as u8);
            if sounding(s, k) && (s == 0 || !sounding(s - 1, k)) {
                let message = MidiMessage::NoteOn {
                    key,
                    vel: u7::new(VELOCITY),
                };
                push(tick, message, &mut events);
            }
        }
    }
    let end = steps as u64 * ticks_per_step;
    events.push(TrackEvent {
        delta: u28::new((end - last_tick) as u32),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let ticks_per_beat = TICKS_PER_STEP as u32 * steps_per_beat;
    let header = Header::new(
        Format::SingleTrack,
        Timing::Metrical(u15::new(ticks_per_beat as u16)),
    );
    let mut smf = Smf::new(header);
    smf.tracks.push(events);
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)
        .map_err(|e| format!("cannot encode the MIDI file ({e})"))?;
    Ok(bytes)
}

/// Writes a piano roll as a MIDI file ([`encode_midi`]), atomically (the old file or the
/// new one, never half of one).
pub fn write_midi(path: &Path, roll: &[f32], steps_per_beat: u32, bpm: f64) -> anyhow::Result<()> {
    let bytes = encode_midi(roll, steps_per_beat, bpm)
        .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
    crate::files::write_atomically(path, &bytes)
}

/// The MIDI files (`*.mid`, `*.midi`) of a folder, sorted by name.
pub fn midi_files(dir: &Path) -> Result<Vec<PathBuf>, MidiError> {
    files_with_extension(dir, &["mid", "midi"]).map_err(|m| folder_error(dir, m))
}

/// Loads `midi:DIR` with `spec` (see the module documentation): 88-key piano rolls, the
/// same form as `pianoroll:FILE`.
pub fn load_midi_folder(
    name: &str,
    dir: &Path,
    spec: &MidiSpec,
) -> Result<SequenceData, SequenceDataError> {
    spec.validate().map_err(SequenceDataError::BadParameter)?;
    let files = midi_files(dir)?;
    let (mut out_of_range, mut drums, mut silent) = (0usize, 0usize, 0usize);
    let mut rolls = Vec::with_capacity(files.len());
    let mut total = 0usize;
    for path in &files {
        let roll = read_midi(path, spec.steps_per_beat)?;
        out_of_range += roll.out_of_range;
        drums += roll.drums;
        if roll.steps == 0 {
            silent += 1;
            continue;
        }
        total += roll.steps;
        if total > MAX_TOTAL_STEPS {
            return Err(folder_error(
                dir,
                format!(
                    "more than {MAX_TOTAL_STEPS} steps at {} steps per beat: use fewer files \
                     or a coarser --steps-per-beat",
                    spec.steps_per_beat
                ),
            )
            .into());
        }
        rolls.push(roll.roll);
    }
    let dropped = format!(
        "notes dropped: {out_of_range} outside 21..=108 (A0..C8), {drums} on the drum channel 10"
    );
    if rolls.is_empty() {
        return Err(folder_error(
            dir,
            format!(
                "no note to learn from in its {} MIDI files ({dropped})",
                files.len()
            ),
        )
        .into());
    }
    if out_of_range + drums + silent > 0 {
        eprintln!(
            "warning: {}: {dropped}; files without a note, skipped: {silent} of {}",
            dir.display(),
            files.len()
        );
    }
    let (train, valid, test) = split_rolls(rolls);
    if train.is_empty() || valid.is_empty() || test.is_empty() {
        return Err(SequenceDataError::BadParameter(format!(
            "{name}: too little music for a training, validation and test part (at least 3 \
             files, or a file of at least 3 steps)"
        )));
    }
    let output = OutputDistribution::Bernoulli { dims: KEYS };
    Ok(SequenceData::of_examples(name, output, train, valid, test))
}

/// Splits the rolls of a folder's files (in name order) into training, validation and test
/// pieces (see the module documentation); each piece's index is its file's position.
fn split_rolls(rolls: Vec<Vec<f32>>) -> (Vec<SeqExample>, Vec<SeqExample>, Vec<SeqExample>) {
    let cut_in_time = rolls.len() < 3;
    let pieces: Vec<(usize, Vec<f32>)> = rolls
        .into_iter()
        .enumerate()
        .flat_map(|(i, roll)| {
            if !cut_in_time {
                return vec![(i, roll)];
            }
            tenths(&roll, KEYS).into_iter().map(|p| (i, p)).collect()
        })
        .collect();
    let count = pieces.len();
    let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (p, (index, targets)) in pieces.into_iter().enumerate() {
        let example = SeqExample::of_targets(targets, index);
        // One label: each piece is the p-th of its label.
        match folder_part(p, p, count) {
            FolderPart::Test => test.push(example),
            FolderPart::Valid => valid.push(example),
            FolderPart::Train => train.push(example),
        }
    }
    (train, valid, test)
}
