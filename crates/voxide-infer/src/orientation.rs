//! The model's grid: the input image in the model's orientation and spacing.

use voxide_core::geometry::{dot, Mat3};
use voxide_core::Geometry;

/// Direction matrix (columns = unit vectors of the i, j, k axes in LPS) of a three-letter
/// orientation code such as `LPS` or `RAS`.
pub fn direction_from_code(code: &str) -> Result<Mat3, String> {
    let letters: Vec<char> = code.to_ascii_uppercase().chars().collect();
    let bad = || {
        format!(
            "orientation {code:?} must be three letters, one of L/R, one of P/A and one of S/I (e.g. LPS, RAS)"
        )
    };
    if letters.len() != 3 {
        return Err(bad());
    }
    let mut m = [[0.0; 3]; 3];
    let mut used = [false; 3];
    for (c, l) in letters.iter().enumerate() {
        let (row, sign) = match l {
            'L' => (0, 1.0),
            'R' => (0, -1.0),
            'P' => (1, 1.0),
            'A' => (1, -1.0),
            'S' => (2, 1.0),
            'I' => (2, -1.0),
            _ => return Err(bad()),
        };
        if used[row] {
            return Err(bad());
        }
        used[row] = true;
        m[row][c] = sign;
    }
    Ok(m)
}

fn column(m: &Mat3, c: usize) -> [f64; 3] {
    [m[0][c], m[1][c], m[2][c]]
}

/// The source's extent (voxel boundaries, mm) along each axis (column) of `dir`: the lowest
/// and highest projection of its eight corners.
pub fn extent_along(source: &Geometry, dir: &Mat3) -> ([f64; 3], [f64; 3]) {
    let size = source.size();
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for corner in 0..8 {
        let index = [0, 1, 2].map(|a| {
            if corner >> a & 1 == 0 {
                -0.5
            } else {
                size[a] as f64 - 0.5
            }
        });
        let p = source.index_to_physical(index);
        for c in 0..3 {
            let t = dot(p, column(dir, c));
            lo[c] = lo[c].min(t);
            hi[c] = hi[c].max(t);
        }
    }
    (lo, hi)
}

/// The grid the model sees for an image on `source`: the same physical extent, in the
/// `orientation` (letters, see [`direction_from_code`]) and at `spacing_dhw` (mm along D, H, W,
/// i.e. k, j, i). `None` when neither is asked for or the result is `source` itself (then the
/// image is used as it is, without interpolation).
pub fn model_grid(
    source: &Geometry,
    orientation: Option<&str>,
    spacing_dhw: Option<[f64; 3]>,
) -> Result<Option<Geometry>, String> {
    if orientation.is_none() && spacing_dhw.is_none() {
        return Ok(None);
    }
    let src_dir = source.direction();
    let dir = match orientation {
        Some(code) => direction_from_code(code)?,
        None => src_dir,
    };
    let src_spacing = source.spacing();
    let spacing = match spacing_dhw {
        Some([d, h, w]) => [w, h, d],
        // Each target axis keeps the spacing of the source axis most aligned with it.
        None => [0, 1, 2].map(|c| {
            let axis = column(&dir, c);
            let best = (0..3)
                .max_by(|&a, &b| {
                    dot(axis, column(&src_dir, a))
                        .abs()
                        .total_cmp(&dot(axis, column(&src_dir, b)).abs())
                })
                .unwrap_or(c);
            src_spacing[best]
        }),
    };
    let (lo, hi) = extent_along(source, &dir);
    let mut new_size = [0usize; 3];
    let mut offset = [0.0; 3];
    for c in 0..3 {
        let extent = hi[c] - lo[c];
        // Round, so that an exact axis permutation keeps its voxel count; at least one voxel.
        let n = (extent / spacing[c]).round().max(1.0);
        new_size[c] = n as usize;
        // Centre the new grid on the old extent.
        offset[c] = lo[c] + 0.5 * (extent - n * spacing[c]) + 0.5 * spacing[c];
    }
    let mut origin = [0.0; 3];
    for (r, o) in origin.iter_mut().enumerate() {
        *o = (0..3).map(|c| dir[r][c] * offset[c]).sum();
    }
    let grid = Geometry::new(new_size, spacing, origin, dir).map_err(|e| e.to_string())?;
    if grid.matches(source, voxide_core::GRID_TOLERANCE) {
        return Ok(None);
    }
    Ok(Some(grid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(
            direction_from_code("LPS").unwrap(),
            voxide_core::geometry::IDENTITY
        );
        let ras = direction_from_code("ras").unwrap();
        assert_eq!(ras, [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]);
        for bad in ["LP", "LLS", "LPX", "SPL S"] {
            assert!(direction_from_code(bad).is_err(), "{bad}");
        }
        assert!(direction_from_code("SPL").is_ok());
    }

    #[test]
    fn reorienting_keeps_voxel_centres() {
        let src = Geometry::new(
            [4, 5, 6],
            [0.5, 0.7, 2.0],
            [10.0, -3.0, 7.0],
            voxide_core::geometry::IDENTITY,
        )
        .unwrap();
        assert!(model_grid(&src, None, None).unwrap().is_none());
        assert!(model_grid(&src, Some("LPS"), None).unwrap().is_none());
        let ras = model_grid(&src, Some("RAS"), None).unwrap().unwrap();
        assert_eq!(ras.size(), [4, 5, 6]);
        assert_eq!(ras.orientation_code(), "RAS");
        // Every target voxel centre is a source voxel centre.
        for (i, j, k) in [(0, 0, 0), (3, 4, 5), (1, 2, 3)] {
            let p = ras.index_to_physical([i as f64, j as f64, k as f64]);
            let x = src.physical_to_index(p);
            for v in x {
                assert!((v - v.round()).abs() < 1e-9, "{x:?}");
            }
        }
        let resampled = model_grid(&src, None, Some([1.0, 1.4, 1.0]))
            .unwrap()
            .unwrap();
        assert_eq!(resampled.size(), [2, 3, 12]);
        assert_eq!(resampled.spacing(), [1.0, 1.4, 1.0]);
    }
}
