//! Spectrograms: how the energy of a sound spreads over frequency and time, the picture in
//! which generated and real sound are compared at a glance.
//!
//! The short-time Fourier transform cuts the samples into frames of [`FRAME`] samples, [`HOP`]
//! apart, each weighted by a Hann window w, and takes the magnitude of each frame's discrete
//! Fourier transform, |X_f(k)| = |Σ_n w(n) x(fH + n) e^{−2πikn/N}| for the frequencies
//! k·rate/N, k = 0..N/2. The picture shows 20·log10 of it (decibels relative to a full-scale
//! sine) on a colour ramp from [`FLOOR_DB`] (black) to 0 dB (white): time to the right, low
//! frequencies at the bottom, one pixel per frame and per frequency.

use image::{Rgb, RgbImage};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Samples per frame (N): 129 frequencies from 0 to half the rate.
pub const FRAME: usize = 256;
/// Samples between the starts of two frames (H).
pub const HOP: usize = 64;
/// The level shown black, in decibels below a full-scale sine.
pub const FLOOR_DB: f32 = -90.0;

/// Pictures of fewer frames than this are widened (each frame several pixels wide).
pub const MIN_WIDTH: u32 = 400;

/// Rows of grey between two spectrograms of a stack.
const GAP: u32 = 3;

/// The magnitudes in decibels, frame by frame: `frames` rows of N/2 + 1 values (one frame of
/// zeros for a clip shorter than a frame). A full-scale sine at a bin's frequency is 0 dB.
pub fn decibels(samples: &[f32]) -> Vec<Vec<f32>> {
    let window: Vec<f32> = (0..FRAME)
        .map(|n| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / FRAME as f32).cos())
        .collect();
    // A full-scale sine gives |X| = Σ w / 2 at its bin.
    let reference = window.iter().sum::<f32>() / 2.0;
    let fft = FftPlanner::<f32>::new().plan_fft_forward(FRAME);
    let frames = if samples.len() < FRAME {
        1
    } else {
        (samples.len() - FRAME) / HOP + 1
    };
    let mut buffer = vec![Complex::new(0.0, 0.0); FRAME];
    (0..frames)
        .map(|f| {
            for (n, b) in buffer.iter_mut().enumerate() {
                let x = samples.get(f * HOP + n).copied().unwrap_or(0.0);
                *b = Complex::new(x * window[n], 0.0);
            }
            fft.process(&mut buffer);
            buffer[..=FRAME / 2]
                .iter()
                .map(|c| 20.0 * (c.norm() / reference).max(1e-12).log10())
                .collect()
        })
        .collect()
}

/// The colour of a level in decibels: black at [`FLOOR_DB`], through purple, red and yellow,
/// to white at 0 dB and above.
fn colour(db: f32) -> Rgb<u8> {
    const RAMP: [[f32; 3]; 5] = [
        [0.0, 0.0, 0.0],
        [80.0, 20.0, 120.0],
        [200.0, 40.0, 60.0],
        [250.0, 190.0, 40.0],
        [255.0, 255.0, 255.0],
    ];
    let x = ((db - FLOOR_DB) / -FLOOR_DB).clamp(0.0, 1.0) * (RAMP.len() - 1) as f32;
    let i = (x.floor() as usize).min(RAMP.len() - 2);
    let a = x - i as f32;
    let mix = |c: usize| (RAMP[i][c] * (1.0 - a) + RAMP[i + 1][c] * a).round() as u8;
    Rgb([mix(0), mix(1), mix(2)])
}

/// The spectrograms of `clips` stacked top to bottom, a few grey rows between two, each
/// [`decibels`] drawn one pixel per frequency (height, low at the bottom) and, over time,
/// as many pixels per frame as make the picture about [`MIN_WIDTH`] wide (one for long
/// clips); shorter clips leave grey to their right.
pub fn spectrograms(clips: &[Vec<f32>]) -> RgbImage {
    let grids: Vec<Vec<Vec<f32>>> = clips.iter().map(|c| decibels(c)).collect();
    let frames = grids.iter().map(Vec::len).max().unwrap_or(1) as u32;
    let scale = (MIN_WIDTH / frames).max(1);
    let rows = (FRAME / 2 + 1) as u32;
    let height = (grids.len() as u32 * (rows + GAP))
        .saturating_sub(GAP)
        .max(1);
    let mut image = RgbImage::from_pixel(frames * scale, height, Rgb([128, 128, 128]));
    for (i, grid) in grids.iter().enumerate() {
        let top = i as u32 * (rows + GAP);
        for (x, frame) in grid.iter().enumerate() {
            for (k, &db) in frame.iter().enumerate() {
                for dx in 0..scale {
                    let y = top + rows - 1 - k as u32;
                    image.put_pixel(x as u32 * scale + dx, y, colour(db));
                }
            }
        }
    }
    image
}
