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
