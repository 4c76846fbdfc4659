//! Seeded randomness: every random choice argen makes comes from a generator built here,
//! so the same seed gives the same run.

use rand::SeedableRng;

/// The generator used for sampling and shuffling (ChaCha with 8 rounds: fast, portable,
/// the same stream on every machine).
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// A generator whose whole stream is fixed by `seed`.
pub fn seeded(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// The generator of item `index` (an image of a sample grid, say) of a run seeded with
/// `seed`: an independent ChaCha stream per item, so an item's draws do not depend on how
/// many other items are generated with it, or in which batch.
pub fn seeded_stream(seed: u64, index: u64) -> SeededRng {
    let mut rng = seeded(seed);
    rng.set_stream(index);
    rng
}

/// burn-flex keeps one random generator for the whole process; this lock makes "seed it,
/// then draw" one step, so that two threads (two tests, say) cannot interleave their draws.
static DEVICE_GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Seeds the generators of `devices` with `seed` and keeps every other caller of this module
/// from seeding or drawing through it until the guard is dropped: the training loop holds it
/// for an epoch, so that the epoch's dropout masks come from its own seed even when another
/// thread of the process (another test, another training) uses the same generator.
pub fn seed_devices(
    devices: &[burn::prelude::Device],
    seed: u64,
) -> std::sync::MutexGuard<'static, ()> {
    let guard = DEVICE_GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for device in devices {
        device.seed(seed);
    }
    guard
}

/// Runs `f` right after seeding the device's generator with `seed`, while no other caller
/// of this function can draw from it.
pub fn with_device_seed<T>(device: &burn::prelude::Device, seed: u64, f: impl FnOnce() -> T) -> T {
    let _guard = DEVICE_GENERATOR
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    f()
}
