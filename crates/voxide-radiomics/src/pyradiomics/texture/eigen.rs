//! Eigenvalues for the GLCM maximal correlation coefficient.
//!
//! [`symmetric_eigenvalues`] (used): Householder reduction of a dense symmetric matrix to
//! tridiagonal form (full storage, row-contiguous updates), then implicit QL with Wilkinson
//! shifts. `general_eigenvalues` (tests only: the reference the MCC shortcut is checked
//! against) handles any real matrix as `numpy.linalg.eigvals` does: Householder reduction to
//! Hessenberg form, then the Francis double-shift QR algorithm.

/// `Σ a[i] b[i]` with four independent partial sums (vectorises; the order differs from a
/// sequential sum by rounding only).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Whether `value` is negligible next to `scale` (≤ machine epsilon × `scale`); true for NaN
/// too, so that NaN input ends the iterations instead of looping.
fn negligible(value: f64, scale: f64) -> bool {
    value.partial_cmp(&(f64::EPSILON * scale)) != Some(std::cmp::Ordering::Greater)
}

/// The eigenvalues of the symmetric `n × n` row-major matrix `a` (both triangles must hold
/// the matrix; `a` is overwritten), in no particular order. Never panics: NaN entries give
/// meaningless values after a bounded number of iterations.
pub(crate) fn symmetric_eigenvalues(a: &mut [f64], n: usize) -> Vec<f64> {
    if n == 0 || a.len() < n * n {
        return Vec::new();
    }
    let (mut d, mut e) = tridiagonalize(a, n);
    tridiagonal_ql(&mut d, &mut e);
    d
}

/// Householder reduction of the symmetric `a` to tridiagonal form: returns the diagonal `d`
/// and the off-diagonal `e` (`e[i]` couples `i` and `i + 1`; `e[n − 1] = 0`).
fn tridiagonalize(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut e = vec![0.0; n];
    let mut v = vec![0.0; n];
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        let m = n - k - 1;
        let x = &a[k * n + k + 1..k * n + n];
        let tail: f64 = x[1..].iter().map(|t| t * t).sum();
        if tail == 0.0 || !tail.is_finite() {
            // Already tridiagonal in this column.
            e[k] = x[0];
            continue;
        }
        let norm = (x[0] * x[0] + tail).sqrt();
        let alpha = if x[0] > 0.0 { -norm } else { norm };
        v[..m].copy_from_slice(x);
        v[0] -= alpha;
        let vv = v[0] * v[0] + tail;
        let beta = 2.0 / vv;
        // p = β A' v over the trailing block A' = a[k+1.., k+1..].
        for r in 0..m {
            let row = &a[(k + 1 + r) * n + k + 1..(k + 1 + r) * n + n];
            p[r] = beta * dot(row, &v[..m]);
        }
        // w = p − (β/2)(pᵀv) v, kept in p.
        let kk = 0.5 * beta * dot(&p[..m], &v[..m]);
        for r in 0..m {
            p[r] -= kk * v[r];
        }
        // A' ← A' − v wᵀ − w vᵀ.
        for r in 0..m {
            let (vr, wr) = (v[r], p[r]);
            let row = &mut a[(k + 1 + r) * n + k + 1..(k + 1 + r) * n + n];
            for ((cell, &vc), &wc) in row.iter_mut().zip(&v[..m]).zip(&p[..m]) {
                *cell -= vr * wc + wr * vc;
            }
        }
        e[k] = alpha;
    }
    if n >= 2 {
        e[n - 2] = a[(n - 2) * n + n - 1];
    }
    let d = (0..n).map(|i| a[i * n + i]).collect();
    (d, e)
}

/// Eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and off-diagonal `e`
/// (`e[i]` couples `i` and `i + 1`), left in `d` (implicit QL, Wilkinson shifts). Plain
/// `sqrt(a² + b²)` instead of `hypot`: the GLCM matrices are bounded (entries ≤ a few
/// thousand), and libm's `hypot` is several times slower.
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    if n < 2 {
        return;
    }
    e[n - 1] = 0.0;
    for l in 0..n {
        let mut iterations = 0;
        loop {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if negligible(e[m].abs(), dd) {
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
            let mut r = (g * g + 1.0).sqrt();
            g = d[m] - d[l] + e[l] / (g + if g >= 0.0 { r.abs() } else { -r.abs() });
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = (f * f + g * g).sqrt();
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

/// The eigenvalues `(re, im)` of the `n × n` row-major real matrix `a`, in no particular
/// order (complex ones in conjugate pairs). Never panics; should the QR iteration not converge
/// (it does for any practical input), the eigenvalues not found are NaN.
#[cfg(test)]
pub(crate) fn general_eigenvalues(a: &[f64], n: usize) -> Vec<(f64, f64)> {
    if n == 0 || a.len() < n * n {
        return Vec::new();
    }
    let mut h = a[..n * n].to_vec();
    hessenberg(&mut h, n);
    // hqr below is written 1-based (as the classic algorithm): copy into an (n+1)² buffer.
    let w = n + 1;
    let mut b = vec![0.0; w * w];
    for i in 0..n {
        for j in 0..n {
            b[(i + 1) * w + j + 1] = h[i * n + j];
        }
    }
    hqr(&mut b, n)
}

#[cfg(test)]
/// Reduces `a` to upper Hessenberg form in place by Householder similarity transforms.
fn hessenberg(a: &mut [f64], n: usize) {
    if n < 3 {
        return;
    }
    let mut v = vec![0.0; n];
    for k in 0..n - 2 {
        let len = n - k - 1;
        let scale: f64 = (k + 1..n).map(|i| a[i * n + k].abs()).sum();
        if scale == 0.0 || !scale.is_finite() {
            continue;
        }
        for (t, i) in (k + 1..n).enumerate() {
            v[t] = a[i * n + k] / scale;
        }
        let norm = v[..len].iter().map(|x| x * x).sum::<f64>().sqrt();
        let alpha = if v[0] > 0.0 { -norm } else { norm };
        v[0] -= alpha;
        let vv: f64 = v[..len].iter().map(|x| x * x).sum();
        if vv == 0.0 {
            continue;
        }
        // A ← H A with H = I − 2 v vᵀ / vᵀv on rows k+1..n.
        for j in k..n {
            let s: f64 = (0..len).map(|t| v[t] * a[(k + 1 + t) * n + j]).sum();
            let f = 2.0 * s / vv;
            for t in 0..len {
                a[(k + 1 + t) * n + j] -= f * v[t];
            }
        }
        // A ← A H on columns k+1..n.
        for i in 0..n {
            let s: f64 = (0..len).map(|t| a[i * n + k + 1 + t] * v[t]).sum();
            let f = 2.0 * s / vv;
            for t in 0..len {
                a[i * n + k + 1 + t] -= f * v[t];
            }
        }
        a[(k + 1) * n + k] = alpha * scale;
        for i in k + 2..n {
            a[i * n + k] = 0.0;
        }
    }
}

#[cfg(test)]
/// `|a|` with the sign of `b` (Fortran `SIGN`).
fn sign(a: f64, b: f64) -> f64 {
    if b >= 0.0 {
        a.abs()
    } else {
        -a.abs()
    }
}

#[cfg(test)]
/// Eigenvalues of the upper Hessenberg matrix in the 1-based `(n+1)²` buffer `a` (row 0 and
/// column 0 unused) by the Francis double-shift QR algorithm; `a` is destroyed.
#[allow(clippy::many_single_char_names)]
fn hqr(a: &mut [f64], n: usize) -> Vec<(f64, f64)> {
    let w = n + 1;
    let at = |i: usize, j: usize| i * w + j;
    let mut wr = vec![f64::NAN; n + 1];
    let mut wi = vec![f64::NAN; n + 1];
    let mut anorm = 0.0;
    for i in 1..=n {
        for j in (i.max(2) - 1)..=n {
            anorm += a[at(i, j)].abs();
        }
    }
    let mut nn = n;
    let mut t = 0.0;
    'outer: while nn >= 1 {
        let mut its = 0;
        loop {
            let mut l = nn;
            while l >= 2 {
                let mut s = a[at(l - 1, l - 1)].abs() + a[at(l, l)].abs();
                if s == 0.0 {
                    s = anorm;
                }
                if negligible(a[at(l, l - 1)].abs(), s) {
                    a[at(l, l - 1)] = 0.0;
                    break;
                }
                l -= 1;
            }
            let mut x = a[at(nn, nn)];
            if l == nn {
                // One root found.
                wr[nn] = x + t;
                wi[nn] = 0.0;
                nn -= 1;
                break;
            }
            let mut y = a[at(nn - 1, nn - 1)];
            let mut ww = a[at(nn, nn - 1)] * a[at(nn - 1, nn)];
            if l == nn - 1 {
                // Two roots found.
                let p = 0.5 * (y - x);
                let q = p * p + ww;
                let mut z = q.abs().sqrt();
                x += t;
                if q >= 0.0 {
                    z = p + sign(z, p);
                    wr[nn - 1] = x + z;
                    wr[nn] = x + z;
                    if z != 0.0 {
                        wr[nn] = x - ww / z;
                    }
                    wi[nn - 1] = 0.0;
                    wi[nn] = 0.0;
                } else {
                    wr[nn - 1] = x + p;
                    wr[nn] = x + p;
                    wi[nn - 1] = -z;
                    wi[nn] = z;
                }
                if nn < 2 {
                    break 'outer;
                }
                nn -= 2;
                break;
            }
            if its >= 60 {
                // No convergence: leave the remaining roots NaN.
                break 'outer;
            }
            if its % 10 == 0 && its > 0 {
                // Exceptional shift.
                t += x;
                for i in 1..=nn {
                    a[at(i, i)] -= x;
                }
                let s = a[at(nn, nn - 1)].abs() + a[at(nn - 1, nn - 2)].abs();
                x = 0.75 * s;
                y = x;
                ww = -0.4375 * s * s;
            }
            its += 1;
            // Form the shift and look for two consecutive small sub-diagonal elements.
            let (mut p, mut q, mut r);
            let mut m = nn - 2;
            loop {
                let z = a[at(m, m)];
                let rr = x - z;
                let s = y - z;
                p = (rr * s - ww) / a[at(m + 1, m)] + a[at(m, m + 1)];
                q = a[at(m + 1, m + 1)] - z - rr - s;
                r = a[at(m + 2, m + 1)];
                let s = p.abs() + q.abs() + r.abs();
                p /= s;
                q /= s;
                r /= s;
                if m == l {
                    break;
                }
                let u = a[at(m, m - 1)].abs() * (q.abs() + r.abs());
                let v = p.abs() * (a[at(m - 1, m - 1)].abs() + z.abs() + a[at(m + 1, m + 1)].abs());
                if negligible(u, v) {
                    break;
                }
                m -= 1;
            }
            for i in m + 2..=nn {
                a[at(i, i - 2)] = 0.0;
                if i != m + 2 {
                    a[at(i, i - 3)] = 0.0;
                }
            }
            // Double QR step on rows l..nn and columns m..nn.
            let mut k = m;
            while k < nn {
                if k != m {
                    p = a[at(k, k - 1)];
                    q = a[at(k + 1, k - 1)];
                    r = 0.0;
                    if k != nn - 1 {
                        r = a[at(k + 2, k - 1)];
                    }
                    x = p.abs() + q.abs() + r.abs();
                    if x != 0.0 {
                        p /= x;
                        q /= x;
                        r /= x;
                    }
                }
                let s = sign((p * p + q * q + r * r).sqrt(), p);
                if s != 0.0 {
                    if k == m {
                        if l != m {
                            a[at(k, k - 1)] = -a[at(k, k - 1)];
                        }
                    } else {
                        a[at(k, k - 1)] = -s * x;
                    }
                    p += s;
                    x = p / s;
                    y = q / s;
                    let z = r / s;
                    q /= p;
                    r /= p;
                    for j in k..=nn {
                        let mut pp = a[at(k, j)] + q * a[at(k + 1, j)];
                        if k != nn - 1 {
                            pp += r * a[at(k + 2, j)];
                            a[at(k + 2, j)] -= pp * z;
                        }
                        a[at(k + 1, j)] -= pp * y;
                        a[at(k, j)] -= pp * x;
                    }
                    let mmin = if nn < k + 3 { nn } else { k + 3 };
                    for i in l..=mmin {
                        let mut pp = x * a[at(i, k)] + y * a[at(i, k + 1)];
                        if k != nn - 1 {
                            pp += z * a[at(i, k + 2)];
                            a[at(i, k + 2)] -= pp * r;
                        }
                        a[at(i, k + 1)] -= pp * q;
                        a[at(i, k)] -= pp;
                    }
                }
                k += 1;
            }
            if l >= nn - 1 {
                break;
            }
        }
    }
    (1..=n).map(|i| (wr[i], wi[i])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Eigenvalues sorted as numpy sorts complex numbers: by real part, then imaginary part.
    fn sorted(mut v: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
        v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        v
    }

    fn assert_close(got: &[(f64, f64)], want: &[(f64, f64)], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.0 - w.0).abs() <= tol && (g.1 - w.1).abs() <= tol,
                "{got:?} vs {want:?}"
            );
        }
    }

    #[test]
    fn small_matrices() {
        assert!(general_eigenvalues(&[], 0).is_empty());
        assert_eq!(general_eigenvalues(&[3.0], 1), vec![(3.0, 0.0)]);
        let ev = sorted(general_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2));
        assert_close(&ev, &[(1.0, 0.0), (3.0, 0.0)], 1e-14);
        // Rotation by 90° scaled by 2: ±2i.
        let ev = sorted(general_eigenvalues(&[0.0, -2.0, 2.0, 0.0], 2));
        assert_close(&ev, &[(0.0, -2.0), (0.0, 2.0)], 1e-14);
        // Zero matrix, and a matrix with zero rows.
        assert_close(&general_eigenvalues(&[0.0; 9], 3), &[(0.0, 0.0); 3], 0.0);
        let ev = sorted(general_eigenvalues(
            &[0.5, 0.5, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0],
            3,
        ));
        assert_close(&ev, &[(0.0, 0.0), (0.0, 0.0), (1.0, 0.0)], 1e-15);
    }

    #[test]
    fn symmetric_laplacian() {
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
        let got = sorted(general_eigenvalues(&m, n));
        let want: Vec<(f64, f64)> = (1..=n)
            .map(|k| {
                let v = 2.0 - 2.0 * (k as f64 * std::f64::consts::PI / (n + 1) as f64).cos();
                (v, 0.0)
            })
            .collect();
        assert_close(&got, &want, 1e-13);
    }

    #[test]
    fn companion_matrix_roots() {
        // Companion matrix of (x - 1)(x - 2)(x - 3)(x + 4)(x² + 1).
        let roots = [
            (1.0, 0.0),
            (2.0, 0.0),
            (3.0, 0.0),
            (-4.0, 0.0),
            (0.0, 1.0),
            (0.0, -1.0),
        ];
        // Real polynomial coefficients, highest first, via repeated multiplication.
        let mut c = vec![1.0f64];
        for &(re, _) in &roots[..4] {
            let mut next = vec![0.0; c.len() + 1];
            for (i, &v) in c.iter().enumerate() {
                next[i] += v;
                next[i + 1] -= v * re;
            }
            c = next;
        }
        // × (x² + 1)
        let mut next = vec![0.0; c.len() + 2];
        for (i, &v) in c.iter().enumerate() {
            next[i] += v;
            next[i + 2] += v;
        }
        c = next;
        let n = c.len() - 1;
        let mut m = vec![0.0; n * n];
        for j in 0..n {
            m[j] = -c[j + 1];
        }
        for i in 1..n {
            m[i * n + i - 1] = 1.0;
        }
        let got = sorted(general_eigenvalues(&m, n));
        let want = sorted(roots.to_vec());
        assert_close(&got, &want, 1e-10);
    }

    #[test]
    fn similar_to_symmetric() {
        // A = D B Bᵀ D⁻¹-like (similar to symmetric PSD): real eigenvalues summing to the trace.
        let n = 9;
        let b: Vec<f64> = (0..n * n)
            .map(|i| ((i * 37 + 11) % 17) as f64 / 7.0 - 1.0)
            .collect();
        let d: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.3).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let s: f64 = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum();
                a[i * n + j] = d[i] * s / d[j];
            }
        }
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let ev = general_eigenvalues(&a, n);
        assert!(ev.iter().all(|&(re, im)| re > -1e-12 && im.abs() < 1e-9));
        assert!((ev.iter().map(|e| e.0).sum::<f64>() - trace).abs() < 1e-11 * trace);
    }

    fn sorted_real(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn symmetric_matches_general() {
        assert!(symmetric_eigenvalues(&mut [], 0).is_empty());
        assert_eq!(symmetric_eigenvalues(&mut [3.0], 1), vec![3.0]);
        let two = sorted_real(symmetric_eigenvalues(&mut [2.0, 1.0, 1.0, 2.0], 2));
        assert!((two[0] - 1.0).abs() < 1e-15 && (two[1] - 3.0).abs() < 1e-15);
        for n in [3, 5, 8, 17, 40] {
            let b: Vec<f64> = (0..n * n)
                .map(|i| ((i * 37 + 11) % 23) as f64 / 9.0 - 1.2)
                .collect();
            let mut a = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    a[i * n + j] = b[i * n + j] + b[j * n + i];
                }
            }
            let general = sorted(general_eigenvalues(&a, n));
            let symmetric = sorted_real(symmetric_eigenvalues(&mut a.clone(), n));
            for (g, s) in general.iter().zip(&symmetric) {
                assert!(
                    g.1.abs() < 1e-12 && (g.0 - s).abs() < 1e-12,
                    "{n}: {general:?} vs {symmetric:?}"
                );
            }
        }
        // Already tridiagonal / diagonal / zero blocks.
        let mut diag = vec![0.0; 16];
        for (i, v) in [4.0, -1.0, 0.5, 2.0].iter().enumerate() {
            diag[i * 4 + i] = *v;
        }
        assert_eq!(
            sorted_real(symmetric_eigenvalues(&mut diag, 4)),
            vec![-1.0, 0.5, 2.0, 4.0]
        );
        assert_eq!(symmetric_eigenvalues(&mut [0.0; 9], 3), vec![0.0; 3]);
    }

    #[test]
    fn dot_is_a_dot_product() {
        let a: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(dot(&a, &a), 385.0);
        assert_eq!(dot(&a[..3], &a), 5.0);
        assert_eq!(dot(&[], &a), 0.0);
    }

    #[test]
    fn nan_terminates() {
        assert_eq!(symmetric_eigenvalues(&mut [f64::NAN; 16], 4).len(), 4);
        let ev = general_eigenvalues(&[f64::NAN, 1.0, 1.0, f64::NAN], 2);
        assert_eq!(ev.len(), 2);
        let ev = general_eigenvalues(&[f64::NAN; 16], 4);
        assert_eq!(ev.len(), 4);
    }
}
