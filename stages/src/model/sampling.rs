//! The seeded random numbers of the model stages (forest bagging, feature subsampling, bootstrap
//! resampling).
//!
//! SplitMix64 is written out here rather than taken from a crate so that the stream for a seed
//! can never change under a dependency upgrade: model files and bootstrap intervals must stay
//! byte-identical for the same seed. Every parallel task derives its own stream from
//! `(seed, task index)`, so results do not depend on how many threads run the tasks.

/// SplitMix64 (Steele, Lea, Flood 2014): 64-bit state, passes BigCrush, trivially seedable.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }

    /// An independent stream for task `index` of a run seeded with `seed`.
    pub(crate) fn for_task(seed: u64, index: u64) -> Self {
        let mut base = SplitMix64::new(seed ^ 0x5851_F42D_4C95_7F2D);
        let mixed = base.next_u64() ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        SplitMix64::new(SplitMix64::new(mixed).next_u64())
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n > 0`). The bias is below 2^-32 for the
    /// sizes used here.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32).wrapping_mul(n as u64) >> 32) as usize
    }

    /// Resample counts: how often each of `n` rows is drawn in `n` draws with replacement.
    pub(crate) fn bootstrap_counts(&mut self, n: usize) -> Vec<u32> {
        let mut counts = vec![0u32; n];
        for _ in 0..n {
            counts[self.below(n)] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values_never_change() {
        // First outputs of SplitMix64 seeded with 1234567 (reference implementation by Vigna).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = SplitMix64::new(7);
        for n in [1usize, 2, 3, 10, 1000] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
    }
}
