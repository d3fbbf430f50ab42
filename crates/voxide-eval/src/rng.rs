//! A small deterministic random number generator for the bootstraps.
//!
//! SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", OOPSLA
//! 2014; the generator Java's `SplittableRandom` uses): 64 bits of state, passes BigCrush, and
//! its output function is also a good hash for deriving one independent stream per bootstrap
//! replicate from `(seed, replicate)`. That derivation is what makes the bootstraps
//! reproducible under rayon: a replicate's draws depend on its index, never on which thread
//! runs it or in what order. Written here rather than taken from `rand` so that results stay
//! the same across `rand` releases (which do not promise stable streams).

/// The SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a bijective 64-bit mixer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl SplitMix64 {
    /// The stream of replicate `index` of a bootstrap seeded with `seed`.
    pub(crate) fn for_replicate(seed: u64, index: u64) -> Self {
        Self {
            state: mix(seed ^ mix(index.wrapping_add(1).wrapping_mul(GOLDEN))),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// A uniform integer in `0..n` (n > 0), without modulo bias (Lemire's multiply-and-reject).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as usize;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_stream_and_uniformity() {
        // SplitMix64 seeded with state 0 (the reference implementation's first outputs).
        let mut g = SplitMix64 { state: 0 };
        assert_eq!(g.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(g.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut g = SplitMix64::for_replicate(7, 3);
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[g.below(7)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }
}
