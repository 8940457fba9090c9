//! The seeded random numbers of the model stages (forest bagging, feature subsampling, bootstrap
//! resampling).
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
