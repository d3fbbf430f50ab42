//! The sparse grey level × column count matrix shared by GLSZM (column = zone size), GLDZM
//! (column = zone distance) and NGLDM (column = dependence count), and the IBSI feature
//! formulas these three families have in common.
//!
//! The matrix is sparse because a GLSZM's columns run up to the largest zone: a 100 000-voxel
//! ROI with one big zone and 64 levels would need 6.4 million mostly empty cells.

/// One non-zero cell of a [`ZoneMatrix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneEntry {
    /// Discretised grey level (row), `>= 1`.
    pub level: u32,
    /// Column: zone size, zone distance or dependence count, `>= 1`.
    pub column: u32,
    /// Number of zones (or neighbourhoods) with this level and column.
    pub count: u64,
}

/// A sparse count matrix with grey levels as rows and a positive integer (zone size, distance
/// or dependence count, depending on the family) as columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZoneMatrix {
    n_levels: usize,
    entries: Vec<ZoneEntry>,
    n_voxels: u64,
}

impl ZoneMatrix {
    /// Builds a matrix from one `(level, column)` pair per zone. `n_voxels` is the number of
    /// ROI voxels the zones were taken from (`N_v`). Pairs with level or column 0 are ignored
    /// (both count from 1; a 0 would divide by zero in the emphasis features).
    pub fn from_pairs(n_levels: usize, pairs: Vec<(u32, u32)>, n_voxels: u64) -> ZoneMatrix {
        // Sorting packed u64 keys is several times faster than sorting tuples, and a 3D GLSZM
        // of a noisy ROI has tens of thousands of zones.
        let mut keys: Vec<u64> = pairs
            .into_iter()
            .filter(|&(l, c)| l > 0 && c > 0)
            .map(|(l, c)| (u64::from(l) << 32) | u64::from(c))
            .collect();
        keys.sort_unstable();
        let mut entries: Vec<ZoneEntry> = Vec::new();
        for key in keys {
            let (level, column) = ((key >> 32) as u32, key as u32);
            match entries.last_mut() {
                Some(e) if e.level == level && e.column == column => e.count += 1,
                _ => entries.push(ZoneEntry {
                    level,
                    column,
                    count: 1,
                }),
            }
        }
        let n_levels = n_levels.max(entries.iter().map(|e| e.level as usize).max().unwrap_or(0));
        ZoneMatrix {
            n_levels,
            entries,
            n_voxels,
        }
    }

    /// Builds a matrix from a dense row-major count table: row `r` holds grey level
    /// `row_levels[r]`, column `c` holds column value `c + 1`.
    pub(crate) fn from_dense(
        n_levels: usize,
        row_levels: &[u32],
        n_columns: usize,
        counts: &[u64],
        n_voxels: u64,
    ) -> ZoneMatrix {
        let mut entries = Vec::new();
        if n_columns > 0 {
            for (&level, cells) in row_levels.iter().zip(counts.chunks(n_columns)) {
                for (col, &count) in cells.iter().enumerate() {
                    if count > 0 && level > 0 {
                        entries.push(ZoneEntry {
                            level,
                            column: col as u32 + 1,
                            count,
                        });
                    }
                }
            }
        }
        entries.sort_unstable_by_key(|e| (e.level, e.column));
        ZoneMatrix {
            n_levels,
            entries,
            n_voxels,
        }
    }

    /// Sums matrices cell by cell, and their voxel counts (IBSI 2.5D merging, 62GR).
    pub fn merge(matrices: &[ZoneMatrix]) -> ZoneMatrix {
        let n_levels = matrices.iter().map(|m| m.n_levels).max().unwrap_or(0);
        let n_voxels = matrices.iter().map(|m| m.n_voxels).sum();
        let mut cells: Vec<ZoneEntry> = matrices
            .iter()
            .flat_map(|m| m.entries.iter().copied())
            .collect();
        cells.sort_unstable_by_key(|e| (e.level, e.column));
        let mut entries: Vec<ZoneEntry> = Vec::with_capacity(cells.len());
        for c in cells {
            match entries.last_mut() {
                Some(e) if e.level == c.level && e.column == c.column => e.count += c.count,
                _ => entries.push(c),
            }
        }
        ZoneMatrix {
            n_levels,
            entries,
            n_voxels,
        }
    }

    /// The non-zero cells, sorted by level then column.
    pub fn entries(&self) -> &[ZoneEntry] {
        &self.entries
    }

    /// Number of grey level rows (levels `1..=n_levels`).
    pub fn n_levels(&self) -> usize {
        self.n_levels
    }

    /// Number of ROI voxels the matrix was built from (`N_v`).
    pub fn n_voxels(&self) -> u64 {
        self.n_voxels
    }

    /// Total count over all cells (`N_s`: zones, or neighbourhoods for NGLDM).
    pub fn total(&self) -> u64 {
        self.entries.iter().map(|e| e.count).sum()
    }

    /// The largest column with a non-zero cell (0 for an empty matrix).
    pub fn max_column(&self) -> u32 {
        self.entries.iter().map(|e| e.column).max().unwrap_or(0)
    }

    /// Whether the matrix has no counts.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The count at `(level, column)`, both counted from 1.
    pub fn get(&self, level: u32, column: u32) -> u64 {
        self.entries
            .binary_search_by_key(&(level, column), |e| (e.level, e.column))
            .map_or(0, |i| self.entries[i].count)
    }
}

/// Number of values [`ibsi_values`] returns.
pub(crate) const N_VALUES: usize = 17;

/// Indices into [`ibsi_values`]'s array. "Column" is size (GLSZM), distance (GLDZM) or
/// dependence count (NGLDM).
pub(crate) mod idx {
    pub const SMALL: usize = 0;
    pub const LARGE: usize = 1;
    pub const LOW_GREY: usize = 2;
    pub const HIGH_GREY: usize = 3;
    pub const SMALL_LOW: usize = 4;
    pub const SMALL_HIGH: usize = 5;
    pub const LARGE_LOW: usize = 6;
    pub const LARGE_HIGH: usize = 7;
    pub const GLNU: usize = 8;
    pub const GLNU_NORM: usize = 9;
    pub const COLUMN_NU: usize = 10;
    pub const COLUMN_NU_NORM: usize = 11;
    pub const PERCENTAGE: usize = 12;
    pub const GREY_VARIANCE: usize = 13;
    pub const COLUMN_VARIANCE: usize = 14;
    pub const ENTROPY: usize = 15;
    pub const ENERGY: usize = 16;
}

/// The IBSI formulas shared by GLSZM, GLDZM and NGLDM, indexed by [`idx`]; `None` for an empty
/// matrix (every feature undefined).
pub(crate) fn ibsi_values(m: &ZoneMatrix) -> Option<[f64; N_VALUES]> {
    let ns = m.total() as f64;
    if ns == 0.0 {
        return None;
    }
    // Rows are summed run by run (entries are sorted by level), so that a huge grey level
    // never sizes an allocation. Columns are dense up to the largest one: at most N_v cells,
    // usually far fewer.
    let mut row_sq = 0.0;
    let mut row: Option<(u32, f64)> = None;
    let mut cols = vec![0.0f64; m.max_column() as usize + 1];
    let mut v = [0.0f64; N_VALUES];
    let (mut mu_i, mut mu_j) = (0.0, 0.0);
    for e in &m.entries {
        let c = e.count as f64;
        let (i, j) = (f64::from(e.level), f64::from(e.column));
        let (i2, j2) = (i * i, j * j);
        v[idx::SMALL] += c / j2;
        v[idx::LARGE] += c * j2;
        v[idx::LOW_GREY] += c / i2;
        v[idx::HIGH_GREY] += c * i2;
        v[idx::SMALL_LOW] += c / (i2 * j2);
        v[idx::SMALL_HIGH] += c * i2 / j2;
        v[idx::LARGE_LOW] += c * j2 / i2;
        v[idx::LARGE_HIGH] += c * i2 * j2;
        row = match row {
            Some((level, sum)) if level == e.level => Some((level, sum + c)),
            Some((_, sum)) => {
                row_sq += sum * sum;
                Some((e.level, c))
            }
            None => Some((e.level, c)),
        };
        cols[e.column as usize] += c;
        mu_i += c * i;
        mu_j += c * j;
        let p = c / ns;
        v[idx::ENTROPY] -= p * p.log2();
        v[idx::ENERGY] += p * p;
    }
    for x in &mut v[idx::SMALL..=idx::LARGE_HIGH] {
        *x /= ns;
    }
    if let Some((_, sum)) = row {
        row_sq += sum * sum;
    }
    let col_sq: f64 = cols.iter().map(|c| c * c).sum();
    v[idx::GLNU] = row_sq / ns;
    v[idx::GLNU_NORM] = row_sq / (ns * ns);
    v[idx::COLUMN_NU] = col_sq / ns;
    v[idx::COLUMN_NU_NORM] = col_sq / (ns * ns);
    v[idx::PERCENTAGE] = if m.n_voxels > 0 {
        ns / m.n_voxels as f64
    } else {
        f64::NAN
    };
    // Variances as a second pass around the means rather than E[x²] − μ², which cancels
    // badly for large zone sizes.
    let (mu_i, mu_j) = (mu_i / ns, mu_j / ns);
    let (mut var_i, mut var_j) = (0.0, 0.0);
    for e in &m.entries {
        let c = e.count as f64;
        var_i += c * (f64::from(e.level) - mu_i).powi(2);
        var_j += c * (f64::from(e.column) - mu_j).powi(2);
    }
    v[idx::GREY_VARIANCE] = var_i / ns;
    v[idx::COLUMN_VARIANCE] = var_j / ns;
    Some(v)
}

/// Picks the values of `indices` out of an [`ibsi_values`] array.
pub(crate) fn select<const N: usize>(
    v: Option<[f64; N_VALUES]>,
    indices: &[usize; N],
) -> Option<[f64; N]> {
    v.map(|v| indices.map(|i| v[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_counts_and_merges() {
        let m = ZoneMatrix::from_pairs(3, vec![(1, 2), (3, 1), (1, 2), (0, 4), (2, 0)], 7);
        assert_eq!(m.total(), 3);
        assert_eq!(m.get(1, 2), 2);
        assert_eq!(m.get(3, 1), 1);
        assert_eq!(m.get(2, 2), 0);
        let merged = ZoneMatrix::merge(&[m.clone(), m]);
        assert_eq!(merged.get(1, 2), 4);
        assert_eq!(merged.n_voxels(), 14);
    }

    #[test]
    fn single_cell_values() {
        // One zone of level 2 and size 3 in a 3-voxel ROI.
        let m = ZoneMatrix::from_pairs(2, vec![(2, 3)], 3);
        let v = ibsi_values(&m).unwrap();
        assert!((v[idx::SMALL] - 1.0 / 9.0).abs() < 1e-15);
        assert!((v[idx::LARGE_HIGH] - 36.0).abs() < 1e-12);
        assert_eq!(v[idx::ENTROPY], 0.0);
        assert_eq!(v[idx::ENERGY], 1.0);
        assert_eq!(v[idx::GREY_VARIANCE], 0.0);
        assert!((v[idx::PERCENTAGE] - 1.0 / 3.0).abs() < 1e-15);
        assert!(ibsi_values(&ZoneMatrix::default()).is_none());
    }
}
