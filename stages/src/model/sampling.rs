//! The seeded random numbers of the model stages (forest bagging, feature subsampling, bootstrap
//! resampling) and the seeded hash of an id that orders customers (the split, the folds,
//! boosting's validation slice).
//!
//! The generator is the one SplitMix64 of [`crate::search`] (written out rather than taken from
//! a crate so that the stream for a seed can never change under a dependency upgrade: model
//! files and bootstrap intervals must stay byte-identical for the same seed). Every parallel task derives its own stream from
//! `(seed, task index)`, so results do not depend on how many threads run the tasks.

pub(crate) use crate::search::SplitMix64;

impl SplitMix64 {
    /// Resample counts: how often each of `n` rows is drawn in `n` draws with replacement.
    pub(crate) fn bootstrap_counts(&mut self, n: usize) -> Vec<u32> {
        let mut counts = vec![0u32; n];
        for _ in 0..n {
            counts[self.below(n)] += 1;
        }
        counts
    }
}

/// `u = blake3(seed ‖ id)` as a number in [0, 1).
pub(crate) fn hash_unit(seed: u64, id: &str) -> f64 {
    let mut h = blake3::Hasher::new();
    h.update(&seed.to_le_bytes());
    h.update(id.as_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}
