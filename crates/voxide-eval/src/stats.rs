//! Order statistics and sums as the reference tools compute them.
//!
//! Percentiles sit on a discontinuity whenever the requested rank falls between two distances,
//! so reproducing a tool means reproducing its arithmetic: NumPy's `percentile` (linear method)
//! for MedPy and MetricsReloaded, and surface-distance's area-weighted `searchsorted` over a
//! cumulative sum normalised by NumPy's pairwise `sum`.

/// NumPy's `np.percentile(values, p)` with the default linear method, on sorted values.
/// NaN for no values.
pub(crate) fn percentile_linear(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let q = p / 100.0;
    // NumPy's `_compute_virtual_index`, term for term:
    // `n·q + (α + q·(1 − α − β)) − 1` with α = β = 1.
    let (alpha, beta) = (1.0, 1.0);
    let virtual_index = n as f64 * q + (alpha + q * (1.0 - alpha - beta)) - 1.0;
    if virtual_index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    if virtual_index < 0.0 {
        return sorted[0];
    }
    let previous = virtual_index.floor();
    let gamma = virtual_index - previous;
    let a = sorted[previous as usize];
    let b = sorted[previous as usize + 1];
    // NumPy's `_lerp`: from the nearer end, for symmetry of rounding.
    let diff = b - a;
    if gamma >= 0.5 {
        b - diff * (1.0 - gamma)
    } else {
        a + diff * gamma
    }
}

/// NumPy's pairwise summation of float64 (`np.sum` on a contiguous array): blocks of up to 128
/// summed with eight accumulators, larger arrays split in halves rounded to multiples of 8.
pub(crate) fn numpy_sum(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 8 {
        let mut r = 0.0;
        for &v in values {
            r += v;
        }
        r
    } else if n <= 128 {
        let mut r = [0.0; 8];
        r.copy_from_slice(&values[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += values[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += values[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_sum(&values[..n2]) + numpy_sum(&values[n2..])
    }
}

/// Distances with the surface area (length in 2D) each stands for, sorted as surface-distance
/// sorts them: by distance, then by area.
#[derive(Debug, Default, Clone)]
pub(crate) struct WeightedDistances {
    pub distances: Vec<f64>,
    pub areas: Vec<f64>,
}

impl WeightedDistances {
    pub(crate) fn sorted(mut pairs: Vec<(f64, f64)>) -> Self {
        pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let (distances, areas) = pairs.into_iter().unzip();
        Self { distances, areas }
    }

    /// surface-distance's `compute_robust_hausdorff` for one direction: the distance at which the
    /// cumulative area fraction first reaches `p` percent; +∞ without surface elements.
    pub(crate) fn robust_percentile(&self, p: f64) -> f64 {
        let n = self.distances.len();
        if n == 0 {
            return f64::INFINITY;
        }
        let total = numpy_sum(&self.areas);
        let target = p / 100.0;
        let mut cum = 0.0;
        let mut idx = n;
        for (i, a) in self.areas.iter().enumerate() {
            cum += a;
            if cum / total >= target {
                idx = i;
                break;
            }
        }
        self.distances[idx.min(n - 1)]
    }

    /// surface-distance's area-weighted mean distance: NaN without surface elements.
    pub(crate) fn weighted_mean(&self) -> f64 {
        let products: Vec<f64> = self
            .distances
            .iter()
            .zip(&self.areas)
            .map(|(d, a)| d * a)
            .collect();
        numpy_sum(&products) / numpy_sum(&self.areas)
    }

    /// Area of the surface elements within `tolerance` mm (surface-distance's `<=`).
    pub(crate) fn area_within(&self, tolerance: f64) -> f64 {
        let within: Vec<f64> = self
            .distances
            .iter()
            .zip(&self.areas)
            .filter(|(d, _)| **d <= tolerance)
            .map(|(_, a)| *a)
            .collect();
        numpy_sum(&within)
    }

    pub(crate) fn total_area(&self) -> f64 {
        numpy_sum(&self.areas)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_values() {
        // np.percentile([1, 2, 3, 4], q) for q = 0, 25, 50, 95, 100.
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_linear(&v, 0.0), 1.0);
        assert_eq!(percentile_linear(&v, 25.0), 1.75);
        assert_eq!(percentile_linear(&v, 50.0), 2.5);
        assert_eq!(percentile_linear(&v, 95.0), 3.8499999999999996);
        assert_eq!(percentile_linear(&v, 100.0), 4.0);
        assert!(percentile_linear(&[], 50.0).is_nan());
    }

    #[test]
    fn pairwise_sum_blocks() {
        // Exact small-integer sums hold in any order; this checks the block bookkeeping.
        for n in [0usize, 1, 7, 8, 9, 16, 127, 128, 129, 300, 1000] {
            let v: Vec<f64> = (0..n).map(|i| i as f64).collect();
            assert_eq!(numpy_sum(&v), (n * n.saturating_sub(1) / 2) as f64, "{n}");
        }
    }

    #[test]
    fn robust_percentile_by_area() {
        let w = WeightedDistances::sorted(vec![(3.0, 1.0), (1.0, 1.0), (2.0, 2.0)]);
        assert_eq!(w.distances, vec![1.0, 2.0, 3.0]);
        // Cumulative fractions 0.25, 0.75, 1.0.
        assert_eq!(w.robust_percentile(25.0), 1.0);
        assert_eq!(w.robust_percentile(50.0), 2.0);
        assert_eq!(w.robust_percentile(95.0), 3.0);
        assert_eq!(w.robust_percentile(100.0), 3.0);
        assert_eq!(
            WeightedDistances::default().robust_percentile(95.0),
            f64::INFINITY
        );
    }
}
