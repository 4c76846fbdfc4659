//! Sound: μ-law and linear quantisation, WAV reading in every sample format, resampling,
//! WAV writing, folders of WAV files as data, and a CLI run from WAV files to WAV samples.

use std::f64::consts::PI;
use std::path::Path;
use std::process::Command;

use argen::data::audio::{
    AUDIO_LEVELS, AudioSpec, Quantisation, decode_wav, encode_wav, load_wav_folder, read_wav,
    resample,
};

/// The companding curve of the μ-law, written out independently of the library.
fn mu_law_curve(x: f64) -> f64 {
    x.signum() * (1.0 + 255.0 * x.abs()).ln() / 256f64.ln()
}

#[test]
fn mu_law_matches_the_formula_on_known_values() {
    let q = Quantisation::MuLaw;
    assert_eq!(q.encode(-1.0, 256), 0);
    assert_eq!(q.encode(1.0, 256), 255);
    assert_eq!(q.encode(0.0, 256), 128); // (0 + 1) / 2 · 255 = 127.5 rounds up
    assert_eq!(q.encode(5.0, 256), 255, "clamped");
    for x in [-0.9, -0.3, -0.01, 0.001, 0.02, 0.25, 0.5, 0.77] {
        let expected = ((mu_law_curve(x) + 1.0) / 2.0 * 255.0).round() as u32;
        assert_eq!(q.encode(x as f32, 256), expected, "x = {x}");
    }
    // Quiet sounds get more levels than loud ones: 0..0.01 spans more levels than 0.9..1.
    let span = |a: f32, b: f32| q.encode(b, 256) - q.encode(a, 256);
    assert!(span(0.0, 0.01) > 5 * span(0.9, 1.0).max(1) / 2);
}

#[test]
fn quantisation_round_trips_within_half_a_step() {
    for i in 0..=2000 {
        let x = -1.0 + i as f64 / 1000.0;
        let mu = Quantisation::MuLaw;
        let back = f64::from(mu.decode(mu.encode(x as f32, 256), 256));
        // Half a step of the companded grid: 1 / 255.
        assert!(
            (mu_law_curve(back) - mu_law_curve(x)).abs() <= 1.0 / 255.0 + 1e-6,
            "mu-law x = {x}, back {back}"
        );
        let lin = Quantisation::Linear;
        let back = f64::from(lin.decode(lin.encode(x as f32, 256), 256));
        assert!(
            (back - x).abs() <= 1.0 / 255.0 + 1e-6,
            "linear x = {x}, back {back}"
        );
    }
    // Every level decodes into [−1, 1] and encodes back to itself.
    for l in 0..AUDIO_LEVELS as u32 {
        for q in [Quantisation::MuLaw, Quantisation::Linear] {
            let x = q.decode(l, 256);
            assert!((-1.0..=1.0).contains(&x));
            assert_eq!(q.encode(x, 256), l, "{q:?} level {l}");
        }
    }
}

/// A WAV file of `frames` frames of `channels` channels, channel c of frame t holding
/// `value(t, c)` in [−1, 1], in the given format.
fn wav_bytes(
    channels: u16,
    rate: u32,
    bits: u16,
    float: bool,
    frames: usize,
    value: impl Fn(usize, usize) -> f64,
) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    let full = 2f64.powi(i32::from(bits) - 1);
    for t in 0..frames {
        for c in 0..usize::from(channels) {
            let v = value(t, c);
            if float {
                w.write_sample(v as f32).unwrap();
            } else if bits == 8 {
                w.write_sample((v * full).round() as i8).unwrap();
            } else if bits == 16 {
                w.write_sample((v * full).round() as i16).unwrap();
            } else {
                w.write_sample((v * full).round() as i32).unwrap();
            }
        }
    }
    w.finalize().unwrap();
    out.into_inner()
}

#[test]
fn wav_files_of_every_format_give_the_expected_samples() {
    let value = |t: usize, _c: usize| ((t % 17) as f64 - 8.0) / 16.0;
    for (bits, float, tolerance) in [
        (8u16, false, 1.0 / 128.0),
        (16, false, 1.0 / 32768.0),
        (24, false, 1.0 / 8_388_608.0),
        (32, false, 1e-7),
        (32, true, 1e-7),
    ] {
        let sound = decode_wav(&wav_bytes(1, 11_025, bits, float, 100, value)).unwrap();
        assert_eq!(sound.sample_rate, 11_025);
        assert_eq!(sound.samples.len(), 100);
        for (t, &s) in sound.samples.iter().enumerate() {
            assert!(
                (f64::from(s) - value(t, 0)).abs() <= tolerance,
                "{bits}-bit float={float}, sample {t}: {s} against {}",
                value(t, 0)
            );
        }
    }
    // Stereo is mixed down to the mean of the channels.
    let stereo = |t: usize, c: usize| if c == 0 { 0.5 } else { -0.25 + t as f64 * 1e-3 };
    let sound = decode_wav(&wav_bytes(2, 8000, 16, false, 50, stereo)).unwrap();
    assert_eq!(sound.samples.len(), 50);
    for (t, &s) in sound.samples.iter().enumerate() {
        let mean = (stereo(t, 0) + stereo(t, 1)) / 2.0;
        assert!(
            (f64::from(s) - mean).abs() < 1e-4,
            "frame {t}: {s} against {mean}"
        );
    }
}

/// Upward zero crossings per second of `x` at `rate`: the frequency of a sine.
fn frequency(x: &[f32], rate: u32) -> f64 {
    let crossings = x.windows(2).filter(|w| w[0] < 0.0 && w[1] >= 0.0).count();
    crossings as f64 * f64::from(rate) / x.len() as f64
}

#[test]
fn resampling_keeps_the_length_in_seconds_and_the_pitch() {
    let sine: Vec<f32> = (0..22_050)
        .map(|t| (2.0 * PI * 440.0 * t as f64 / 22_050.0).sin() as f32 * 0.8)
        .collect();
    for to in [8_000u32, 16_000, 44_100] {
        let out = resample(&sine, 22_050, to).unwrap();
        assert!(
            (out.len() as i64 - i64::from(to)).abs() <= 2,
            "{to} Hz: {} samples for one second",
            out.len()
        );
        let f = frequency(&out, to);
        assert!((f - 440.0).abs() <= 2.0, "{to} Hz: the sine is at {f} Hz");
        let peak = out.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.8).abs() < 0.05, "{to} Hz: peak {peak}");
    }
    assert_eq!(resample(&sine, 22_050, 22_050).unwrap(), sine);
}

#[test]
fn written_wav_files_read_back_exactly() {
    let samples: Vec<f32> = (-300..300).map(|k| k as f32 * 100.0 / 32767.0).collect();
    let bytes = encode_wav(&samples, 16_000).unwrap();
    let sound = decode_wav(&bytes).unwrap();
    assert_eq!(sound.sample_rate, 16_000);
    let as_int = |v: f32| (f64::from(v) * 32767.0).round() as i32;
    let read: Vec<i32> = sound
        .samples
        .iter()
        .map(|&v| (f64::from(v) * 32768.0).round() as i32)
        .collect();
    let written: Vec<i32> = samples.iter().map(|&v| as_int(v)).collect();
    assert_eq!(read, written);
    // hound reads back the very integers.
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    let ints: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(
        ints.iter().map(|&v| i32::from(v)).collect::<Vec<_>>(),
        written
    );
}

#[test]
fn bad_audio_files_get_errors_that_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = wav_bytes(1, 8000, 16, false, 1000, |t, _| (t as f64 * 0.01).sin());
    let truncated = dir.path().join("cut.wav");
    std::fs::write(&truncated, &good[..good.len() / 2 + 1]).unwrap();
    let e = read_wav(&truncated).unwrap_err().to_string();
    assert!(e.contains("cut.wav") && e.contains("truncated"), "{e}");
    let text = dir.path().join("notes.wav");
    std::fs::write(&text, "this is not a wav file").unwrap();
    let e = read_wav(&text).unwrap_err().to_string();
    assert!(e.contains("notes.wav") && e.contains("not a WAV"), "{e}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = load_wav_folder("wav:empty", &empty, &AudioSpec::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty") && e.contains("no .wav file"), "{e}");
    let e = load_wav_folder(
        "wav:missing",
        &dir.path().join("missing"),
        &AudioSpec::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("missing") && e.contains("cannot read"), "{e}");
}

/// Writes `per_label` sine tones per label (labels "low" at 300 Hz and "high" at 900 Hz) at
/// 8 kHz, `seconds` long, into `dir`.
fn write_tones(dir: &Path, per_label: usize, seconds: f64) {
    for (label, hz) in [("low", 300.0), ("high", 900.0)] {
        for i in 0..per_label {
            let n = (8000.0 * seconds) as usize;
            let bytes = wav_bytes(1, 8000, 16, false, n, |t, _| {
                0.5 * (2.0 * PI * hz * t as f64 / 8000.0 + i as f64).sin()
            });
            std::fs::write(dir.join(format!("{label}_{i:02}.wav")), bytes).unwrap();
        }
    }
}

#[test]
fn a_folder_gives_labels_splits_and_windows() {
    let dir = tempfile::tempdir().unwrap();
    write_tones(dir.path(), 10, 0.25);
    let spec = AudioSpec {
        sample_rate: 8000,
        window: 512,
        quantisation: Quantisation::MuLaw,
    };
    let data = load_wav_folder("wav:tones", dir.path(), &spec).unwrap();
    let audio = data.audio.as_ref().unwrap();
    assert_eq!(audio.class_names, ["high", "low"]);
    assert_eq!(data.num_classes, 2);
    // The 9th and 10th file of each label are held out, whole (2,000 samples).
    assert_eq!(data.valid.len(), 2);
    assert_eq!(data.test.len(), 2);
    assert!(data.test.iter().all(|e| e.targets.len() == 2000));
    // 8 training files per label, ceil(2000 / 512) = 4 windows of 512 each.
    assert_eq!(data.train.len(), 2 * 8 * 4);
    assert!(data.train.iter().all(|e| e.targets.len() == 512));
    // A window is a stretch of its file's levels: its pitch is the file's.
    for e in &data.train {
        let x = audio.decode(&e.targets);
        let f = frequency(&x, 8000);
        let hz = if e.label == 0 { 900.0 } else { 300.0 };
        assert!((f - hz).abs() < 40.0, "label {}: {f} Hz", e.label);
    }
    // Resampled to 16 kHz the files have twice the samples.
    let data = load_wav_folder(
        "wav:tones",
        dir.path(),
        &AudioSpec {
            sample_rate: 16_000,
            ..spec
        },
    )
    .unwrap();
    assert!(
        data.test
            .iter()
            .all(|e| (e.targets.len() as i64 - 4000).abs() <= 2)
    );
}

#[test]
fn a_cli_run_trains_on_wav_files_and_writes_wav_samples() {
    let dir = tempfile::tempdir().unwrap();
    let wavs = dir.path().join("tones");
    std::fs::create_dir(&wavs).unwrap();
    write_tones(&wavs, 3, 0.1);
    let run = dir.path().join("run");
    let argen = env!("CARGO_BIN_EXE_argen");
    let status = Command::new(argen)
        .args(["train", "--model", "wavenet", "--data"])
        .arg(format!("wav:{}", wavs.display()))
        .args([
            "--sample-rate",
            "8000",
            "--audio-window",
            "256",
            "--hidden",
            "8",
        ])
        .args([
            "--depth",
            "3",
            "--epochs",
            "1",
            "--conditional",
            "--quiet",
            "--out",
        ])
        .arg(&run)
        .status()
        .unwrap();
    assert!(status.success());
    let config = std::fs::read_to_string(run.join("config.json")).unwrap();
    assert!(
        config.contains("\"sample_rate\": 8000") && config.contains("mu-law"),
        "{config}"
    );
    // Two "high" clips of 300 samples into `out`, by the cached path or the naive one.
    let sample_into = |out: &Path, extra: &[&str]| {
        let output = Command::new(argen)
            .arg("sample")
            .arg(&run)
            .args(["--n", "2", "--length", "300", "--class", "high"])
            .args(extra)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let out = dir.path().join("samples");
    sample_into(&out, &[]);
    // Their spectrograms, under a test clip's: three stacked 129-row pictures.
    let picture = image::open(out.join("spectrograms.png")).unwrap();
    assert_eq!(picture.height(), 3 * 129 + 2 * 3);
    for i in 0..2 {
        let sound = read_wav(&out.join(format!("sample_00{i}_high.wav"))).unwrap();
        assert_eq!(sound.sample_rate, 8000);
        assert_eq!(sound.samples.len(), 300);
    }
    // Cached generation draws the very samples of the naive path.
    let naive = dir.path().join("naive");
    sample_into(&naive, &["--naive"]);
    for i in 0..2 {
        let name = format!("sample_00{i}_high.wav");
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(naive.join(&name)).unwrap(),
            "{name}: cached and naive differ"
        );
    }
    // A continuation: every clip starts with the prefix's own levels, then the draws.
    let prefix = dir.path().join("prefix.wav");
    let bytes = wav_bytes(1, 8000, 16, false, 100, |t, _| {
        0.4 * (2.0 * PI * 900.0 * t as f64 / 8000.0).sin()
    });
    std::fs::write(&prefix, bytes).unwrap();
    let levels_of = |path: &Path| -> Vec<u32> {
        read_wav(path)
            .unwrap()
            .samples
            .iter()
            .map(|&x| Quantisation::MuLaw.encode(x, AUDIO_LEVELS))
            .collect()
    };
    let expected = levels_of(&prefix);
    let continued = dir.path().join("continued");
    sample_into(&continued, &["--prefix", prefix.to_str().unwrap()]);
    for i in 0..2 {
        let levels = levels_of(&continued.join(format!("sample_00{i}_high.wav")));
        assert_eq!(levels.len(), 300);
        assert_eq!(
            levels[..100],
            expected[..],
            "clip {i}: the prefix is not kept"
        );
    }
    // A length that does not go past the prefix, and a prefix that is no WAV file.
    let prefix = prefix.to_str().unwrap();
    for (bad, message) in [
        (
            ["--prefix", prefix, "--length", "100"],
            "does not go past the prefix",
        ),
        (["--prefix", "Cargo.toml", "--length", "300"], "Cargo.toml"),
    ] {
        let output = Command::new(argen)
            .arg("sample")
            .arg(&run)
            .args(bad)
            .arg("--out")
            .arg(dir.path().join("refused.wav"))
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{stderr}");
        assert!(!dir.path().join("refused.wav").exists());
    }
    // An unknown class and a sound option on other data are refused.
    let output = Command::new(argen)
        .arg("sample")
        .arg(&run)
        .args(["--class", "middle"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("high, low"));
    let output = Command::new(argen)
        .args([
            "train",
            "--model",
            "wavenet",
            "--data",
            "sine",
            "--sample-rate",
            "8000",
        ])
        .arg("--out")
        .arg(dir.path().join("refused"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("wav:DIR"));
    assert!(!dir.path().join("refused").exists());
}

/// The frequency (Hz, on a 10 Hz grid from 50 Hz to half the rate) where the magnitude of
/// the discrete Fourier transform of `x` (its mean removed) peaks.
fn peak_frequency(x: &[f32], rate: u32) -> f64 {
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / x.len() as f64;
    let magnitude = |f: f64| {
        let (mut re, mut im) = (0.0, 0.0);
        for (t, &v) in x.iter().enumerate() {
            let phase = 2.0 * PI * f * t as f64 / f64::from(rate);
            re += (f64::from(v) - mean) * phase.cos();
            im -= (f64::from(v) - mean) * phase.sin();
        }
        re.hypot(im)
    };
    (5..rate as usize / 20)
        .map(|k| k as f64 * 10.0)
        .max_by(|a, b| magnitude(*a).total_cmp(&magnitude(*b)))
        .unwrap()
}

#[test]
fn a_wavenet_that_overfits_a_tone_sings_it_back_at_its_frequency() {
    let dir = tempfile::tempdir().unwrap();
    let wavs = dir.path().join("tone");
    std::fs::create_dir(&wavs).unwrap();
    // Half a second of a 500 Hz tone (16 samples a period at 8 kHz), three phases.
    for k in 0..3 {
        let bytes = wav_bytes(1, 8000, 16, false, 4000, |t, _| {
            0.6 * (2.0 * PI * 500.0 * t as f64 / 8000.0 + k as f64).sin()
        });
        std::fs::write(wavs.join(format!("tone_{k}.wav")), bytes).unwrap();
    }
    let run = dir.path().join("run");
    let argen = env!("CARGO_BIN_EXE_argen");
    let status = Command::new(argen)
        .args(["train", "--model", "wavenet", "--data"])
        .arg(format!("wav:{}", wavs.display()))
        .args(["--sample-rate", "8000", "--audio-window", "64"])
        .args(["--batch-size", "8", "--hidden", "16", "--depth", "5"])
        .args(["--epochs", "80", "--lr", "3e-3", "--quiet", "--out"])
        .arg(&run)
        .status()
        .unwrap();
    assert!(status.success());
    let out = dir.path().join("samples");
    let status = Command::new(argen)
        .arg("sample")
        .arg(&run)
        .args(["--n", "3", "--length", "2000", "--last", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    for i in 0..3 {
        let sound = read_wav(&out.join(format!("sample_00{i}.wav"))).unwrap();
        // After the first 200 samples (the model finds its phase), the tone's frequency.
        let peak = peak_frequency(&sound.samples[200..], 8000);
        assert!(
            (peak - 500.0).abs() <= 20.0,
            "sample {i} peaks at {peak} Hz, not at the tone's 500 Hz"
        );
    }
}

#[test]
fn a_full_scale_sine_is_0_db_at_its_frequency_in_the_spectrogram() {
    use argen::viz::spectrogram::{FRAME, HOP, decibels};
    // Bin 32 of a 256-sample frame at 8 kHz is 1000 Hz.
    let samples: Vec<f32> = (0..4000)
        .map(|t| (2.0 * PI * 1000.0 * t as f64 / 8000.0).sin() as f32)
        .collect();
    let frames = decibels(&samples);
    assert_eq!(frames.len(), (4000 - FRAME) / HOP + 1);
    for frame in &frames {
        assert_eq!(frame.len(), FRAME / 2 + 1);
        assert!(frame[32].abs() < 0.01, "{} dB at 1000 Hz", frame[32]);
        // The Hann window leaks into the two neighbours only (−6 dB); beyond, nothing.
        assert!((frame[31] + 6.02).abs() < 0.05 && (frame[33] + 6.02).abs() < 0.05);
        for (k, &db) in frame.iter().enumerate() {
            if !(31..=33).contains(&k) {
                assert!(db < -60.0, "{db} dB at bin {k}");
            }
        }
    }
    // Silence is the floor; half the amplitude is 6 dB lower.
    assert!(decibels(&[0.0; 300])[0].iter().all(|&db| db < -200.0));
    let half: Vec<f32> = samples.iter().map(|x| x / 2.0).collect();
    assert!((decibels(&half)[0][32] + 6.02).abs() < 0.01);
}
