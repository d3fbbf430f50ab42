//! Eigenvalues of a real symmetric matrix (for the GLCM maximal correlation coefficient):
//! Householder reduction to tridiagonal form, then the implicit QL algorithm with Wilkinson
//! shifts (the classic `tred2` / `tqli` pair, eigenvalues only).

/// The eigenvalues of the symmetric `n × n` row-major matrix `a` (only its lower triangle is
/// read; `a` is overwritten), in no particular order. Never panics: a matrix with NaN entries
/// gives meaningless values after a bounded number of iterations.
pub(crate) fn symmetric_eigenvalues(a: &mut [f64], n: usize) -> Vec<f64> {
    if n == 0 || a.len() < n * n {
        return Vec::new();
    }
    let (mut d, mut e) = tridiagonalize(a, n);
    tridiagonal_ql(&mut d, &mut e);
    d
}

/// Householder reduction of the symmetric matrix `a` to a tridiagonal one: returns its
/// diagonal `d` and sub-diagonal `e` (`e[i]` couples `i - 1` and `i`, `e[0] = 0`).
fn tridiagonalize(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    for i in (1..n).rev() {
        let l = i - 1;
        let mut h = 0.0;
        if l > 0 {
            let scale: f64 = (0..=l).map(|k| a[i * n + k].abs()).sum();
            if scale == 0.0 {
                e[i] = a[i * n + l];
            } else {
                for k in 0..=l {
                    a[i * n + k] /= scale;
                    h += a[i * n + k] * a[i * n + k];
                }
                let mut f = a[i * n + l];
                let mut g = if f >= 0.0 { -h.sqrt() } else { h.sqrt() };
                e[i] = scale * g;
                h -= f * g;
                a[i * n + l] = f - g;
                f = 0.0;
                for j in 0..=l {
                    g = 0.0;
                    for k in 0..=j {
                        g += a[j * n + k] * a[i * n + k];
                    }
                    for k in j + 1..=l {
                        g += a[k * n + j] * a[i * n + k];
                    }
                    e[j] = g / h;
                    f += e[j] * a[i * n + j];
                }
                let hh = f / (h + h);
                for j in 0..=l {
                    let f = a[i * n + j];
                    let g = e[j] - hh * f;
                    e[j] = g;
                    for k in 0..=j {
                        a[j * n + k] -= f * e[k] + g * a[i * n + k];
                    }
                }
            }
        } else {
            e[i] = a[i * n + l];
        }
        d[i] = h;
    }
    e[0] = 0.0;
    for i in 0..n {
        d[i] = a[i * n + i];
    }
    (d, e)
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and sub-diagonal `e`
/// (`e[i]` couples `i - 1` and `i`), left in `d`.
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    if n < 2 {
        return;
    }
    for i in 1..n {
        e[i - 1] = e[i];
    }
    e[n - 1] = 0.0;
    for l in 0..n {
        let mut iterations = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                // Negated test so that NaN also ends the search.
                if !(e[m].abs() > f64::EPSILON * dd) {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            iterations += 1;
            if iterations > 100 {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + if g >= 0.0 { r.abs() } else { -r.abs() });
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn small_matrices() {
        assert!(symmetric_eigenvalues(&mut [], 0).is_empty());
        assert_eq!(symmetric_eigenvalues(&mut [3.0], 1), vec![3.0]);
        let ev = sorted(symmetric_eigenvalues(&mut [2.0, 1.0, 1.0, 2.0], 2));
        assert!((ev[0] - 1.0).abs() < 1e-14 && (ev[1] - 3.0).abs() < 1e-14);
        // Diagonal: the diagonal itself.
        let mut m = vec![0.0; 16];
        for (i, v) in [4.0, -1.0, 0.5, 2.0].iter().enumerate() {
            m[i * 4 + i] = *v;
        }
        assert_eq!(
            sorted(symmetric_eigenvalues(&mut m, 4)),
            vec![-1.0, 0.5, 2.0, 4.0]
        );
    }

    #[test]
    fn tridiagonal_laplacian() {
        // Eigenvalues of the n×n matrix tridiag(-1, 2, -1): 2 - 2 cos(kπ/(n+1)).
        let n = 12;
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            m[i * n + i] = 2.0;
            if i + 1 < n {
                m[i * n + i + 1] = -1.0;
                m[(i + 1) * n + i] = -1.0;
            }
        }
        let ev = sorted(symmetric_eigenvalues(&mut m, n));
        for (k, v) in ev.iter().enumerate() {
            let want = 2.0 - 2.0 * ((k + 1) as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
            assert!((v - want).abs() < 1e-13, "{k}: {v} vs {want}");
        }
    }

    #[test]
    fn dense_matrix_trace_and_frobenius() {
        // B Bᵀ for a fixed B: eigenvalues are ≥ 0, sum = trace, sum of squares = ‖A‖²_F.
        let n = 9;
        let b: Vec<f64> = (0..n * n)
            .map(|i| ((i * 37 + 11) % 17) as f64 / 7.0 - 1.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum();
            }
        }
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let frob: f64 = a.iter().map(|v| v * v).sum();
        let ev = symmetric_eigenvalues(&mut a.clone(), n);
        assert!(ev.iter().all(|&v| v > -1e-12));
        assert!((ev.iter().sum::<f64>() - trace).abs() < 1e-11 * trace);
        assert!((ev.iter().map(|v| v * v).sum::<f64>() - frob).abs() < 1e-11 * frob);
    }

    #[test]
    fn nan_terminates() {
        let mut m = vec![f64::NAN, 1.0, 1.0, f64::NAN];
        assert_eq!(symmetric_eigenvalues(&mut m, 2).len(), 2);
    }
}
