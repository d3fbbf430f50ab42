//! The batch report: one HTML page (distributions of every feature as small histograms, the
//! cases that failed) and a PNG heatmap of the feature correlation matrix beside it, so that a
//! researcher can look at a cohort instead of reading a thousand-column table.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One case's outcome, as the report needs it.
pub struct CaseRow<'a> {
    pub name: String,
    pub error: Option<&'a str>,
    pub features: Vec<Option<f64>>,
}

/// Writes `path` (HTML) and `<stem>_correlation.png` beside it; returns the PNG's path.
pub fn write(path: &Path, columns: &[String], rows: &[CaseRow<'_>]) -> Result<PathBuf> {
    let png_path = {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        path.with_file_name(format!("{stem}_correlation.png"))
    };
    // Features that vary across the successful cases; constant ones carry no correlation.
    let ok: Vec<&CaseRow> = rows.iter().filter(|r| r.error.is_none()).collect();
    let values: Vec<Vec<f64>> = (0..columns.len())
        .map(|c| {
            ok.iter()
                .map(|r| r.features.get(c).copied().flatten().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let varying: Vec<usize> = (0..columns.len())
        .filter(|&c| {
            let finite: Vec<f64> = values[c]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            finite.len() >= 2 && finite.iter().any(|&v| v != finite[0])
        })
        .collect();
    let ranks: Vec<Vec<f64>> = varying.iter().map(|&c| rank(&values[c])).collect();
    let n = varying.len();
    let mut correlation = vec![0.0f64; n * n];
    for a in 0..n {
        for b in a..n {
            let r = pearson(&ranks[a], &ranks[b]);
            correlation[a * n + b] = r;
            correlation[b * n + a] = r;
        }
    }
    write_heatmap(&png_path, n, &correlation)?;

    let mut html = String::new();
    let failed: Vec<&CaseRow> = rows.iter().filter(|r| r.error.is_some()).collect();
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>voxide radiomics report</title>\
<style>body{{font-family:sans-serif;margin:1.5em;color:#222}}.grid{{display:flex;flex-wrap:wrap;gap:10px}}\
.cell{{width:190px;font-size:11px}}.cell svg{{background:#f7f7f7}}td,th{{padding:2px 8px;text-align:left}}\
.err{{color:#a00}}</style></head><body><h1>Radiomics batch report</h1>\
<p>{} cases: {} computed, {} failed. {} features, {} vary across cases.</p>",
        rows.len(),
        ok.len(),
        failed.len(),
        columns.len(),
        n
    );
    if !failed.is_empty() {
        html.push_str("<h2>Failed cases</h2><table><tr><th>case</th><th>error</th></tr>");
        for r in &failed {
            let _ = write!(
                html,
                "<tr><td>{}</td><td class=\"err\">{}</td></tr>",
                escape(&r.name),
                escape(r.error.unwrap_or(""))
            );
        }
        html.push_str("</table>");
    }
    let png_name = png_path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let _ = write!(
        html,
        "<h2>Correlation between features</h2><p>Spearman rank correlation of the {n} varying \
features over the computed cases, in table order (blue −1, white 0, red +1).</p>\
<img src=\"{}\" alt=\"feature correlation heatmap\" style=\"image-rendering:pixelated;width:min(90vw,{}px)\">",
        escape(&png_name),
        (n * 4).clamp(200, 1200)
    );
    html.push_str("<h2>Feature distributions</h2><div class=\"grid\">");
    for (c, name) in columns.iter().enumerate() {
        html.push_str(&histogram_cell(name, &values[c]));
    }
    html.push_str("</div></body></html>\n");
    std::fs::write(path, html).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(png_path)
}

/// A small SVG histogram of one feature with its range and count of undefined values.
fn histogram_cell(name: &str, values: &[f64]) -> String {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let undefined = values.len() - finite.len();
    let (w, h, bins) = (180.0, 60.0, 20usize);
    let mut svg = format!("<svg width=\"{w}\" height=\"{h}\">");
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !finite.is_empty() {
        let mut counts = vec![0usize; bins];
        for &v in &finite {
            let b = if hi > lo {
                (((v - lo) / (hi - lo)) * bins as f64).floor() as usize
            } else {
                bins / 2
            };
            counts[b.min(bins - 1)] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
        let bw = w / bins as f64;
        for (b, &c) in counts.iter().enumerate() {
            let bh = c as f64 / top * (h - 4.0);
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#4477aa\"/>",
                b as f64 * bw + 0.5,
                h - bh,
                bw - 1.0,
                bh
            );
        }
    }
    svg.push_str("</svg>");
    let range = if finite.is_empty() {
        "no value".to_string()
    } else {
        format!("{} … {}", short(lo), short(hi))
    };
    let undefined = if undefined > 0 {
        format!(", {undefined} undefined")
    } else {
        String::new()
    };
    format!(
        "<div class=\"cell\"><b>{}</b><br>{svg}<br>{range}{undefined}</div>",
        escape(name)
    )
}

fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() >= 1e5 || v.abs() < 1e-3) {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// Average ranks (ties share their mean rank); NaN stays NaN.
fn rank(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![f64::NAN; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let mean = (i + j) as f64 / 2.0 + 1.0;
        for &o in &order[i..=j] {
            ranks[o] = mean;
        }
        i = j + 1;
    }
    ranks
}

/// Pearson correlation over the pairs where both values are finite (NaN if undefined).
fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(&x, &y)| (x, y))
        .collect();
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return f64::NAN;
    }
    let (ma, mb) = pairs
        .iter()
        .fold((0.0, 0.0), |(s, t), (x, y)| (s + x / n, t + y / n));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    if saa == 0.0 || sbb == 0.0 {
        f64::NAN
    } else {
        sab / (saa * sbb).sqrt()
    }
}

/// An `n × n` PNG, one pixel per feature pair, blue–white–red; grey where undefined.
fn write_heatmap(path: &Path, n: usize, correlation: &[f64]) -> Result<()> {
    let side = n.max(1) as u32;
    let mut img = image::RgbImage::new(side, side);
    for a in 0..n {
        for b in 0..n {
            let r = correlation[a * n + b];
            let px = if r.is_nan() {
                [160, 160, 160]
            } else {
                let t = r.clamp(-1.0, 1.0);
                let fade = |c: f64| (255.0 - (255.0 - c) * t.abs()).round() as u8;
                if t >= 0.0 {
                    [fade(178.0), fade(24.0), fade(43.0)]
                } else {
                    [fade(33.0), fade(102.0), fade(172.0)]
                }
            };
            img.put_pixel(b as u32, a as u32, image::Rgb(px));
        }
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_share_ties_and_correlation_is_spearman() {
        assert_eq!(rank(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        // A monotone but non-linear relation has rank correlation 1.
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 8.0, 27.0, 64.0];
        assert!((pearson(&rank(&x), &rank(&y)) - 1.0).abs() < 1e-12);
        assert!(pearson(&[1.0, 1.0], &[2.0, 3.0]).is_nan());
    }
}
