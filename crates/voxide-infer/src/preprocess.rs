//! Intensity preprocessing on the model's grid.

use ndarray::ArrayViewMut3;

use crate::manifest::Preprocessing;

/// Applies `method` in place.
pub fn normalise(mut volume: ArrayViewMut3<'_, f32>, method: &Preprocessing) {
    match *method {
        Preprocessing::None => {}
        Preprocessing::CtWindow { window, mean, std } => {
            let (lo, hi) = (window[0] as f32, window[1] as f32);
            let (mean, std) = (mean as f32, std as f32);
            volume.mapv_inplace(|v| (v.clamp(lo, hi) - mean) / std);
        }
        Preprocessing::Fixed { mean, std } => {
            let (mean, std) = (mean as f32, std as f32);
            volume.mapv_inplace(|v| (v - mean) / std);
        }
        Preprocessing::ZScore => {
            let n = volume.len().max(1) as f64;
            let mean = volume.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
            let var = volume
                .iter()
                .map(|&v| (f64::from(v) - mean).powi(2))
                .sum::<f64>()
                / n;
            // A flat volume stays centred at 0 rather than dividing by 0.
            let std = var.sqrt().max(1e-8);
            volume.mapv_inplace(|v| ((f64::from(v) - mean) / std) as f32);
        }
        Preprocessing::Percentile { lower, upper } => {
            let mut sorted: Vec<f32> = volume.iter().copied().filter(|v| v.is_finite()).collect();
            if sorted.is_empty() {
                return;
            }
            sorted.sort_unstable_by(f32::total_cmp);
            let lo = percentile(&sorted, lower);
            let hi = percentile(&sorted, upper);
            let range = (hi - lo).max(f32::EPSILON);
            volume.mapv_inplace(|v| (v.clamp(lo, hi) - lo) / range);
        }
    }
}

/// NumPy's default (linear) percentile of sorted values.
fn percentile(sorted: &[f32], p: f64) -> f32 {
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let below = pos.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let t = (pos - below as f64) as f32;
    sorted[below] + (sorted[above] - sorted[below]) * t
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn methods() {
        let mut v =
            Array3::from_shape_vec((1, 1, 5), vec![-2000.0, -100.0, 0.0, 100.0, 3000.0]).unwrap();
        normalise(
            v.view_mut(),
            &Preprocessing::CtWindow {
                window: [-100.0, 200.0],
                mean: 50.0,
                std: 10.0,
            },
        );
        assert_eq!(v.as_slice().unwrap(), &[-15.0, -15.0, -5.0, 5.0, 15.0]);
        let mut v = Array3::from_shape_vec((1, 1, 5), vec![0.0, 1.0, 2.0, 3.0, 4.0]).unwrap();
        normalise(
            v.view_mut(),
            &Preprocessing::Percentile {
                lower: 25.0,
                upper: 75.0,
            },
        );
        assert_eq!(v.as_slice().unwrap(), &[0.0, 0.0, 0.5, 1.0, 1.0]);
        let mut v = Array3::from_shape_vec((1, 1, 4), vec![1.0, 3.0, 1.0, 3.0]).unwrap();
        normalise(v.view_mut(), &Preprocessing::ZScore);
        assert_eq!(v.as_slice().unwrap(), &[-1.0, 1.0, -1.0, 1.0]);
        let mut flat = Array3::from_elem((2, 2, 2), 7.0f32);
        normalise(flat.view_mut(), &Preprocessing::ZScore);
        assert!(flat.iter().all(|&x| x == 0.0));
    }
}
