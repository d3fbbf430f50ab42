//! PyRadiomics `shape` (3D): a port of `cshape.c`'s marching cubes (mesh volume, surface area,
//! maximum diameters) and of `shape.py`'s PCA axes, giving the 14 default features and the 3
//! deprecated ones.
//!
//! Mesh vertices lie on voxel-edge midpoints; the maximum diameters are the largest distances
//! between stored vertices (each grid edge stored once, as `cshape.c` does). PyRadiomics compares
//! every pair (`O(n²)`); here pairs are pruned by a cell grid with a conservative bound, which
//! returns exactly the same maxima (every pair distance that can win is computed with the same
//! floating-point expression).

use ndarray::Array3;

/// The corners of a marching cube as `(z, y, x)` offsets (`gridAngles`).
const GRID_ANGLES: [[usize; 3]; 8] = [
    [0, 0, 0],
    [0, 0, 1],
    [0, 1, 1],
    [0, 1, 0],
    [1, 0, 0],
    [1, 0, 1],
    [1, 1, 1],
    [1, 1, 0],
];

/// Edge midpoints as `(z, y, x)` offsets (`vertList`).
const VERT_LIST: [[f64; 3]; 12] = [
    [0.0, 0.0, 0.5],
    [0.0, 0.5, 1.0],
    [0.0, 1.0, 0.5],
    [0.0, 0.5, 0.0],
    [1.0, 0.0, 0.5],
    [1.0, 0.5, 1.0],
    [1.0, 1.0, 0.5],
    [1.0, 0.5, 0.0],
    [0.5, 0.0, 0.0],
    [0.5, 0.0, 1.0],
    [0.5, 1.0, 1.0],
    [0.5, 1.0, 0.0],
];

/// Triangles of each cube configuration (`triTable`, configurations 0..128; larger ones are
/// flipped).
const TRI_TABLE: [[i8; 16]; 128] = [
    [
        -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    ],
    [0, 8, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 8, 3, 1, 9, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 2, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 8, 3, 1, 2, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [9, 2, 10, 0, 2, 9, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [2, 8, 3, 2, 10, 8, 10, 9, 8, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 0, 0, 8, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, 11, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 1, 1, 9, 11, 9, 8, 11, -1, -1, -1, -1, -1, -1, -1],
    [3, 10, 1, 11, 10, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [10, 1, 0, 0, 8, 10, 8, 11, 10, -1, -1, -1, -1, -1, -1, -1],
    [9, 0, 3, 3, 11, 9, 11, 10, 9, -1, -1, -1, -1, -1, -1, -1],
    [9, 8, 10, 11, 10, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [4, 7, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 4, 3, 4, 7, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, 4, 7, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 4, 1, 4, 7, 1, 7, 3, -1, -1, -1, -1, -1, -1, -1],
    [1, 2, 10, 4, 7, 8, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [3, 4, 7, 3, 0, 4, 1, 2, 10, -1, -1, -1, -1, -1, -1, -1],
    [9, 2, 10, 9, 0, 2, 4, 7, 8, -1, -1, -1, -1, -1, -1, -1],
    [2, 10, 9, 2, 9, 7, 2, 7, 3, 4, 7, 9, -1, -1, -1, -1],
    [4, 7, 8, 11, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [11, 4, 7, 11, 2, 4, 2, 0, 4, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, 4, 7, 8, 11, 2, 3, -1, -1, -1, -1, -1, -1, -1],
    [4, 7, 11, 9, 4, 11, 11, 2, 9, 1, 9, 2, -1, -1, -1, -1],
    [3, 10, 1, 11, 10, 3, 4, 7, 8, -1, -1, -1, -1, -1, -1, -1],
    [11, 10, 1, 1, 4, 11, 1, 0, 4, 4, 7, 11, -1, -1, -1, -1],
    [4, 7, 8, 9, 0, 3, 3, 11, 9, 11, 10, 9, -1, -1, -1, -1],
    [4, 7, 11, 4, 11, 9, 9, 11, 10, -1, -1, -1, -1, -1, -1, -1],
    [9, 5, 4, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [9, 5, 4, 0, 8, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 5, 4, 0, 1, 5, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [8, 5, 4, 8, 3, 5, 3, 1, 5, -1, -1, -1, -1, -1, -1, -1],
    [1, 2, 10, 9, 5, 4, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 8, 3, 1, 2, 10, 9, 5, 4, -1, -1, -1, -1, -1, -1, -1],
    [2, 10, 5, 5, 4, 2, 2, 4, 0, -1, -1, -1, -1, -1, -1, -1],
    [2, 10, 5, 3, 2, 5, 3, 5, 4, 8, 3, 4, -1, -1, -1, -1],
    [9, 5, 4, 11, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 0, 0, 8, 11, 9, 5, 4, -1, -1, -1, -1, -1, -1, -1],
    [0, 5, 4, 0, 1, 5, 11, 2, 3, -1, -1, -1, -1, -1, -1, -1],
    [2, 1, 5, 2, 5, 8, 11, 2, 8, 5, 4, 8, -1, -1, -1, -1],
    [3, 10, 1, 11, 10, 3, 9, 5, 4, -1, -1, -1, -1, -1, -1, -1],
    [5, 4, 9, 10, 1, 0, 0, 8, 10, 8, 11, 10, -1, -1, -1, -1],
    [5, 4, 0, 5, 0, 11, 10, 5, 11, 11, 0, 3, -1, -1, -1, -1],
    [5, 4, 8, 10, 5, 8, 11, 10, 8, -1, -1, -1, -1, -1, -1, -1],
    [7, 8, 9, 5, 7, 9, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [3, 0, 9, 5, 3, 9, 3, 5, 7, -1, -1, -1, -1, -1, -1, -1],
    [7, 8, 0, 0, 1, 7, 7, 1, 5, -1, -1, -1, -1, -1, -1, -1],
    [1, 5, 7, 1, 7, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [7, 8, 9, 5, 7, 9, 1, 2, 10, -1, -1, -1, -1, -1, -1, -1],
    [1, 2, 10, 3, 0, 9, 3, 9, 5, 3, 5, 7, -1, -1, -1, -1],
    [0, 2, 8, 8, 2, 5, 8, 5, 7, 2, 10, 5, -1, -1, -1, -1],
    [2, 10, 5, 2, 5, 3, 3, 5, 7, -1, -1, -1, -1, -1, -1, -1],
    [5, 7, 9, 7, 8, 9, 11, 2, 3, -1, -1, -1, -1, -1, -1, -1],
    [5, 7, 9, 9, 7, 2, 2, 0, 9, 11, 2, 7, -1, -1, -1, -1],
    [11, 2, 3, 0, 1, 8, 1, 7, 8, 1, 5, 7, -1, -1, -1, -1],
    [2, 1, 11, 1, 7, 11, 1, 5, 7, -1, -1, -1, -1, -1, -1, -1],
    [7, 8, 9, 5, 7, 9, 3, 10, 1, 11, 10, 3, -1, -1, -1, -1],
    [5, 7, 0, 5, 0, 9, 7, 11, 0, 10, 1, 0, 11, 10, 0, -1],
    [11, 10, 0, 0, 3, 11, 10, 5, 0, 0, 7, 8, 5, 7, 0, -1],
    [11, 10, 5, 5, 7, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [6, 5, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 8, 3, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 8, 3, 1, 9, 8, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1],
    [1, 6, 5, 1, 2, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [1, 6, 5, 1, 2, 6, 0, 8, 3, -1, -1, -1, -1, -1, -1, -1],
    [9, 6, 5, 9, 0, 6, 0, 2, 6, -1, -1, -1, -1, -1, -1, -1],
    [5, 9, 8, 5, 8, 2, 5, 2, 6, 8, 3, 2, -1, -1, -1, -1],
    [11, 2, 3, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 0, 0, 8, 11, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, 11, 2, 3, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 1, 1, 9, 11, 9, 8, 11, 6, 5, 10, -1, -1, -1, -1],
    [6, 3, 11, 6, 5, 3, 5, 1, 3, -1, -1, -1, -1, -1, -1, -1],
    [0, 8, 11, 0, 11, 5, 0, 5, 1, 5, 11, 6, -1, -1, -1, -1],
    [6, 3, 11, 0, 3, 6, 0, 6, 5, 0, 5, 9, -1, -1, -1, -1],
    [6, 5, 9, 6, 9, 11, 11, 9, 8, -1, -1, -1, -1, -1, -1, -1],
    [4, 7, 8, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 4, 3, 4, 7, 3, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 0, 4, 7, 8, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1],
    [1, 9, 4, 1, 4, 7, 1, 7, 3, 6, 5, 10, -1, -1, -1, -1],
    [4, 7, 8, 1, 6, 5, 1, 2, 6, -1, -1, -1, -1, -1, -1, -1],
    [0, 4, 3, 4, 7, 3, 1, 6, 5, 1, 2, 6, -1, -1, -1, -1],
    [4, 7, 8, 9, 6, 5, 9, 0, 6, 0, 2, 6, -1, -1, -1, -1],
    [7, 3, 9, 4, 7, 9, 3, 2, 9, 5, 9, 6, 2, 6, 9, -1],
    [11, 2, 3, 4, 7, 8, 6, 5, 10, -1, -1, -1, -1, -1, -1, -1],
    [11, 4, 7, 11, 2, 4, 2, 0, 4, 6, 5, 10, -1, -1, -1, -1],
    [1, 9, 0, 11, 2, 3, 4, 7, 8, 6, 5, 10, -1, -1, -1, -1],
    [4, 7, 11, 9, 4, 11, 11, 2, 9, 1, 9, 2, 6, 5, 10, -1],
    [4, 7, 8, 6, 3, 11, 6, 5, 3, 5, 1, 3, -1, -1, -1, -1],
    [5, 1, 11, 5, 11, 6, 1, 0, 11, 4, 7, 11, 0, 4, 11, -1],
    [4, 7, 8, 6, 3, 11, 0, 3, 6, 0, 6, 5, 0, 5, 9, -1],
    [6, 5, 9, 6, 9, 11, 4, 7, 9, 7, 11, 9, -1, -1, -1, -1],
    [10, 4, 9, 6, 4, 10, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [10, 4, 9, 6, 4, 10, 0, 8, 3, -1, -1, -1, -1, -1, -1, -1],
    [0, 1, 10, 10, 6, 0, 6, 4, 0, -1, -1, -1, -1, -1, -1, -1],
    [1, 8, 3, 1, 6, 8, 8, 6, 4, 6, 1, 10, -1, -1, -1, -1],
    [1, 4, 9, 1, 2, 4, 2, 6, 4, -1, -1, -1, -1, -1, -1, -1],
    [1, 4, 9, 1, 2, 4, 2, 6, 4, 0, 8, 3, -1, -1, -1, -1],
    [0, 2, 4, 4, 2, 6, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [8, 3, 2, 8, 2, 4, 4, 2, 6, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 3, 10, 4, 9, 6, 4, 10, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 0, 0, 8, 11, 10, 4, 9, 6, 4, 10, -1, -1, -1, -1],
    [11, 2, 3, 0, 1, 10, 10, 6, 0, 6, 4, 0, -1, -1, -1, -1],
    [6, 4, 1, 6, 1, 10, 1, 4, 8, 11, 2, 1, 1, 8, 11, -1],
    [9, 6, 4, 3, 6, 9, 1, 3, 9, 11, 6, 3, -1, -1, -1, -1],
    [1, 8, 11, 0, 8, 1, 11, 6, 1, 1, 4, 9, 6, 4, 1, -1],
    [6, 3, 11, 0, 3, 6, 6, 4, 0, -1, -1, -1, -1, -1, -1, -1],
    [8, 6, 4, 6, 8, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [6, 7, 10, 7, 8, 10, 8, 9, 10, -1, -1, -1, -1, -1, -1, -1],
    [6, 7, 10, 0, 10, 7, 0, 9, 10, 0, 7, 3, -1, -1, -1, -1],
    [6, 7, 10, 1, 10, 7, 1, 7, 8, 0, 1, 8, -1, -1, -1, -1],
    [6, 7, 10, 1, 10, 7, 1, 7, 3, -1, -1, -1, -1, -1, -1, -1],
    [1, 2, 6, 1, 6, 8, 1, 8, 9, 6, 7, 8, -1, -1, -1, -1],
    [2, 6, 9, 1, 2, 9, 6, 7, 9, 3, 0, 9, 7, 3, 9, -1],
    [0, 7, 8, 7, 0, 6, 6, 0, 2, -1, -1, -1, -1, -1, -1, -1],
    [2, 7, 3, 2, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [11, 2, 3, 6, 7, 10, 7, 8, 10, 8, 9, 10, -1, -1, -1, -1],
    [2, 0, 7, 11, 2, 7, 0, 9, 7, 6, 7, 10, 9, 10, 7, -1],
    [6, 7, 10, 1, 10, 7, 1, 7, 8, 0, 1, 8, 11, 2, 3, -1],
    [11, 2, 1, 1, 7, 11, 10, 6, 1, 1, 6, 7, -1, -1, -1, -1],
    [8, 9, 6, 6, 7, 8, 1, 6, 9, 11, 6, 3, 1, 3, 6, -1],
    [0, 9, 1, 6, 7, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
    [0, 7, 8, 7, 0, 6, 0, 3, 11, 11, 6, 0, -1, -1, -1, -1],
    [6, 7, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1],
];

/// Mesh surface area, mesh volume and the four maximum diameters of `cshape.c`
/// (`[slice (equal z), column (equal y), row (equal x), 3D]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MeshCoefficients {
    pub surface_area: f64,
    pub volume: f64,
    pub diameters: [f64; 4],
}

/// `calculate_coefficients` on a padded mask (array order `(z, y, x)`) with spacing `(sz, sy, sx)`.
pub(crate) fn mesh_coefficients(mask: &Array3<bool>, spacing: [f64; 3]) -> MeshCoefficients {
    let (nz, ny, nx) = mask.dim();
    let mut area = 0.0f64;
    let mut volume = 0.0f64;
    let mut vertices: Vec<[f64; 3]> = Vec::new();
    const POINTS_EDGES: [[usize; 3]; 2] = [[6, 4, 3], [6, 7, 11]];
    if nz < 2 || ny < 2 || nx < 2 {
        return MeshCoefficients {
            surface_area: 0.0,
            volume: 0.0,
            diameters: [0.0; 4],
        };
    }
    for iz in 0..nz - 1 {
        for iy in 0..ny - 1 {
            for ix in 0..nx - 1 {
                let mut cube: u8 = 0;
                for (a, g) in GRID_ANGLES.iter().enumerate() {
                    if mask[(iz + g[0], iy + g[1], ix + g[2])] {
                        cube |= 1 << a;
                    }
                }
                let sign = if cube & 0x80 != 0 {
                    cube ^= 0xff;
                    -1.0
                } else {
                    1.0
                };
                for t in 0..3 {
                    if cube & (1 << POINTS_EDGES[0][t]) != 0 {
                        let e = VERT_LIST[POINTS_EDGES[1][t]];
                        vertices.push([
                            (iz as f64 + e[0]) * spacing[0],
                            (iy as f64 + e[1]) * spacing[1],
                            (ix as f64 + e[2]) * spacing[2],
                        ]);
                    }
                }
                if cube == 0 {
                    continue;
                }
                let row = &TRI_TABLE[cube as usize];
                let mut t = 0;
                while row[t * 3] >= 0 {
                    let point = |e: i8| -> [f64; 3] {
                        let v = VERT_LIST[e as usize];
                        [
                            (iz as f64 + v[0]) * spacing[0],
                            (iy as f64 + v[1]) * spacing[1],
                            (ix as f64 + v[2]) * spacing[2],
                        ]
                    };
                    let mut a = point(row[t * 3]);
                    let mut b = point(row[t * 3 + 1]);
                    let c = point(row[t * 3 + 2]);
                    let ab = [
                        a[1] * b[2] - b[1] * a[2],
                        a[2] * b[0] - b[2] * a[0],
                        a[0] * b[1] - b[0] * a[1],
                    ];
                    volume += sign * (ab[0] * c[0] + ab[1] * c[1] + ab[2] * c[2]);
                    for d in 0..3 {
                        a[d] -= c[d];
                        b[d] -= c[d];
                    }
                    let ab = [
                        a[1] * b[2] - b[1] * a[2],
                        a[2] * b[0] - b[2] * a[0],
                        a[0] * b[1] - b[0] * a[1],
                    ];
                    let sum = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
                    area += 0.5 * sum.sqrt();
                    t += 1;
                    if t * 3 >= 16 {
                        break;
                    }
                }
            }
        }
    }
    volume /= 6.0;
    MeshCoefficients {
        surface_area: area,
        volume,
        diameters: mesh_diameters(&vertices),
    }
}

/// `calculate_meshDiameter`: squared-distance maxima over vertex pairs with equal z, equal y,
/// equal x and over all pairs, then their square roots.
fn mesh_diameters(vertices: &[[f64; 3]]) -> [f64; 4] {
    let mut out = [0.0; 4];
    for axis in 0..3 {
        let mut sorted: Vec<[f64; 3]> = vertices.to_vec();
        sorted.sort_by(|a, b| a[axis].total_cmp(&b[axis]));
        let mut best = 0.0f64;
        let mut i = 0;
        while i < sorted.len() {
            let mut j = i;
            while j < sorted.len() && sorted[j][axis] == sorted[i][axis] {
                j += 1;
            }
            best = best.max(max_sq_distance(&sorted[i..j]));
            i = j;
        }
        out[axis] = best;
    }
    out[3] = max_sq_distance(vertices);
    out.map(f64::sqrt)
}

/// The squared distance of `cshape.c`: `(dz² + dy²) + dx²`.
#[inline]
fn sq_dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let d0 = a[0] - b[0];
    let d1 = a[1] - b[1];
    let d2 = a[2] - b[2];
    d0 * d0 + d1 * d1 + d2 * d2
}

/// The largest squared distance between a point of `a` and a point of `b` (four independent
/// maxima so the comparisons pipeline).
fn max_between(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    let mut m = [0.0f64; 4];
    for p in a {
        let mut chunks = b.chunks_exact(4);
        for c in &mut chunks {
            for l in 0..4 {
                m[l] = m[l].max(sq_dist(p, &c[l]));
            }
        }
        for q in chunks.remainder() {
            m[0] = m[0].max(sq_dist(p, q));
        }
    }
    m[0].max(m[1]).max(m[2].max(m[3]))
}

/// A node of a k-d tree over points: the bounding box of its points `[start, end)` and its
/// children (none for leaves).
struct KdNode {
    lo: [f64; 3],
    hi: [f64; 3],
    start: usize,
    end: usize,
    children: Option<(usize, usize)>,
}

const LEAF: usize = 24;

fn build_kd(points: &mut [[f64; 3]], start: usize, end: usize, nodes: &mut Vec<KdNode>) -> usize {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in &points[start..end] {
        for d in 0..3 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let id = nodes.len();
    nodes.push(KdNode {
        lo,
        hi,
        start,
        end,
        children: None,
    });
    if end - start > LEAF {
        let axis = (0..3)
            .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
            .unwrap_or(0);
        let mid = (end - start) / 2;
        points[start..end].select_nth_unstable_by(mid, |a, b| a[axis].total_cmp(&b[axis]));
        let left = build_kd(points, start, start + mid, nodes);
        let right = build_kd(points, start + mid, end, nodes);
        nodes[id].children = Some((left, right));
    }
    id
}

/// An upper bound of the squared distance between any point of `a` and any point of `b`,
/// inflated so that rounding in the distances themselves can never exceed it.
#[inline]
fn node_bound(a: &KdNode, b: &KdNode) -> f64 {
    let mut s = 0.0;
    for d in 0..3 {
        let x = (a.hi[d] - b.lo[d]).abs().max((b.hi[d] - a.lo[d]).abs());
        s += x * x;
    }
    s * (1.0 + 1e-12) + f64::MIN_POSITIVE
}

/// The largest squared distance between two points (0 for fewer than two points): exactly the
/// maximum of [`sq_dist`] over all pairs, found by a dual k-d tree search that skips pairs of
/// boxes whose bound cannot beat the best pair found so far.
pub(crate) fn max_sq_distance(points: &[[f64; 3]]) -> f64 {
    let n = points.len();
    if n < 2 {
        return 0.0;
    }
    if n <= 256 {
        let mut best = 0.0f64;
        for i in 1..n {
            best = best.max(max_between(&points[i..i + 1], &points[..i]));
        }
        return best;
    }
    let mut pts = points.to_vec();
    let mut nodes = Vec::with_capacity(2 * n / LEAF + 2);
    build_kd(&mut pts, 0, n, &mut nodes);
    // A good lower bound first: the farthest point from the extreme points along 13 directions.
    let dirs: [[f64; 3]; 13] = [
        [1.0, 0.0, 0.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 1.0, 0.0],
        [1.0, -1.0, 0.0],
        [1.0, 0.0, 1.0],
        [1.0, 0.0, -1.0],
        [0.0, 1.0, 1.0],
        [0.0, 1.0, -1.0],
        [1.0, 1.0, 1.0],
        [1.0, 1.0, -1.0],
        [1.0, -1.0, 1.0],
        [-1.0, 1.0, 1.0],
    ];
    let mut extremes = Vec::with_capacity(26);
    for dir in &dirs {
        let proj = |p: &[f64; 3]| p[0] * dir[0] + p[1] * dir[1] + p[2] * dir[2];
        let (mut a, mut b) = (0, 0);
        for (k, p) in pts.iter().enumerate() {
            if proj(p) < proj(&pts[a]) {
                a = k;
            }
            if proj(p) > proj(&pts[b]) {
                b = k;
            }
        }
        extremes.push(a);
        extremes.push(b);
    }
    extremes.sort_unstable();
    extremes.dedup();
    let mut best = 0.0f64;
    for &e in &extremes {
        best = best.max(max_between(&pts[e..e + 1], &pts));
    }
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    while let Some((a, b)) = stack.pop() {
        let (na, nb) = (&nodes[a], &nodes[b]);
        if node_bound(na, nb) <= best {
            continue;
        }
        match (na.children, nb.children) {
            (None, None) => {
                if a == b {
                    let s = &pts[na.start..na.end];
                    for i in 1..s.len() {
                        best = best.max(max_between(&s[i..i + 1], &s[..i]));
                    }
                } else {
                    // Only points of `a` that can beat `best` against `b`'s box.
                    let qs = &pts[nb.start..nb.end];
                    for p in &pts[na.start..na.end] {
                        let mut ub = 0.0;
                        for d in 0..3 {
                            let x = (p[d] - nb.lo[d]).abs().max((nb.hi[d] - p[d]).abs());
                            ub += x * x;
                        }
                        if ub * (1.0 + 1e-12) + f64::MIN_POSITIVE > best {
                            best = best.max(max_between(std::slice::from_ref(p), qs));
                        }
                    }
                }
            }
            _ if a == b => {
                if let Some((l, r)) = na.children {
                    stack.push((l, l));
                    stack.push((r, r));
                    stack.push((l, r));
                }
            }
            (ca, cb) => {
                // Split the larger box (or the one that can be split).
                let size = |n: &KdNode| n.end - n.start;
                let split_a = match (ca, cb) {
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    _ => size(na) >= size(nb),
                };
                let pairs = if split_a {
                    let (l, r) = ca.unwrap_or((a, a));
                    [(l, b), (r, b)]
                } else {
                    let (l, r) = cb.unwrap_or((b, b));
                    [(a, l), (a, r)]
                };
                // Visit the more promising pair first (pushed last).
                let (p0, p1) = (pairs[0], pairs[1]);
                if node_bound(&nodes[p0.0], &nodes[p0.1]) > node_bound(&nodes[p1.0], &nodes[p1.1]) {
                    stack.push(p1);
                    stack.push(p0);
                } else {
                    stack.push(p0);
                    stack.push(p1);
                }
            }
        }
    }
    best
}

/// Eigenvalues of a symmetric 3×3 matrix, ascending (cyclic Jacobi rotations).
pub(crate) fn symmetric_eigenvalues<const N: usize>(m: [[f64; N]; N]) -> [f64; N] {
    let mut a = m;
    for _ in 0..100 {
        let mut off = 0.0;
        for p in 0..N {
            for q in p + 1..N {
                off += a[p][q] * a[p][q];
            }
        }
        if off == 0.0 || !off.is_finite() {
            break;
        }
        for p in 0..N {
            for q in p + 1..N {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..N {
                    let akp = a[k][p];
                    let akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..N {
                    let apk = a[p][k];
                    let aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
            }
        }
    }
    let mut ev: [f64; N] = std::array::from_fn(|i| a[i][i]);
    ev.sort_by(f64::total_cmp);
    ev
}

/// Eigenvalues of the covariance of the ROI voxel positions (`coords · spacing`, centred and
/// scaled by `1/√Np`), as `shape.py` computes them: ascending, tiny negatives set to 0.
pub(crate) fn pca_eigenvalues<const N: usize>(coords: &[[f64; N]]) -> [f64; N] {
    let n = coords.len() as f64;
    let mut mean = [0.0; N];
    for c in coords {
        for d in 0..N {
            mean[d] += c[d];
        }
    }
    for m in mean.iter_mut() {
        *m /= n;
    }
    let root = n.sqrt();
    let mut cov = [[0.0; N]; N];
    for c in coords {
        let v: [f64; N] = std::array::from_fn(|d| (c[d] - mean[d]) / root);
        for r in 0..N {
            for s in 0..N {
                cov[r][s] += v[r] * v[s];
            }
        }
    }
    let mut ev = symmetric_eigenvalues(cov);
    for e in ev.iter_mut() {
        if *e < 0.0 && *e > -1e-10 {
            *e = 0.0;
        }
    }
    ev.sort_by(f64::total_cmp);
    ev
}

/// `a / b`, NaN where Python would raise `ZeroDivisionError` (PyRadiomics then reports NaN).
#[inline]
pub(crate) fn py_div(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        f64::NAN
    } else {
        a / b
    }
}

/// Computes the `enabled` shape features, in order, of a mask cropped to its bounding box
/// (array order `(k, j, i)`) with grid spacing `[si, sj, sk]`.
pub(crate) fn compute(
    mask: &Array3<bool>,
    spacing: [f64; 3],
    enabled: &[&str],
) -> Vec<(&'static str, f64)> {
    let (nz, ny, nx) = mask.dim();
    let mut padded = Array3::from_elem((nz + 2, ny + 2, nx + 2), false);
    let mut coords: Vec<[f64; 3]> = Vec::new();
    let zyx = [spacing[2], spacing[1], spacing[0]];
    for ((k, j, i), &m) in mask.indexed_iter() {
        if m {
            padded[(k + 1, j + 1, i + 1)] = true;
        }
    }
    for ((k, j, i), &m) in padded.indexed_iter() {
        if m {
            coords.push([k as f64 * zyx[0], j as f64 * zyx[1], i as f64 * zyx[2]]);
        }
    }
    let np = coords.len() as f64;
    let mesh = mesh_coefficients(&padded, zyx);
    let ev = pca_eigenvalues(&coords);
    let (a, v) = (mesh.surface_area, mesh.volume);
    let axis = |e: f64| if e < 0.0 { f64::NAN } else { e.sqrt() * 4.0 };
    let ratio = |x: f64, y: f64| {
        if x < 0.0 || y < 0.0 {
            f64::NAN
        } else {
            py_div(x, y).sqrt()
        }
    };
    let mut out = Vec::with_capacity(enabled.len());
    for &name in enabled {
        let (key, value): (&'static str, f64) = match name {
            "MeshVolume" => ("MeshVolume", v),
            "VoxelVolume" => ("VoxelVolume", np * (zyx[0] * zyx[2] * zyx[1])),
            "SurfaceArea" => ("SurfaceArea", a),
            "SurfaceVolumeRatio" => ("SurfaceVolumeRatio", py_div(a, v)),
            "Sphericity" => (
                "Sphericity",
                py_div((36.0 * std::f64::consts::PI * (v * v)).powf(1.0 / 3.0), a),
            ),
            "Compactness1" => (
                "Compactness1",
                py_div(v, a.powf(1.5) * std::f64::consts::PI.sqrt()),
            ),
            "Compactness2" => (
                "Compactness2",
                py_div(36.0 * std::f64::consts::PI * v.powf(2.0), a.powf(3.0)),
            ),
            "SphericalDisproportion" => (
                "SphericalDisproportion",
                py_div(a, (36.0 * std::f64::consts::PI * (v * v)).powf(1.0 / 3.0)),
            ),
            "Maximum3DDiameter" => ("Maximum3DDiameter", mesh.diameters[3]),
            "Maximum2DDiameterSlice" => ("Maximum2DDiameterSlice", mesh.diameters[0]),
            "Maximum2DDiameterColumn" => ("Maximum2DDiameterColumn", mesh.diameters[1]),
            "Maximum2DDiameterRow" => ("Maximum2DDiameterRow", mesh.diameters[2]),
            "MajorAxisLength" => ("MajorAxisLength", axis(ev[2])),
            "MinorAxisLength" => ("MinorAxisLength", axis(ev[1])),
            "LeastAxisLength" => ("LeastAxisLength", axis(ev[0])),
            "Elongation" => ("Elongation", ratio(ev[1], ev[2])),
            "Flatness" => ("Flatness", ratio(ev[0], ev[2])),
            _ => continue,
        };
        out.push((key, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(shape: (usize, usize, usize)) -> Array3<bool> {
        let (z, y, x) = shape;
        let mut m = Array3::from_elem((z + 2, y + 2, x + 2), false);
        for k in 0..z {
            for j in 0..y {
                for i in 0..x {
                    m[(k + 1, j + 1, i + 1)] = true;
                }
            }
        }
        m
    }

    #[test]
    fn cshape_test_vectors() {
        // Spec test vectors: a 1×1×2 block and a 2×2×2 cube at spacing 1.
        let c = mesh_coefficients(&block((1, 1, 2)), [1.0; 3]);
        assert!((c.surface_area - 4.560477932315068).abs() < 1e-12, "{c:?}");
        assert!((c.volume - 0.6666666666666666).abs() < 1e-12);
        assert_eq!(c.diameters, [2.0, 2.0, 1.0, 2.0]);
        let c = mesh_coefficients(&block((2, 2, 2)), [1.0; 3]);
        assert!((c.surface_area - 16.217332181807443).abs() < 1e-12);
        assert!((c.volume - 5.666666666666667).abs() < 1e-12);
        assert!((c.diameters[3] - 2.449489742783178).abs() < 1e-15);
        assert!((c.diameters[0] - 5f64.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn pruned_diameter_equals_brute_force() {
        // Points on a noisy sphere, more than the brute-force threshold.
        let mut pts = Vec::new();
        for i in 0..3000 {
            let t = i as f64 * 0.7;
            let u = (i as f64 * 0.013).sin();
            let r = 10.0 + (i % 7) as f64 * 0.1;
            let s = (1.0 - u * u).sqrt();
            pts.push([r * u, r * s * t.cos(), r * s * t.sin() * 0.8]);
        }
        let mut brute = 0.0f64;
        for i in 1..pts.len() {
            for j in 0..i {
                brute = brute.max(sq_dist(&pts[i], &pts[j]));
            }
        }
        assert_eq!(max_sq_distance(&pts), brute);
    }

    #[test]
    fn jacobi_eigenvalues() {
        let ev = symmetric_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
        assert!(
            (ev[0] - 1.0).abs() < 1e-14
                && (ev[1] - 3.0).abs() < 1e-14
                && (ev[2] - 5.0).abs() < 1e-14
        );
    }

    #[test]
    fn empty_and_single_voxel_masks_do_not_panic() {
        let m = Array3::from_elem((1, 1, 1), true);
        let all: Vec<&str> = super::super::settings::class_features("shape")
            .unwrap()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let out = compute(&m, [1.0; 3], &all);
        assert_eq!(out.len(), 17);
        let m = Array3::from_elem((2, 2, 2), false);
        let out = compute(&m, [1.0; 3], &all);
        assert_eq!(out.len(), 17);
    }
}
