//! Random draws on a `ChaCha8Rng`: chances per mille, weighted picks, instants on whole
//! seconds, base-36 ids, and the Pareto size of an account.
//!
//! Invariant: every draw is integer arithmetic on `u32`/`u64`/`i64` ranges (no floats, no
//! `usize` ranges), so a seed gives the same numbers on every platform.

use crate::calendar::{Ts, MICROS_PER_SECOND};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Random helpers on the master stream.
pub(super) trait Draw {
    fn chance(&mut self, per_mille: u32) -> bool;
    fn pick(&mut self, weights: &[u32]) -> usize;
    /// A random instant in `[lo, hi)` on whole seconds (`lo` when empty).
    fn instant(&mut self, lo: Ts, hi: Ts) -> Ts;
    fn base36(&mut self, n: usize) -> String;
    /// One of `xs`, uniformly (indices drawn as `u32`, so 32- and 64-bit targets agree).
    fn one_of<T: Copy>(&mut self, xs: &[T]) -> T;
}

impl Draw for ChaCha8Rng {
    fn chance(&mut self, per_mille: u32) -> bool {
        self.gen_range(0..1000u32) < per_mille
    }

    fn pick(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.gen_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn instant(&mut self, lo: Ts, hi: Ts) -> Ts {
        let secs = (hi - lo) / MICROS_PER_SECOND;
        if secs <= 0 {
            return lo;
        }
        lo + self.gen_range(0..secs) * MICROS_PER_SECOND
    }

    fn one_of<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.gen_range(0..xs.len() as u32) as usize]
    }

    fn base36(&mut self, n: usize) -> String {
        const A: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        (0..n)
            .map(|_| A[self.gen_range(0..A.len() as u32) as usize] as char)
            .collect()
    }
}

/// Number of instances of an account: Pareto with α = 1, `floor(1/U)`, 1 to 64.
pub(super) fn pareto_size(rng: &mut ChaCha8Rng) -> usize {
    let u = rng.gen::<u32>() as u64 + 1;
    ((1u64 << 32) / u).clamp(1, 64) as usize
}
