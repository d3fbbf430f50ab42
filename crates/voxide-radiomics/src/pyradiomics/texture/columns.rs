//! The formulas GLSZM (column = zone size) and GLDM (column = dependence count + 1) share,
//! evaluated on a sparse `(grey level, column, count)` list.

use super::EPS;

/// One non-zero cell: grey level, column value (≥ 1) and count.
pub(super) type Cell = (f64, f64, f64);

/// The shared feature values of one matrix. `n` is the matrix total (`Nz`).
#[derive(Debug, Clone, Copy)]
pub(super) struct ColumnFeatures {
    pub small: f64,
    pub large: f64,
    pub gln: f64,
    pub glnn: f64,
    pub cn: f64,
    pub cnn: f64,
    /// `Nz / Np`, `Np = Σ count × column`.
    pub percentage: f64,
    pub grey_variance: f64,
    pub column_variance: f64,
    pub entropy: f64,
    pub low: f64,
    pub high: f64,
    pub small_low: f64,
    pub small_high: f64,
    pub large_low: f64,
    pub large_high: f64,
}

/// Evaluates the shared formulas on `cells` sorted by grey level (any column order).
/// PyRadiomics replaces a zero total by 1, so an empty list gives zeros, not NaN.
pub(super) fn column_features(cells: &[Cell]) -> ColumnFeatures {
    let total: f64 = cells.iter().map(|c| c.2).sum();
    let nz = if total == 0.0 { 1.0 } else { total };
    let np_raw: f64 = cells.iter().map(|c| c.2 * c.1).sum();
    let np = if np_raw == 0.0 { 1.0 } else { np_raw };
    // Column marginal pc (sparse: sort by column).
    let mut by_column: Vec<(f64, f64)> = cells.iter().map(|c| (c.1, c.2)).collect();
    by_column.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut pc: Vec<(f64, f64)> = Vec::new();
    for (c, v) in by_column {
        match pc.last_mut() {
            Some(last) if last.0 == c => last.1 += v,
            _ => pc.push((c, v)),
        }
    }
    // Grey-level marginal pg (cells are grouped by level).
    let mut pg: Vec<(f64, f64)> = Vec::new();
    for &(i, _, v) in cells {
        match pg.last_mut() {
            Some(last) if last.0 == i => last.1 += v,
            _ => pg.push((i, v)),
        }
    }
    let (mut small, mut large, mut cn, mut cu) = (0.0, 0.0, 0.0, 0.0);
    for &(c, v) in &pc {
        small += v / (c * c);
        large += v * c * c;
        cn += v * v;
        cu += v / nz * c;
    }
    let column_variance: f64 = pc.iter().map(|&(c, v)| v / nz * (c - cu) * (c - cu)).sum();
    let (mut gln, mut low, mut high, mut gu) = (0.0, 0.0, 0.0, 0.0);
    for &(i, v) in &pg {
        gln += v * v;
        low += v / (i * i);
        high += v * i * i;
        gu += v / nz * i;
    }
    let grey_variance: f64 = pg.iter().map(|&(i, v)| v / nz * (i - gu) * (i - gu)).sum();
    let (mut entropy, mut small_low, mut small_high, mut large_low, mut large_high) =
        (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(i, c, v) in cells {
        let (i2, c2) = (i * i, c * c);
        let q = v / nz;
        entropy -= q * (q + EPS).log2();
        small_low += v / (i2 * c2);
        small_high += v * i2 / c2;
        large_low += v * c2 / i2;
        large_high += v * i2 * c2;
    }
    ColumnFeatures {
        small: small / nz,
        large: large / nz,
        gln: gln / nz,
        glnn: gln / (nz * nz),
        cn: cn / nz,
        cnn: cn / (nz * nz),
        percentage: nz / np,
        grey_variance,
        column_variance,
        entropy,
        low: low / nz,
        high: high / nz,
        small_low: small_low / nz,
        small_high: small_high / nz,
        large_low: large_low / nz,
        large_high: large_high / nz,
    }
}
