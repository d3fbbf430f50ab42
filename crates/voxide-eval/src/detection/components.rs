//! Connected components of 3D masks.

use ndarray::{Array3, ArrayView3};

use crate::EvalError;

/// Which voxels touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Connectivity {
    /// Voxels sharing a face: 6 neighbours in 3D (4 in a single slice); SciPy's default
    /// `ndimage.label` structure.
    Faces,
    /// Voxels sharing a face, an edge or a corner: 26 neighbours in 3D (8 in a single slice).
    Full,
}

/// The connected components of a mask.
#[derive(Debug, Clone, PartialEq)]
pub struct Components {
    /// Per voxel: 0 for background, else the component's label `1..=count`. Labels are given
    /// in raster order (`k`, then `j`, then `i`) of each component's first voxel, as
    /// `scipy.ndimage.label` numbers them.
    pub labels: Array3<u32>,
    /// Number of components.
    pub count: usize,
    /// Voxels of component `l` at index `l − 1`.
    pub sizes: Vec<u64>,
}

/// Labels the connected components of the non-zero voxels of `mask` (shape `(nk, nj, ni)`).
pub fn connected_components(
    mask: ArrayView3<u8>,
    connectivity: Connectivity,
) -> Result<Components, EvalError> {
    let (nk, nj, ni) = mask.dim();
    let mut labels = Array3::<u32>::zeros((nk, nj, ni));
    let mut sizes = Vec::new();
    let mut offsets = Vec::new();
    for dk in -1i64..=1 {
        for dj in -1i64..=1 {
            for di in -1i64..=1 {
                let manhattan = dk.abs() + dj.abs() + di.abs();
                let keep = match connectivity {
                    Connectivity::Faces => manhattan == 1,
                    Connectivity::Full => manhattan >= 1,
                };
                if keep {
                    offsets.push((dk, dj, di));
                }
            }
        }
    }
    let mut stack: Vec<(usize, usize, usize)> = Vec::new();
    for ((k, j, i), &v) in mask.indexed_iter() {
        if v == 0 || labels[(k, j, i)] != 0 {
            continue;
        }
        let label = u32::try_from(sizes.len() + 1).map_err(|_| {
            EvalError::InvalidInput("more than 4 294 967 295 connected components".into())
        })?;
        labels[(k, j, i)] = label;
        let mut size = 0u64;
        stack.push((k, j, i));
        // Depth-first flood fill with an explicit stack: no recursion depth to overflow on a
        // large lesion.
        while let Some((k, j, i)) = stack.pop() {
            size += 1;
            for &(dk, dj, di) in &offsets {
                let (Some(k2), Some(j2), Some(i2)) = (
                    k.checked_add_signed(dk as isize),
                    j.checked_add_signed(dj as isize),
                    i.checked_add_signed(di as isize),
                ) else {
                    continue;
                };
                if k2 < nk
                    && j2 < nj
                    && i2 < ni
                    && mask[(k2, j2, i2)] != 0
                    && labels[(k2, j2, i2)] == 0
                {
                    labels[(k2, j2, i2)] = label;
                    stack.push((k2, j2, i2));
                }
            }
        }
        sizes.push(size);
    }
    Ok(Components {
        labels,
        count: sizes.len(),
        sizes,
    })
}
