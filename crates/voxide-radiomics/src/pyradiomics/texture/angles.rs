//! PyRadiomics' neighbour offsets ("angles"): the C functions `get_angle_count` and
//! `build_angles` of `cmatrices.c`.

use crate::RadiomicsError;

/// The neighbour offsets `(dz, dy, dx)` PyRadiomics uses for an array of shape `size`
/// (`(nk, nj, ni)`, the cropped ROI box), in its order.
///
/// Offsets are enumerated from `(+m, +m, +m)` downwards, the last axis fastest (`m` the largest
/// distance); an offset is kept when it does not move along `force_2d_axis`, each component is
/// shorter than the array along its axis, and its Chebyshev length is one of `distances`.
/// `get_angle_count` decides how many are taken: all of them when `bidirectional` (GLSZM, GLDM,
/// NGTDM), the first half otherwise (GLCM, GLRLM: one of each pair `±a`). As in C, a repeated
/// distance is counted twice and the enumeration then wraps around, repeating offsets.
///
/// Default 3D, distance 1, all sizes ≥ 2: 13 offsets `(1,1,1) (1,1,0) (1,1,-1) (1,0,1) (1,0,0)
/// (1,0,-1) (1,-1,1) (1,-1,0) (1,-1,-1) (0,1,1) (0,1,0) (0,1,-1) (0,0,1)`, bidirectional adds
/// their negatives in the continued order `(0,0,-1) ... (-1,-1,-1)`.
///
/// # Errors
/// [`RadiomicsError::InvalidSetting`] for a distance below 1, no distances, or no offset at all
/// (e.g. a single voxel); PyRadiomics raises `RuntimeError` in these cases.
pub fn angles(
    size: [usize; 3],
    distances: &[usize],
    force_2d_axis: Option<usize>,
    bidirectional: bool,
) -> Result<Vec<[isize; 3]>, RadiomicsError> {
    if let Some(&d) = distances.iter().find(|&&d| d < 1) {
        return Err(RadiomicsError::InvalidSetting(format!(
            "PyRadiomics distances must be at least 1, got {d}"
        )));
    }
    // get_angle_count: Na = Σ_dist Π_axis (2 dist + 1) − Π_axis (2 dist − 1), with axes shorter
    // than the distance limited to their size.
    let mut count: i128 = 0;
    for &dist in distances {
        let dist = dist as i128;
        let (mut full, mut inner) = (1i128, 1i128);
        for (d, &n) in size.iter().enumerate() {
            if force_2d_axis == Some(d) {
                continue;
            }
            let n = n as i128;
            if dist < n {
                full = full.saturating_mul(2 * dist + 1);
                inner = inner.saturating_mul(2 * dist - 1);
            } else {
                let span = 2 * (n - 1).max(0) + 1;
                full = full.saturating_mul(span);
                inner = inner.saturating_mul(span);
            }
        }
        count = count.saturating_add(full - inner);
    }
    if !bidirectional {
        count /= 2;
    }
    if count <= 0 {
        return Err(RadiomicsError::InvalidSetting(format!(
            "no neighbour offset of distances {distances:?} fits an ROI box of {size:?} voxels (z, y, x){}: PyRadiomics fails with \"Error getting angle count\"",
            if force_2d_axis.is_some() { " with force2D" } else { "" }
        )));
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let max_distance = distances.iter().copied().max().unwrap_or(1) as isize;
    // Valid offsets per axis, from +max_distance down (the C loop skips the invalid ones).
    let ranges: Vec<(isize, isize)> = size
        .iter()
        .enumerate()
        .map(|(d, &n)| {
            if force_2d_axis == Some(d) {
                (0, 0)
            } else {
                let limit = (n as isize - 1).max(0).min(max_distance);
                (limit, -limit)
            }
        })
        .collect();
    let mut out: Vec<[isize; 3]> = Vec::new();
    while out.len() < count {
        let before = out.len();
        'cycle: for o0 in (ranges[0].1..=ranges[0].0).rev() {
            for o1 in (ranges[1].1..=ranges[1].0).rev() {
                for o2 in (ranges[2].1..=ranges[2].0).rev() {
                    let length = o0.abs().max(o1.abs()).max(o2.abs());
                    if length >= 1 && distances.contains(&(length as usize)) {
                        out.push([o0, o1, o2]);
                        if out.len() == count {
                            break 'cycle;
                        }
                    }
                }
            }
        }
        if out.len() == before {
            // Cannot happen when the count is positive; guards against looping forever.
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_3d_mono_and_bidirectional() {
        let mono = angles([5, 5, 5], &[1], None, false).unwrap();
        assert_eq!(
            mono,
            vec![
                [1, 1, 1],
                [1, 1, 0],
                [1, 1, -1],
                [1, 0, 1],
                [1, 0, 0],
                [1, 0, -1],
                [1, -1, 1],
                [1, -1, 0],
                [1, -1, -1],
                [0, 1, 1],
                [0, 1, 0],
                [0, 1, -1],
                [0, 0, 1]
            ]
        );
        let bi = angles([5, 5, 5], &[1], None, true).unwrap();
        assert_eq!(bi.len(), 26);
        assert_eq!(&bi[..13], &mono[..]);
        assert_eq!(bi[13], [0, 0, -1]);
        assert_eq!(bi[25], [-1, -1, -1]);
    }

    #[test]
    fn thin_axes_and_force_2d() {
        let single_slice = angles([1, 70, 47], &[1], None, false).unwrap();
        assert_eq!(
            single_slice,
            vec![[0, 1, 1], [0, 1, 0], [0, 1, -1], [0, 0, 1]]
        );
        assert_eq!(
            angles([7, 70, 47], &[1], Some(0), false).unwrap(),
            single_slice
        );
        assert_eq!(angles([7, 70, 47], &[1], Some(0), true).unwrap().len(), 8);
        assert_eq!(
            angles([7, 70, 47], &[1], Some(2), false).unwrap(),
            vec![[1, 1, 0], [1, 0, 0], [1, -1, 0], [0, 1, 0]]
        );
        // force2Ddimension beyond the axes excludes nothing.
        assert_eq!(angles([3, 3, 3], &[1], Some(5), false).unwrap().len(), 13);
    }

    #[test]
    fn distances() {
        assert_eq!(angles([5, 5, 5], &[2], None, false).unwrap().len(), 49);
        assert_eq!(angles([5, 5, 5], &[2], None, false).unwrap()[0], [2, 2, 2]);
        assert_eq!(angles([5, 5, 5], &[1, 2], None, false).unwrap().len(), 62);
        // Distance 2 in a box 2 voxels thick along z: offsets along z limited to ±1.
        let a = angles([2, 5, 5], &[2], None, true).unwrap();
        assert_eq!(a.len(), 3 * 25 - 3 * 9);
        assert!(a.iter().all(|o| o[0].abs() <= 1));
        // Repeated distance: counted twice, the enumeration wraps around (C behaviour).
        let twice = angles([5, 5, 5], &[1, 1], None, false).unwrap();
        assert_eq!(twice.len(), 26);
        assert_eq!(
            &twice[..],
            &angles([5, 5, 5], &[1], None, true).unwrap()[..]
        );
    }

    #[test]
    fn errors() {
        assert!(angles([5, 5, 5], &[0], None, false).is_err());
        assert!(angles([5, 5, 5], &[], None, false).is_err());
        assert!(angles([1, 1, 1], &[1], None, true).is_err());
        assert!(angles([5, 1, 1], &[1], Some(0), true).is_err());
        // Only distances longer than the box: no offset.
        assert!(angles([2, 2, 2], &[3], None, true).is_err());
    }
}
