//! Physical geometry of a voxel grid in DICOM patient coordinates (LPS, millimetres).

use crate::CoreError;

/// A 3×3 matrix, row-major: `m[row][col]`.
pub type Mat3 = [[f64; 3]; 3];

/// The identity direction: grid axes i, j, k along patient x (L), y (P), z (S).
pub const IDENTITY: Mat3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

/// Where a voxel grid lies in space.
///
/// Conventions (the same as ITK and DICOM):
/// - `size = [ni, nj, nk]`: voxel counts along the grid axes i (columns), j (rows), k (slices);
/// - `spacing` in mm along i, j, k;
/// - `origin`: LPS position (mm) of the centre of voxel `(0, 0, 0)`;
/// - `direction`: column `c` is the unit vector of grid axis `c` in LPS.
///
/// The physical point of a continuous index `x` is `origin + direction · diag(spacing) · x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    size: [usize; 3],
    spacing: [f64; 3],
    origin: [f64; 3],
    direction: Mat3,
    /// `(direction · diag(spacing))⁻¹`, kept because physical → index runs per voxel in resampling.
    inverse: Mat3,
}

impl Geometry {
    /// Builds a geometry, checking that spacing is positive and finite and the direction invertible.
    pub fn new(
        size: [usize; 3],
        spacing: [f64; 3],
        origin: [f64; 3],
        direction: Mat3,
    ) -> Result<Self, CoreError> {
        if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(CoreError::InvalidGeometry(format!(
                "spacing must be positive and finite, got {spacing:?}"
            )));
        }
        if origin.iter().any(|o| !o.is_finite())
            || direction.iter().flatten().any(|d| !d.is_finite())
        {
            return Err(CoreError::InvalidGeometry(
                "origin and direction must be finite".into(),
            ));
        }
        let mut scaled = direction;
        for row in scaled.iter_mut() {
            for (c, v) in row.iter_mut().enumerate() {
                *v *= spacing[c];
            }
        }
        let inverse = invert(&scaled).ok_or_else(|| {
            CoreError::InvalidGeometry(format!(
                "direction cosines {direction:?} are singular (axes are parallel or zero)"
            ))
        })?;
        Ok(Self {
            size,
            spacing,
            origin,
            direction,
            inverse,
        })
    }

    /// Unit spacing, zero origin, identity direction.
    pub fn with_size(size: [usize; 3]) -> Self {
        Self {
            size,
            spacing: [1.0; 3],
            origin: [0.0; 3],
            direction: IDENTITY,
            inverse: IDENTITY,
        }
    }

    pub fn size(&self) -> [usize; 3] {
        self.size
    }
    pub fn spacing(&self) -> [f64; 3] {
        self.spacing
    }
    pub fn origin(&self) -> [f64; 3] {
        self.origin
    }
    pub fn direction(&self) -> Mat3 {
        self.direction
    }

    /// Number of voxels in the grid.
    pub fn len(&self) -> usize {
        self.size.iter().product()
    }

    /// True when the grid holds no voxel.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ndarray shape of an image on this grid: `(nk, nj, ni)`, i fastest in memory.
    pub fn shape(&self) -> (usize, usize, usize) {
        (self.size[2], self.size[1], self.size[0])
    }

    /// Physical (LPS, mm) position of a continuous index `[i, j, k]`.
    pub fn index_to_physical(&self, index: [f64; 3]) -> [f64; 3] {
        let mut p = self.origin;
        for (r, pr) in p.iter_mut().enumerate() {
            for c in 0..3 {
                *pr += self.direction[r][c] * self.spacing[c] * index[c];
            }
        }
        p
    }

    /// Continuous index `[i, j, k]` of a physical (LPS, mm) position.
    pub fn physical_to_index(&self, point: [f64; 3]) -> [f64; 3] {
        let d = [
            point[0] - self.origin[0],
            point[1] - self.origin[1],
            point[2] - self.origin[2],
        ];
        mat_vec(&self.inverse, d)
    }

    /// Whether the direction columns are orthonormal within `tol`.
    pub fn is_orthonormal(&self, tol: f64) -> bool {
        for a in 0..3 {
            for b in 0..3 {
                let dot: f64 = (0..3)
                    .map(|r| self.direction[r][a] * self.direction[r][b])
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                if (dot - want).abs() > tol {
                    return false;
                }
            }
        }
        true
    }

    /// Whether two grids coincide: same size, and spacing, origin and direction equal
    /// within `tol` (mm for origin and spacing, unitless for direction).
    pub fn matches(&self, other: &Geometry, tol: f64) -> bool {
        self.size == other.size
            && close(&self.spacing, &other.spacing, tol)
            && close(&self.origin, &other.origin, tol)
            && self
                .direction
                .iter()
                .zip(other.direction.iter())
                .all(|(a, b)| close(a, b, tol))
    }

    /// The 4×4 affine mapping index to LPS, row-major.
    pub fn affine_lps(&self) -> [[f64; 4]; 4] {
        let mut a = [[0.0; 4]; 4];
        for r in 0..3 {
            for c in 0..3 {
                a[r][c] = self.direction[r][c] * self.spacing[c];
            }
            a[r][3] = self.origin[r];
        }
        a[3][3] = 1.0;
        a
    }

    /// Builds a geometry from a 4×4 index → LPS affine (first three rows used), splitting each
    /// column into a spacing (its length) and a unit direction.
    pub fn from_affine_lps(size: [usize; 3], affine: &[[f64; 4]; 4]) -> Result<Self, CoreError> {
        let mut spacing = [0.0; 3];
        let mut direction = [[0.0; 3]; 3];
        for c in 0..3 {
            let len = (0..3).map(|r| affine[r][c].powi(2)).sum::<f64>().sqrt();
            if len == 0.0 || !len.is_finite() {
                return Err(CoreError::InvalidGeometry(format!(
                    "affine column {c} has zero or non-finite length"
                )));
            }
            spacing[c] = len;
            for r in 0..3 {
                direction[r][c] = affine[r][c] / len;
            }
        }
        let origin = [affine[0][3], affine[1][3], affine[2][3]];
        Self::new(size, spacing, origin, direction)
    }

    /// The 8 physical corners of the grid (voxel centres at the extreme indices).
    pub fn corners(&self) -> [[f64; 3]; 8] {
        let hi = self.size.map(|s| s.saturating_sub(1) as f64);
        let mut out = [[0.0; 3]; 8];
        for (n, o) in out.iter_mut().enumerate() {
            let idx = [
                if n & 1 == 0 { 0.0 } else { hi[0] },
                if n & 2 == 0 { 0.0 } else { hi[1] },
                if n & 4 == 0 { 0.0 } else { hi[2] },
            ];
            *o = self.index_to_physical(idx);
        }
        out
    }

    /// A three-letter orientation code (as ITK/DICOM tools print it): for each grid axis, the
    /// patient direction it points towards, e.g. `LPS` for an axial DICOM stack.
    pub fn orientation_code(&self) -> String {
        (0..3)
            .map(|c| {
                let col = [
                    self.direction[0][c],
                    self.direction[1][c],
                    self.direction[2][c],
                ];
                let (r, v) = col
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .map(|(r, v)| (r, *v))
                    .unwrap_or((0, 1.0));
                match (r, v >= 0.0) {
                    (0, true) => 'L',
                    (0, false) => 'R',
                    (1, true) => 'P',
                    (1, false) => 'A',
                    (2, true) => 'S',
                    _ => 'I',
                }
            })
            .collect()
    }
}

fn close(a: &[f64; 3], b: &[f64; 3], tol: f64) -> bool {
    a.iter().zip(b.iter()).all(|(x, y)| (x - y).abs() <= tol)
}

/// `m · v`.
pub fn mat_vec(m: &Mat3, v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

/// Cross product `a × b`.
pub fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// Dot product.
pub fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Determinant of a 3×3 matrix.
pub fn det(m: &Mat3) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Inverse of a 3×3 matrix, `None` when (numerically) singular.
pub fn invert(m: &Mat3) -> Option<Mat3> {
    let d = det(m);
    let scale = m.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
    if !d.is_finite() || scale == 0.0 || d.abs() <= 1e-12 * scale.powi(3) {
        return None;
    }
    let inv_d = 1.0 / d;
    Some([
        [
            (m[1][1] * m[2][2] - m[1][2] * m[2][1]) * inv_d,
            (m[0][2] * m[2][1] - m[0][1] * m[2][2]) * inv_d,
            (m[0][1] * m[1][2] - m[0][2] * m[1][1]) * inv_d,
        ],
        [
            (m[1][2] * m[2][0] - m[1][0] * m[2][2]) * inv_d,
            (m[0][0] * m[2][2] - m[0][2] * m[2][0]) * inv_d,
            (m[0][2] * m[1][0] - m[0][0] * m[1][2]) * inv_d,
        ],
        [
            (m[1][0] * m[2][1] - m[1][1] * m[2][0]) * inv_d,
            (m[0][1] * m[2][0] - m[0][0] * m[2][1]) * inv_d,
            (m[0][0] * m[1][1] - m[0][1] * m[1][0]) * inv_d,
        ],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oblique() -> Geometry {
        let a = 0.3f64;
        let dir = [
            [a.cos(), -a.sin(), 0.0],
            [a.sin(), a.cos(), 0.0],
            [0.0, 0.0, 1.0],
        ];
        Geometry::new([10, 20, 30], [0.5, 0.7, 2.5], [-100.0, 20.0, 5.0], dir).unwrap()
    }

    #[test]
    fn index_physical_round_trip() {
        let g = oblique();
        let idx = [3.25, 7.5, 11.0];
        let p = g.index_to_physical(idx);
        let back = g.physical_to_index(p);
        for c in 0..3 {
            assert!((idx[c] - back[c]).abs() < 1e-10, "{idx:?} vs {back:?}");
        }
        // Voxel (0,0,0) sits at the origin; one step along k moves 2.5 mm along z.
        assert_eq!(g.index_to_physical([0.0; 3]), g.origin());
        let p1 = g.index_to_physical([0.0, 0.0, 1.0]);
        assert!((p1[2] - 7.5).abs() < 1e-12);
    }

    #[test]
    fn rejects_bad_geometry() {
        assert!(Geometry::new([1, 1, 1], [0.0, 1.0, 1.0], [0.0; 3], IDENTITY).is_err());
        let singular = [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(Geometry::new([1, 1, 1], [1.0; 3], [0.0; 3], singular).is_err());
    }

    #[test]
    fn affine_round_trip_and_orientation_code() {
        let g = oblique();
        let back = Geometry::from_affine_lps(g.size(), &g.affine_lps()).unwrap();
        assert!(g.matches(&back, 1e-12));
        assert_eq!(Geometry::with_size([1, 1, 1]).orientation_code(), "LPS");
        let ras = Geometry::new(
            [1, 1, 1],
            [1.0; 3],
            [0.0; 3],
            [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
        )
        .unwrap();
        assert_eq!(ras.orientation_code(), "RAS");
    }
}
