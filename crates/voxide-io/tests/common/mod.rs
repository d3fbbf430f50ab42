//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

use voxide_core::{AnyImage, Geometry, Image, Voxel};

/// The shared test data folder (`../shared/data` from the workspace root). Missing data is a
/// failure, never a skip.
pub fn data_dir() -> PathBuf {
    voxide_testdata::data_dir()
}

/// A file in the shared data folder, which must exist.
pub fn data_file(rel: &str) -> PathBuf {
    let p = data_dir().join(rel);
    assert!(
        p.is_file(),
        "shared test data file {} is missing",
        p.display()
    );
    p
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Rotation about a unit axis by `angle` (Rodrigues).
pub fn rotation(axis: [f64; 3], angle: f64) -> [[f64; 3]; 3] {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let [x, y, z] = axis.map(|v| v / n);
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    [
        [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
        [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
        [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
    ]
}

/// Named test geometries: axis-aligned ones have values exactly representable in f32.
pub fn geometries(size: [usize; 3]) -> Vec<(&'static str, Geometry)> {
    let oblique = rotation([0.3, -0.5, 0.8], 0.7);
    let mut left_oblique = oblique;
    for row in left_oblique.iter_mut() {
        row[2] = -row[2];
    }
    vec![
        (
            "axis-aligned",
            Geometry::new(
                size,
                [0.75, 1.25, 2.5],
                [-100.25, 50.5, -30.0],
                voxide_core::geometry::IDENTITY,
            )
            .unwrap(),
        ),
        (
            "axis-aligned flipped (RAS-like)",
            Geometry::new(
                size,
                [0.5, 0.5, 3.0],
                [120.5, 99.75, -8.125],
                [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]],
            )
            .unwrap(),
        ),
        (
            "left-handed permuted",
            Geometry::new(
                size,
                [2.0, 0.625, 1.5],
                [10.0, -20.5, 300.25],
                [[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]],
            )
            .unwrap(),
        ),
        (
            "oblique",
            Geometry::new(size, [0.7, 0.9, 3.3], [-12.345, 67.891, -3.25], oblique).unwrap(),
        ),
        (
            "oblique left-handed",
            Geometry::new(size, [1.1, 0.45, 2.2], [33.3, -44.4, 55.5], left_oblique).unwrap(),
        ),
    ]
}

pub fn is_axis_aligned(g: &Geometry) -> bool {
    g.direction()
        .iter()
        .flatten()
        .all(|v| *v == 0.0 || v.abs() == 1.0)
}

/// Values spanning the type's range, in file order.
pub fn pattern<T: Voxel>(n: usize, extremes: &[f64]) -> Vec<T> {
    (0..n)
        .map(|i| match extremes.get(i) {
            Some(&e) => T::from_f64(e),
            None => T::from_f64((i as f64 * 7.25) % 200.0 - 50.0),
        })
        .collect()
}

/// One image of every voxel type on `g`.
pub fn images(g: &Geometry) -> Vec<AnyImage> {
    let n = g.len();
    vec![
        Image::<u8>::from_vec(g.clone(), pattern(n, &[0.0, 255.0, 1.0]))
            .unwrap()
            .into(),
        Image::<i16>::from_vec(g.clone(), pattern(n, &[-32768.0, 32767.0, -1.0]))
            .unwrap()
            .into(),
        Image::<u16>::from_vec(g.clone(), pattern(n, &[0.0, 65535.0, 1.0]))
            .unwrap()
            .into(),
        Image::<i32>::from_vec(
            g.clone(),
            pattern(n, &[i32::MIN as f64, i32::MAX as f64, -1.0]),
        )
        .unwrap()
        .into(),
        Image::<f32>::from_vec(
            g.clone(),
            pattern(
                n,
                &[
                    f32::MAX as f64,
                    f32::MIN_POSITIVE as f64,
                    -1e-30,
                    f64::INFINITY,
                    0.1,
                ],
            ),
        )
        .unwrap()
        .into(),
        Image::<f64>::from_vec(
            g.clone(),
            pattern(
                n,
                &[f64::MAX, -f64::MIN_POSITIVE, 1e-300, f64::NEG_INFINITY, 0.1],
            ),
        )
        .unwrap()
        .into(),
    ]
}

/// Largest absolute difference between two geometries' spacing, origin and direction.
pub fn geometry_error(a: &Geometry, b: &Geometry) -> f64 {
    assert_eq!(a.size(), b.size());
    let mut e: f64 = 0.0;
    for i in 0..3 {
        e = e.max((a.spacing()[i] - b.spacing()[i]).abs());
        e = e.max((a.origin()[i] - b.origin()[i]).abs());
        for j in 0..3 {
            e = e.max((a.direction()[i][j] - b.direction()[i][j]).abs());
        }
    }
    e
}
