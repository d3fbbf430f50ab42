#!/usr/bin/env python3
"""Reference classification and detection metrics for voxide-eval's agreement tests.

Usage: cls_metrics_ref.py < CASES.json > VALUES.json

Reads one JSON object of test cases and prints one JSON object with, per case:
  - "binary": scikit-learn's roc_curve(drop_intermediate=False) and roc_auc_score; DeLong's
    AUC variance, 95 % interval (pROC's ci.auc: AUC ± z·sqrt(var), clipped to [0, 1]) and the
    paired test of two score sets, all from the ORIGINAL O(m·n) structural components of
    DeLong, DeLong & Clarke-Pearson, "Comparing the areas under two or more correlated receiver
    operating characteristic curves: a nonparametric approach", Biometrics 44 (1988) 837-845
    (not the midrank algorithm voxide uses), with SciPy's normal distribution;
  - "calibration": scikit-learn's calibration_curve (uniform and quantile) and brier_score_loss;
  - "kappa": scikit-learn's confusion_matrix and cohen_kappa_score (no, linear, quadratic
    weights);
  - "wilson": SciPy's binomtest(k, n).proportion_ci(method="wilson") and the textbook formula
    (Wilson, JASA 1927);
  - "normal": SciPy's norm.cdf and norm.ppf;
  - "froc": a re-implementation of the LUNA16 evaluation script (noduleCADEvaluationLUNA16.py,
    Setio et al., "Validation, comparison, and combination of algorithms for automatic
    detection of pulmonary nodules in computed tomography images: the LUNA16 challenge",
    Medical Image Analysis 42 (2017)): candidates within a nodule's radius (squared distance
    < (diameter/2)^2) are hits, the best-scoring hit gives the nodule's score, further hits and
    hits on excluded nodules are ignored, missed nodules enter with probability -1e9 and are
    excluded from the ROC; computeFROC (scikit-learn roc_curve, fps = fpr·FP/scans, sens =
    tpr·detected/total); sensitivities by numpy.interp at the seven CPM rates and on the
    script's grid linspace(0.125, 8, 10001);
  - "components": scipy.ndimage.label with the 6- or 26-neighbourhood.
Non-finite numbers are written as the strings "nan", "inf", "-inf".
"""

import json
import math
import sys
import warnings

import numpy as np
from scipy import ndimage, stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    brier_score_loss,
    cohen_kappa_score,
    confusion_matrix,
    roc_auc_score,
    roc_curve,
)

warnings.simplefilter("ignore")


def num(v):
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def nums(a):
    return [num(v) for v in a]


# --- DeLong 1988, section 3, term for term -------------------------------------------------


def psi(x, y):
    """psi(X, Y) = 1 if Y < X, 1/2 if Y = X, 0 if Y > X; all m x n pairs."""
    x = np.asarray(x, dtype=float)[:, None]
    y = np.asarray(y, dtype=float)[None, :]
    return (y < x) + 0.5 * (y == x)


def delong_components(labels, scores):
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    x, y = scores[labels], scores[~labels]
    p = psi(x, y)
    m, n = p.shape
    theta = p.sum() / (m * n)
    v10 = p.sum(axis=1) / n  # V10(X_i), eq. (3.1)
    v01 = p.sum(axis=0) / m  # V01(Y_j)
    return theta, v10, v01


def delong(labels, scores_list):
    comps = [delong_components(labels, s) for s in scores_list]
    theta = np.array([c[0] for c in comps])
    k = len(comps)
    m, n = len(comps[0][1]), len(comps[0][2])
    s10 = np.zeros((k, k))
    s01 = np.zeros((k, k))
    for r in range(k):
        for s in range(k):
            s10[r, s] = sum((comps[r][1] - theta[r]) * (comps[s][1] - theta[s])) / (m - 1)
            s01[r, s] = sum((comps[r][2] - theta[r]) * (comps[s][2] - theta[s])) / (n - 1)
    return theta, s10 / m + s01 / n


def binary_case(c):
    y = np.asarray(c["labels"], dtype=int)
    s = np.asarray(c["scores"], dtype=float)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    out = {
        "roc_thresholds": nums(thr),
        "roc_fpr": nums(fpr),
        "roc_tpr": nums(tpr),
        "auc": num(roc_auc_score(y, s)),
    }
    theta, cov = delong(y, [s])
    z = stats.norm.ppf(0.5 + c["level"] / 2)
    half = z * math.sqrt(cov[0, 0])
    out["delong_auc"] = num(theta[0])
    out["delong_var"] = num(cov[0, 0])
    out["delong_lower"] = num(min(1.0, max(0.0, theta[0] - half)))
    out["delong_upper"] = num(min(1.0, max(0.0, theta[0] + half)))
    if "scores2" in c:
        theta, cov = delong(y, [s, np.asarray(c["scores2"], dtype=float)])
        contrast = np.array([1.0, -1.0])
        z = (theta[0] - theta[1]) / math.sqrt(contrast @ cov @ contrast)
        out["test_auc2"] = num(theta[1])
        out["test_var2"] = num(cov[1, 1])
        out["test_cov"] = num(cov[0, 1])
        out["test_z"] = num(z)
        out["test_p"] = num(2 * stats.norm.sf(abs(z)))
    return out


def calibration_case(c):
    y = np.asarray(c["labels"], dtype=int)
    p = np.asarray(c["probs"], dtype=float)
    out = {"brier": num(brier_score_loss(y, p))}
    for strategy in ["uniform", "quantile"]:
        prob_true, prob_pred = calibration_curve(y, p, n_bins=c["n_bins"], strategy=strategy)
        out[strategy] = {"prob_true": nums(prob_true), "prob_pred": nums(prob_pred)}
    return out


def kappa_case(c):
    a, b = c["a"], c["b"]
    labels = sorted(set(a) | set(b))
    return {
        "labels": labels,
        "matrix": confusion_matrix(a, b).tolist(),
        "none": num(cohen_kappa_score(a, b)),
        "linear": num(cohen_kappa_score(a, b, weights="linear")),
        "quadratic": num(cohen_kappa_score(a, b, weights="quadratic")),
    }


def wilson_case(c):
    k, n, level = c["k"], c["n"], c["level"]
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    z = stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return {
        "scipy": [num(ci.low), num(ci.high)],
        "formula": [num(max(0.0, centre - half)), num(min(1.0, centre + half))],
    }


# --- LUNA16's noduleCADEvaluation, restated -------------------------------------------------

MIN_PROB = -1000000000.0


def luna_compute_froc(gt, prob, n_images, exclude):
    gt_local = [g for g, e in zip(gt, exclude) if not e]
    prob_local = [p for p, e in zip(prob, exclude) if not e]
    detected = sum(gt_local)
    total = sum(gt)
    candidates = len(prob_local)
    fpr, tpr, thresholds = roc_curve(gt_local, prob_local)
    if sum(gt) == len(gt):
        fps = np.zeros(len(fpr))
    else:
        fps = fpr * (candidates - detected) / n_images
    sens = (tpr * detected) / total
    return fps, sens, thresholds


def froc_case(c):
    gt, prob, exclude = [], [], []
    for scan in c["scans"]:
        candidates = dict(enumerate(scan["candidates"]))
        remaining = dict(candidates)
        for nodule in scan["nodules"]:
            radius_squared = (nodule["diameter"] / 2.0) ** 2
            found = False
            matches = []
            for key, cand in candidates.items():
                dist = sum((nodule["centre"][a] - cand["position"][a]) ** 2 for a in range(3))
                if dist < radius_squared:
                    if not nodule["excluded"]:
                        found = True
                        matches.append(cand)
                        remaining.pop(key, None)
                    else:
                        remaining.pop(key, None)
            if not nodule["excluded"]:
                if found:
                    gt.append(1.0)
                    prob.append(max(float(m["score"]) for m in matches))
                    exclude.append(False)
                else:
                    gt.append(1.0)
                    prob.append(MIN_PROB)
                    exclude.append(True)
        for cand in remaining.values():
            gt.append(0.0)
            prob.append(float(cand["score"]))
            exclude.append(False)
    fps, sens, _ = luna_compute_froc(gt, prob, len(c["scans"]), exclude)
    rates = [0.125, 0.25, 0.5, 1, 2, 4, 8]
    at_rates = np.interp(rates, fps, sens)
    grid = np.linspace(0.125, 8, num=10001)
    return {
        "cpm_sensitivities": nums(at_rates),
        "cpm": num(np.mean(at_rates)),
        "grid": nums(grid),
        "grid_sensitivity": nums(np.interp(grid, fps, sens)),
    }


def components_case(c):
    a = np.asarray(c["data"], dtype=np.uint8).reshape(c["shape"])
    structure = ndimage.generate_binary_structure(3, 1 if c["connectivity"] == 6 else 3)
    labels, count = ndimage.label(a, structure=structure)
    return {"count": int(count), "labels": labels.ravel().tolist()}


def main():
    cases = json.load(sys.stdin)
    out = {
        "binary": [binary_case(c) for c in cases.get("binary", [])],
        "calibration": [calibration_case(c) for c in cases.get("calibration", [])],
        "kappa": [kappa_case(c) for c in cases.get("kappa", [])],
        "wilson": [wilson_case(c) for c in cases.get("wilson", [])],
        "normal": {
            "cdf": nums(stats.norm.cdf(cases.get("normal", {}).get("x", []))),
            "ppf": nums(stats.norm.ppf(cases.get("normal", {}).get("p", []))),
        },
        "froc": [froc_case(c) for c in cases.get("froc", [])],
        "components": [components_case(c) for c in cases.get("components", [])],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
