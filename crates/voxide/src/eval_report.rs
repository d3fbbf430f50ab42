//! The `voxide eval seg` report: one self-contained HTML page with the summary per label, a
//! box-and-strip plot per metric (each case a dot, so outliers are seen and can be found in
//! the case table), and the cases that failed. Plots are inline SVG: no files beside the page,
//! sharp at any zoom.

use std::fmt::Write as _;

use voxide_eval::Metric;

use crate::eval_cmd::{CaseResult, LabelSummary, PLOTTED};

const PALETTE: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf",
];

pub fn html(settings: &str, results: &[CaseResult], summary: &LabelSummary) -> String {
    let mut h = String::new();
    let ok = results.iter().filter(|r| r.error.is_none()).count();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>voxide eval seg</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;font-size:13px;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}th{{background:#f3f3f3}}\
         td.l,th.l{{text-align:left}}.plots{{display:flex;flex-wrap:wrap;gap:1.5em}}\
         .fail{{color:#b00}}</style></head><body>\
         <h1>Segmentation evaluation</h1><p>{}</p><p>{ok} of {} case(s) evaluated.</p>",
        escape(settings),
        results.len()
    );
    // Summary table per label.
    h.push_str("<h2>Summary</h2><p>Mean with its 95&nbsp;% bootstrap interval over cases; n is the number of cases where the metric is defined (undefined values, e.g. distances to an empty mask, are left out and counted).</p>");
    h.push_str("<table><tr><th class=l>label</th><th class=l>metric</th><th>n</th><th>undefined</th><th>mean</th><th>95% CI</th><th>median</th><th>Q1</th><th>Q3</th><th>min</th><th>max</th></tr>");
    for (label, per_metric) in summary {
        for (m, s) in per_metric {
            let _ = write!(
                h,
                "<tr><td class=l>{label}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>[{}, {}]</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                m.name(),
                s.n,
                s.undefined,
                fmt(s.mean),
                fmt(s.mean_ci.0),
                fmt(s.mean_ci.1),
                fmt(s.median),
                fmt(s.q1),
                fmt(s.q3),
                fmt(s.min),
                fmt(s.max)
            );
        }
    }
    h.push_str("</table>");

    h.push_str("<h2>Distributions</h2><div class=plots>");
    for metric in PLOTTED {
        h.push_str(&box_strip_svg(metric, results, summary));
    }
    h.push_str("</div>");

    // Per-case table of the plotted metrics.
    h.push_str("<h2>Cases</h2><table><tr><th class=l>case</th><th>label</th>");
    for m in PLOTTED {
        let _ = write!(h, "<th>{}</th>", m.name());
    }
    h.push_str("</tr>");
    for r in results {
        if let Some(e) = &r.error {
            let _ = write!(
                h,
                "<tr><td class=l>{}</td><td class='l fail' colspan={}>{}</td></tr>",
                escape(&r.name),
                PLOTTED.len() + 1,
                escape(e)
            );
            continue;
        }
        for (label, metrics) in &r.labels {
            let _ = write!(
                h,
                "<tr><td class=l>{}</td><td>{label}</td>",
                escape(&r.name)
            );
            for m in PLOTTED {
                let v = metrics
                    .iter()
                    .find(|(x, _)| *x == m)
                    .map_or(f64::NAN, |p| p.1);
                let _ = write!(h, "<td>{}</td>", fmt(v));
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</table></body></html>\n");
    h
}

/// One metric: a box (quartiles, median, whiskers to the extreme finite values) and the cases
/// as dots, one column per label.
fn box_strip_svg(metric: Metric, results: &[CaseResult], summary: &LabelSummary) -> String {
    let labels: Vec<u8> = summary.iter().map(|(l, _)| *l).collect();
    let columns: Vec<Vec<f64>> = labels
        .iter()
        .map(|&label| {
            results
                .iter()
                .flat_map(|r| r.labels.iter().filter(|(l, _)| *l == label))
                .filter_map(|(_, metrics)| metrics.iter().find(|(m, _)| *m == metric))
                .map(|(_, v)| *v)
                .filter(|v| v.is_finite())
                .collect()
        })
        .collect();
    let all: Vec<f64> = columns.iter().flatten().copied().collect();
    let (w, hgt) = (120.0 + 90.0 * labels.len().max(1) as f64, 300.0);
    let (left, right, top, bottom) = (60.0, 10.0, 30.0, 40.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{hgt}' font-size='12'>\
         <text x='{}' y='18' text-anchor='middle' font-weight='bold'>{}</text>",
        w / 2.0,
        metric.name()
    );
    if all.is_empty() {
        let _ = write!(
            s,
            "<text x='{}' y='{}' text-anchor='middle' fill='#888'>no finite values</text></svg>",
            w / 2.0,
            hgt / 2.0
        );
        return s;
    }
    let (mut lo, mut hi) = all
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if matches!(
        metric,
        Metric::Dice | Metric::Nsd | Metric::Iou | Metric::BoundaryIou
    ) {
        (lo, hi) = (0.0, 1.0);
    } else {
        lo = lo.min(0.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let plot_h = hgt - top - bottom;
    let y = |v: f64| top + plot_h * (1.0 - (v - lo) / (hi - lo));
    // Axis with five ticks.
    for t in 0..=4 {
        let v = lo + (hi - lo) * f64::from(t) / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            "<line x1='{left}' x2='{}' y1='{yy:.1}' y2='{yy:.1}' stroke='#eee'/>\
             <text x='{}' y='{:.1}' text-anchor='end'>{}</text>",
            w - right,
            left - 5.0,
            yy + 4.0,
            tick(v)
        );
    }
    let col_w = (w - left - right) / labels.len().max(1) as f64;
    for (c, (label, values)) in labels.iter().zip(&columns).enumerate() {
        let cx = left + col_w * (c as f64 + 0.5);
        let color = PALETTE[c % PALETTE.len()];
        let _ = write!(
            s,
            "<text x='{cx:.1}' y='{}' text-anchor='middle'>label {label} (n={})</text>",
            hgt - 15.0,
            values.len()
        );
        if values.is_empty() {
            continue;
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let q = |p: f64| {
            let h = (sorted.len() - 1) as f64 * p;
            let i = h.floor() as usize;
            let f = h - i as f64;
            if i + 1 < sorted.len() {
                sorted[i] + (sorted[i + 1] - sorted[i]) * f
            } else {
                sorted[i]
            }
        };
        let (q1, med, q3) = (q(0.25), q(0.5), q(0.75));
        let bw = (col_w * 0.45).min(50.0);
        let _ = write!(
            s,
            "<line x1='{cx:.1}' x2='{cx:.1}' y1='{:.1}' y2='{:.1}' stroke='{color}'/>\
             <rect x='{:.1}' y='{:.1}' width='{bw:.1}' height='{:.1}' fill='{color}' fill-opacity='0.15' stroke='{color}'/>\
             <line x1='{:.1}' x2='{:.1}' y1='{:.1}' y2='{:.1}' stroke='{color}' stroke-width='2'/>",
            y(sorted[0]),
            y(sorted[sorted.len() - 1]),
            cx - bw / 2.0,
            y(q3),
            (y(q1) - y(q3)).max(0.5),
            cx - bw / 2.0,
            cx + bw / 2.0,
            y(med),
            y(med)
        );
        // Dots, spread sideways deterministically so that equal values stay visible.
        for (i, v) in values.iter().enumerate() {
            let jitter = ((i as f64 * 0.618_033_988_75).fract() - 0.5) * bw * 0.9;
            let _ = write!(
                s,
                "<circle cx='{:.1}' cy='{:.1}' r='2.5' fill='{color}' fill-opacity='0.7'/>",
                cx + jitter,
                y(*v)
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn tick(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "—".into()
    } else if v.is_infinite() {
        if v > 0.0 { "∞" } else { "−∞" }.into()
    } else {
        format!("{v:.4}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A DeLong test between two models: their names and `(z, p)`, `None` when undefined.
pub type PairedTest = (String, String, Option<(f64, f64)>);

/// The `voxide eval cls` report: ROC curves with their bootstrap bands, calibration curves, and
/// the tables of AUCs, operating points and DeLong tests.
pub fn cls_html(
    settings: &str,
    models: &[crate::eval_cls_cmd::ModelResult],
    tests: &[PairedTest],
) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>voxide eval cls</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;font-size:13px;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}th{{background:#f3f3f3}}\
         td.l,th.l{{text-align:left}}.plots{{display:flex;flex-wrap:wrap;gap:2em}}</style></head><body>\
         <h1>Classification evaluation</h1><p>{}</p><div class=plots>",
        escape(settings)
    );
    h.push_str(&unit_square_svg(
        "ROC (shaded: 95 % bootstrap band of the sensitivity)",
        "1 − specificity",
        "sensitivity",
        |s, x, y| {
            for (m, r) in models.iter().enumerate() {
                let color = PALETTE[m % PALETTE.len()];
                // Band: upper edge left to right, lower edge back.
                let mut pts: Vec<String> = r
                    .band_fpr
                    .iter()
                    .zip(&r.band)
                    .map(|(f, b)| format!("{:.1},{:.1}", x(*f), y(b.1)))
                    .collect();
                pts.extend(
                    r.band_fpr
                        .iter()
                        .zip(&r.band)
                        .rev()
                        .map(|(f, b)| format!("{:.1},{:.1}", x(*f), y(b.0))),
                );
                let _ = write!(
                    s,
                    "<polygon points='{}' fill='{color}' fill-opacity='0.12' stroke='none'/>",
                    pts.join(" ")
                );
                let line: Vec<String> = r
                    .roc
                    .fpr
                    .iter()
                    .zip(&r.roc.tpr)
                    .map(|(f, t)| format!("{:.1},{:.1}", x(*f), y(*t)))
                    .collect();
                let _ = write!(
                    s,
                    "<polyline points='{}' fill='none' stroke='{color}' stroke-width='2'/>",
                    line.join(" ")
                );
                let _ = write!(
                    s,
                    "<text x='{:.1}' y='{:.1}' fill='{color}'>{} AUC {:.3}</text>",
                    x(0.45),
                    y(0.05 + 0.07 * m as f64),
                    escape(&r.name),
                    r.auc
                );
            }
        },
    ));
    if models.iter().any(|r| r.calibration.is_some()) {
        h.push_str(&unit_square_svg(
            "Calibration (reliability curve)",
            "mean predicted probability",
            "fraction positive",
            |s, x, y| {
                for (m, r) in models.iter().enumerate() {
                    let Some((curve, ece, brier)) = &r.calibration else {
                        continue;
                    };
                    let color = PALETTE[m % PALETTE.len()];
                    let pts: Vec<(f64, f64)> = curve
                        .bins
                        .iter()
                        .filter(|b| b.count > 0)
                        .map(|b| (b.mean_predicted, b.fraction_positive))
                        .collect();
                    let line: Vec<String> = pts
                        .iter()
                        .map(|(a, b)| format!("{:.1},{:.1}", x(*a), y(*b)))
                        .collect();
                    let _ = write!(
                        s,
                        "<polyline points='{}' fill='none' stroke='{color}' stroke-width='2'/>",
                        line.join(" ")
                    );
                    for (a, b) in &pts {
                        let _ = write!(
                            s,
                            "<circle cx='{:.1}' cy='{:.1}' r='3' fill='{color}'/>",
                            x(*a),
                            y(*b)
                        );
                    }
                    let _ = write!(
                        s,
                        "<text x='{:.1}' y='{:.1}' fill='{color}'>{} ECE {:.3}, Brier {:.3}</text>",
                        x(0.35),
                        y(0.05 + 0.07 * m as f64),
                        escape(&r.name),
                        ece,
                        brier
                    );
                }
            },
        ));
    }
    h.push_str("</div><h2>Discrimination</h2><table><tr><th class=l>model</th><th>AUC</th><th>DeLong CI</th><th>bootstrap CI</th><th>Youden threshold</th><th>sensitivity</th><th>specificity</th></tr>");
    for r in models {
        let y = &r.youden.1;
        let _ = write!(
            h,
            "<tr><td class=l>{}</td><td>{:.4}</td><td>{:.4}–{:.4}</td><td>{:.4}–{:.4}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.name), r.auc, r.delong.0, r.delong.1, r.bootstrap.0, r.bootstrap.1,
            fmt(r.youden.0), prop(&y.sensitivity), prop(&y.specificity)
        );
    }
    h.push_str("</table><h2>At the chosen threshold</h2><table><tr><th class=l>model</th><th>TP</th><th>FP</th><th>TN</th><th>FN</th><th>sensitivity</th><th>specificity</th><th>PPV</th><th>NPV</th><th>accuracy</th><th>F1</th></tr>");
    for r in models {
        let m = &r.at_threshold;
        let _ = write!(
            h,
            "<tr><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.name), m.counts.true_positives, m.counts.false_positives, m.counts.true_negatives,
            m.counts.false_negatives, prop(&m.sensitivity), prop(&m.specificity), prop(&m.ppv),
            prop(&m.npv), prop(&m.accuracy), fmt(m.f1)
        );
    }
    h.push_str("</table><p>Intervals of proportions: Wilson score.</p>");
    if !tests.is_empty() {
        h.push_str("<h2>DeLong tests (paired)</h2><table><tr><th class=l>models</th><th>z</th><th>p</th></tr>");
        for (a, b, t) in tests {
            match t {
                Some((z, p)) => {
                    let _ = write!(
                        h,
                        "<tr><td class=l>{} vs {}</td><td>{:.3}</td><td>{:.4}</td></tr>",
                        escape(a),
                        escape(b),
                        z,
                        p
                    );
                }
                None => {
                    let _ = write!(h, "<tr><td class=l>{} vs {}</td><td colspan=2>undefined (identical rankings)</td></tr>", escape(a), escape(b));
                }
            }
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}

fn prop(p: &voxide_eval::classification::Proportion) -> String {
    format!("{} ({}–{})", fmt(p.estimate), fmt(p.lower), fmt(p.upper))
}

/// A square plot of [0, 1] × [0, 1] with a diagonal; `draw` adds the content given the
/// coordinate maps.
fn unit_square_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    draw: impl FnOnce(&mut String, &dyn Fn(f64) -> f64, &dyn Fn(f64) -> f64),
) -> String {
    let (size, left, top) = (360.0, 50.0, 30.0);
    let x = move |v: f64| left + v * size;
    let y = move |v: f64| top + (1.0 - v) * size;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-size='12'>\
         <text x='{}' y='18' text-anchor='middle' font-weight='bold'>{}</text>\
         <rect x='{left}' y='{top}' width='{size}' height='{size}' fill='none' stroke='#999'/>\
         <line x1='{}' y1='{}' x2='{}' y2='{}' stroke='#bbb' stroke-dasharray='4 3'/>",
        size + left + 20.0,
        size + top + 45.0,
        left + size / 2.0,
        escape(title),
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    for t in 0..=4 {
        let v = f64::from(t) / 4.0;
        let _ = write!(
            s,
            "<text x='{:.1}' y='{:.1}' text-anchor='middle'>{v}</text><text x='{:.1}' y='{:.1}' text-anchor='end'>{v}</text>",
            x(v),
            top + size + 15.0,
            left - 5.0,
            y(v) + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x='{}' y='{}' text-anchor='middle'>{}</text>\
         <text x='12' y='{}' text-anchor='middle' transform='rotate(-90 12 {})'>{}</text>",
        left + size / 2.0,
        top + size + 35.0,
        escape(x_label),
        top + size / 2.0,
        top + size / 2.0,
        escape(y_label)
    );
    draw(&mut s, &x, &y);
    s.push_str("</svg>");
    s
}

/// The `voxide eval det` report: the FROC curve on LUNA16's logarithmic axis of false positives
/// per scan, with the seven CPM operating points marked.
pub fn det_html(
    settings: &str,
    curve: &voxide_eval::detection::FrocCurve,
    cpm: &voxide_eval::detection::Cpm,
    ci: (f64, f64),
) -> String {
    let (w, hgt, left, top, pw, ph) = (560.0, 400.0, 55.0, 30.0, 470.0, 320.0);
    let (lo, hi) = (0.125f64.log2() - 0.5, 8f64.log2() + 0.5);
    let x = |fp: f64| left + pw * ((fp.max(1e-3).log2() - lo) / (hi - lo)).clamp(0.0, 1.0);
    let y = |s: f64| top + ph * (1.0 - s);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{hgt}' font-size='12'>\
         <text x='{}' y='18' text-anchor='middle' font-weight='bold'>FROC</text>\
         <rect x='{left}' y='{top}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>",
        left + pw / 2.0
    );
    for f in voxide_eval::detection::CPM_FP_RATES {
        let _ = write!(
            s,
            "<line x1='{0:.1}' x2='{0:.1}' y1='{top}' y2='{1}' stroke='#eee'/><text x='{0:.1}' y='{2}' text-anchor='middle'>{f}</text>",
            x(f),
            top + ph,
            top + ph + 15.0
        );
    }
    for t in 0..=4 {
        let v = f64::from(t) / 4.0;
        let _ = write!(
            s,
            "<text x='{}' y='{:.1}' text-anchor='end'>{v}</text>",
            left - 5.0,
            y(v) + 4.0
        );
    }
    let _ = write!(
        s,
        "<text x='{}' y='{}' text-anchor='middle'>false positives per scan</text>\
         <text x='12' y='{1}' text-anchor='middle' transform='rotate(-90 12 {1})'>sensitivity</text>",
        left + pw / 2.0,
        top + ph / 2.0
    );
    let _ = write!(
        s,
        "<text x='{}' y='{}' text-anchor='end'>",
        left + pw - 5.0,
        top + ph + 35.0
    );
    let _ = write!(s, "</text>");
    let pts: Vec<String> = curve
        .fp_per_scan
        .iter()
        .zip(&curve.sensitivity)
        .map(|(f, v)| format!("{:.1},{:.1}", x(*f), y(*v)))
        .collect();
    let _ = write!(
        s,
        "<polyline points='{}' fill='none' stroke='{}' stroke-width='2'/>",
        pts.join(" "),
        PALETTE[0]
    );
    for (f, v) in cpm.fp_rates.iter().zip(cpm.sensitivities) {
        let _ = write!(
            s,
            "<circle cx='{:.1}' cy='{:.1}' r='4' fill='{}'/>",
            x(*f),
            y(v),
            PALETTE[1]
        );
    }
    s.push_str("</svg>");
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>voxide eval det</title><style>\
         body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}\
         table{{border-collapse:collapse;font-size:13px;margin:1em 0}}\
         td,th{{border:1px solid #ccc;padding:3px 7px;text-align:right}}th{{background:#f3f3f3}}</style></head><body>\
         <h1>Detection evaluation</h1><p>{}</p><p><b>CPM {:.4}</b> (95&nbsp;% bootstrap over scans {:.4}–{:.4})</p>{s}\
         <table><tr><th>false positives per scan</th>",
        escape(settings),
        cpm.score,
        ci.0,
        ci.1
    );
    for f in cpm.fp_rates {
        let _ = write!(h, "<th>{f}</th>");
    }
    h.push_str("</tr><tr><th>sensitivity</th>");
    for v in cpm.sensitivities {
        let _ = write!(h, "<td>{v:.4}</td>");
    }
    h.push_str("</tr></table></body></html>\n");
    h
}
