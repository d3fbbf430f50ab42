//! PyRadiomics `shape2D`: a port of `cshape.c`'s marching squares (perimeter, mesh surface,
//! maximum diameter) and of `shape2D.py`'s PCA axes — 9 default features and the deprecated
//! `SphericalDisproportion`.

use ndarray::{Array2, Array3, Axis};

use super::shape::{max_sq_distance, pca_eigenvalues, py_div};
use crate::RadiomicsError;

/// Corners of a square as `(y, x)` offsets (`gridAngles2D`).
const GRID_ANGLES_2D: [[usize; 2]; 4] = [[0, 0], [0, 1], [1, 1], [1, 0]];

/// Edge midpoints as `(y, x)` offsets (`vertList2D`).
const VERT_LIST_2D: [[f64; 2]; 4] = [[0.0, 0.5], [0.5, 1.0], [1.0, 0.5], [0.5, 0.0]];

/// Line segments of each square configuration (`lineTable2D`).
const LINE_TABLE_2D: [[i8; 5]; 16] = [
    [-1, -1, -1, -1, -1],
    [3, 0, -1, -1, -1],
    [0, 1, -1, -1, -1],
    [3, 1, -1, -1, -1],
    [1, 2, -1, -1, -1],
    [1, 2, 3, 0, -1],
    [0, 2, -1, -1, -1],
    [3, 2, -1, -1, -1],
    [2, 3, -1, -1, -1],
    [2, 0, -1, -1, -1],
    [0, 1, 2, 3, -1],
    [2, 1, -1, -1, -1],
    [1, 3, -1, -1, -1],
    [1, 0, -1, -1, -1],
    [0, 3, -1, -1, -1],
    [-1, -1, -1, -1, -1],
];

/// `calculate_coefficients2D` on a padded 2D mask `(y, x)` with spacing `(sy, sx)`:
/// `(perimeter, surface, diameter)`, or an error where `cshape.c` reports a vertex overflow.
fn coefficients(mask: &Array2<bool>, spacing: [f64; 2]) -> Result<(f64, f64, f64), RadiomicsError> {
    let (ny, nx) = mask.dim();
    let mut perimeter = 0.0f64;
    let mut surface = 0.0f64;
    let mut vertices: Vec<[f64; 3]> = Vec::new();
    const POINTS_EDGES: [[usize; 2]; 2] = [[0, 2], [3, 2]];
    if ny < 2 || nx < 2 {
        return Ok((0.0, 0.0, 0.0));
    }
    let v_max = (ny - 1) * (nx - 1) * 4;
    for iy in 0..ny - 1 {
        for ix in 0..nx - 1 {
            let mut sq: u8 = 0;
            for (a, g) in GRID_ANGLES_2D.iter().enumerate() {
                if mask[(iy + g[0], ix + g[1])] {
                    sq |= 1 << a;
                }
            }
            if sq == 0 || sq == 0xF {
                continue;
            }
            let row = &LINE_TABLE_2D[sq as usize];
            let mut t = 0;
            while t * 2 < 4 && row[t * 2] >= 0 {
                let pa = VERT_LIST_2D[row[t * 2] as usize];
                let pb = VERT_LIST_2D[row[t * 2 + 1] as usize];
                let mut a = [
                    (iy as f64 + pa[0]) * spacing[0],
                    (ix as f64 + pa[1]) * spacing[1],
                ];
                let b = [
                    (iy as f64 + pb[0]) * spacing[0],
                    (ix as f64 + pb[1]) * spacing[1],
                ];
                surface += a[0] * b[1] - b[0] * a[1];
                for d in 0..2 {
                    a[d] -= b[d];
                    a[d] *= a[d];
                }
                perimeter += (a[0] + a[1]).sqrt();
                t += 1;
            }
            if vertices.len() * 2 + 9 > v_max {
                return Err(RadiomicsError::InvalidSetting(
                    "calculation of shape2D coefficients failed (vertex buffer overflow in PyRadiomics' cshape.c for this tiny mask)".into(),
                ));
            }
            if sq > 7 {
                sq ^= 0xF;
            }
            for t in 0..2 {
                if sq & (1 << POINTS_EDGES[0][t]) != 0 {
                    let e = VERT_LIST_2D[POINTS_EDGES[1][t]];
                    vertices.push([
                        (iy as f64 + e[0]) * spacing[0],
                        (ix as f64 + e[1]) * spacing[1],
                        0.0,
                    ]);
                }
            }
        }
    }
    surface /= 2.0;
    Ok((perimeter, surface, max_sq_distance(&vertices).sqrt()))
}

/// Computes the `enabled` shape2D features of a mask cropped to its bounding box (array order
/// `(k, j, i)`, grid spacing `[si, sj, sk]`), flattened along array axis `dimension`
/// (`force2Ddimension`: 0 = k). Errors (aborting the case, as in PyRadiomics) when the mask is
/// more than one voxel thick along that axis.
pub(crate) fn compute(
    mask: &Array3<bool>,
    spacing: [f64; 3],
    dimension: usize,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>, RadiomicsError> {
    if mask.shape()[dimension] > 1 {
        return Err(RadiomicsError::InvalidSetting(format!(
            "size of the mask in dimension {dimension} is more than 1, cannot compute 2D shape"
        )));
    }
    let zyx = [spacing[2], spacing[1], spacing[0]];
    let axes: Vec<usize> = (0..3).filter(|a| *a != dimension).collect();
    let sp = [zyx[axes[0]], zyx[axes[1]]];
    let flat = mask.index_axis(Axis(dimension), 0);
    let (ny, nx) = flat.dim();
    let mut padded = Array2::from_elem((ny + 2, nx + 2), false);
    let mut coords: Vec<[f64; 2]> = Vec::new();
    for ((j, i), &m) in flat.indexed_iter() {
        if m {
            padded[(j + 1, i + 1)] = true;
        }
    }
    for ((j, i), &m) in padded.indexed_iter() {
        if m {
            coords.push([j as f64 * sp[0], i as f64 * sp[1]]);
        }
    }
    let np = coords.len() as f64;
    let (perimeter, surface, diameter) = coefficients(&padded, sp)?;
    let ev = pca_eigenvalues(&coords);
    let sphericity = 2.0 * (std::f64::consts::PI * surface).sqrt() / perimeter;
    let mut out = Vec::with_capacity(enabled.len());
    for &name in enabled {
        let (key, value): (&'static str, f64) = match name {
            "MeshSurface" => ("MeshSurface", surface),
            "PixelSurface" => ("PixelSurface", np * (sp[1] * sp[0])),
            "Perimeter" => ("Perimeter", perimeter),
            "PerimeterSurfaceRatio" => ("PerimeterSurfaceRatio", py_div(perimeter, surface)),
            "Sphericity" => ("Sphericity", sphericity),
            "SphericalDisproportion" => ("SphericalDisproportion", py_div(1.0, sphericity)),
            "MaximumDiameter" => ("MaximumDiameter", diameter),
            "MajorAxisLength" => (
                "MajorAxisLength",
                if ev[1] < 0.0 {
                    f64::NAN
                } else {
                    ev[1].sqrt() * 4.0
                },
            ),
            "MinorAxisLength" => (
                "MinorAxisLength",
                if ev[0] < 0.0 {
                    f64::NAN
                } else {
                    ev[0].sqrt() * 4.0
                },
            ),
            "Elongation" => (
                "Elongation",
                if ev[0] < 0.0 || ev[1] < 0.0 {
                    f64::NAN
                } else {
                    py_div(ev[0], ev[1]).sqrt()
                },
            ),
            _ => continue,
        };
        out.push((key, value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(rows: &[&[u8]]) -> Array2<bool> {
        let (ny, nx) = (rows.len(), rows[0].len());
        Array2::from_shape_fn((ny + 2, nx + 2), |(j, i)| {
            j >= 1 && i >= 1 && j <= ny && i <= nx && rows[j - 1][i - 1] == 1
        })
    }

    #[test]
    fn cshape_2d_test_vectors() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let (p, a, d) = coefficients(&padded(&[&[1, 1]]), [1.0, 1.0]).unwrap();
        assert!(
            close(p, 4.82842712474619) && close(a, 1.5) && close(d, 2.0),
            "{p} {a} {d}"
        );
        let (p, a, d) = coefficients(&padded(&[&[1, 1], &[1, 1]]), [1.0, 1.0]).unwrap();
        assert!(close(p, 6.828427124746191) && close(a, 3.5) && close(d, 5f64.sqrt()));
        let (p, a, _) = coefficients(&padded(&[&[1, 0], &[1, 1]]), [1.0, 1.0]).unwrap();
        assert!(close(p, 6.242640687119286) && close(a, 2.5));
        let (p, a, _) = coefficients(&padded(&[&[1, 0], &[0, 1]]), [1.0, 1.0]).unwrap();
        assert!(close(p, 5.6568542494923815) && close(a, 1.0));
    }

    #[test]
    fn thick_mask_is_refused() {
        let m = Array3::from_elem((2, 3, 3), true);
        assert!(compute(&m, [1.0; 3], 0, &["Perimeter"]).is_err());
        assert!(compute(
            &Array3::from_elem((1, 3, 3), true),
            [1.0; 3],
            0,
            &["Perimeter"]
        )
        .is_ok());
    }
}
