//! PyRadiomics `firstorder`: 18 features (+ the deprecated `StandardDeviation`) of the ROI's
//! original intensities and of its discretised histogram, with NumPy's arithmetic.

use super::pipeline::pairwise_sum;

/// What first order needs: the ROI intensities in C order (`imageArray[maskArray]`), their
/// discretised levels in the same order, the voxel volume and `voxelArrayShift`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FirstOrderInput<'a> {
    pub values: &'a [f64],
    pub levels: &'a [u32],
    /// `sx · sy · sz` in mm³, multiplied in that order.
    pub voxel_volume: f64,
    pub shift: f64,
}

/// `numpy.percentile(x, q)` (method 'linear') of sorted values.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let v = (n - 1) as f64 * (q / 100.0);
    let lo = v.floor();
    if v >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let lo_i = if lo < 0.0 { 0 } else { lo as usize };
    let g = v - lo;
    let (a, b) = (sorted[lo_i], sorted[lo_i + 1]);
    let diff = b - a;
    if g >= 0.5 {
        b - diff * (1.0 - g)
    } else {
        a + diff * g
    }
}

fn mean(v: &[f64]) -> f64 {
    pairwise_sum(v) / v.len() as f64
}

/// Computes the `enabled` features, in that order. Names that are not first-order features
/// are skipped.
pub(crate) fn compute(input: &FirstOrderInput, enabled: &[&str]) -> Vec<(&'static str, f64)> {
    let x = input.values;
    let n = x.len();
    let mut sorted = x.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mu = mean(x);
    let centred: Vec<f64> = x.iter().map(|v| v - mu).collect();
    let mut scratch: Vec<f64> = Vec::with_capacity(n);
    let mut moment = |k: i32| -> f64 {
        scratch.clear();
        scratch.extend(centred.iter().map(|&d| match k {
            2 => d * d,
            3 => d * d * d,
            _ => (d * d) * (d * d),
        }));
        mean(&scratch)
    };
    let energy = {
        let sq: Vec<f64> = x
            .iter()
            .map(|v| (v + input.shift) * (v + input.shift))
            .collect();
        pairwise_sum(&sq)
    };
    // Histogram of the present levels (np.unique(..., return_counts=True)).
    let probabilities = {
        let max = input.levels.iter().copied().max().unwrap_or(0) as usize;
        let mut counts = vec![0usize; max + 1];
        for &l in input.levels {
            counts[l as usize] += 1;
        }
        let counts: Vec<f64> = counts
            .into_iter()
            .filter(|&c| c > 0)
            .map(|c| c as f64)
            .collect();
        let total = pairwise_sum(&counts);
        let total = if total == 0.0 { 1.0 } else { total };
        counts.iter().map(|c| c / total).collect::<Vec<f64>>()
    };
    let std = {
        let sq: Vec<f64> = centred.iter().map(|d| d * d).collect();
        (pairwise_sum(&sq) / n as f64).sqrt()
    };
    let first = sorted.first().copied().unwrap_or(f64::NAN);
    let last = sorted.last().copied().unwrap_or(f64::NAN);
    let mut out = Vec::with_capacity(enabled.len());
    for &name in enabled {
        let (key, value): (&'static str, f64) = match name {
            "Energy" => ("Energy", energy),
            "TotalEnergy" => ("TotalEnergy", energy * input.voxel_volume),
            "Entropy" => {
                let terms: Vec<f64> = probabilities
                    .iter()
                    .map(|p| p * (p + f64::EPSILON).log2())
                    .collect();
                ("Entropy", -pairwise_sum(&terms))
            }
            "Minimum" => ("Minimum", first),
            "Maximum" => ("Maximum", last),
            "10Percentile" => ("10Percentile", percentile(&sorted, 10.0)),
            "90Percentile" => ("90Percentile", percentile(&sorted, 90.0)),
            "Mean" => ("Mean", mu),
            "Median" => ("Median", {
                if n == 0 {
                    f64::NAN
                } else if n % 2 == 1 {
                    sorted[n / 2]
                } else {
                    (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
                }
            }),
            "InterquartileRange" => (
                "InterquartileRange",
                percentile(&sorted, 75.0) - percentile(&sorted, 25.0),
            ),
            "Range" => ("Range", last - first),
            "MeanAbsoluteDeviation" => {
                let d: Vec<f64> = centred.iter().map(|d| d.abs()).collect();
                ("MeanAbsoluteDeviation", mean(&d))
            }
            "RobustMeanAbsoluteDeviation" => {
                let p10 = percentile(&sorted, 10.0);
                let p90 = percentile(&sorted, 90.0);
                let kept: Vec<f64> = x
                    .iter()
                    .copied()
                    .filter(|v| !((v - p10) < 0.0 || (v - p90) > 0.0))
                    .collect();
                let m = mean(&kept);
                let d: Vec<f64> = kept.iter().map(|v| (v - m).abs()).collect();
                ("RobustMeanAbsoluteDeviation", mean(&d))
            }
            "RootMeanSquared" => (
                "RootMeanSquared",
                if n == 0 {
                    0.0
                } else {
                    (energy / n as f64).sqrt()
                },
            ),
            "Skewness" => {
                let mut m2 = moment(2);
                let m3 = moment(3);
                if m2 == 0.0 {
                    m2 = 1.0;
                }
                ("Skewness", m3 / m2.powf(1.5))
            }
            "Kurtosis" => {
                let mut m2 = moment(2);
                let m4 = moment(4);
                if m2 == 0.0 {
                    m2 = 1.0;
                }
                ("Kurtosis", m4 / (m2 * m2))
            }
            "Variance" => ("Variance", std * std),
            "StandardDeviation" => ("StandardDeviation", std),
            "Uniformity" => {
                let sq: Vec<f64> = probabilities.iter().map(|p| p * p).collect();
                ("Uniformity", pairwise_sum(&sq))
            }
            _ => continue,
        };
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_follow_numpy_linear() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&s, 10.0), 1.3);
        assert_eq!(percentile(&s, 90.0), 3.7);
        assert_eq!(percentile(&s, 100.0), 4.0);
        assert_eq!(percentile(&[5.0], 25.0), 5.0);
    }

    #[test]
    fn flat_region_has_zero_skewness_and_kurtosis() {
        let values = [3.0; 5];
        let levels = [1u32; 5];
        let input = FirstOrderInput {
            values: &values,
            levels: &levels,
            voxel_volume: 2.0,
            shift: 0.0,
        };
        let out = compute(
            &input,
            &[
                "Skewness",
                "Kurtosis",
                "Entropy",
                "Uniformity",
                "TotalEnergy",
            ],
        );
        assert_eq!(out[0].1, 0.0);
        assert_eq!(out[1].1, 0.0);
        assert!(out[2].1.abs() < 1e-15);
        assert_eq!(out[3].1, 1.0);
        assert_eq!(out[4].1, 90.0);
    }
}
