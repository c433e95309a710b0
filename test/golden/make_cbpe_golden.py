"""Reference values for driftwatch's isotonic calibration and CBPE estimates, from scikit-learn.

Run: python3 make_cbpe_golden.py > cbpe-cases.json   (scikit-learn >= 1.2, NumPy >= 1.24)

NannyML itself is not installed here (it pulls pandas and a dozen other packages); its CBPE for
binary classification is re-implemented below from nannyml/performance_estimation/
confidence_based/metrics.py (estimate_accuracy, estimate_precision, estimate_recall,
estimate_f1, estimate_roc_auc) and nannyml/calibration.py (IsotonicCalibrator =
IsotonicRegression(out_of_bounds='clip', increasing=True); needs_calibration), with the same
sklearn calls. Every case carries its raw inputs, so a test can recompute everything.
"""
import json

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import auc as sk_auc
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit

rng = np.random.default_rng(20260917)


def r(x, digits=6):
    return [float(v) for v in np.round(np.asarray(x, dtype=float), digits)]


def isotonic(x, y, w=None):
    model = IsotonicRegression(out_of_bounds="clip", increasing=True)
    model.fit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), sample_weight=None if w is None else np.asarray(w, dtype=float))
    return model


# --- NannyML's estimators (binary), verbatim in substance -------------------------------------

def estimate_accuracy(y_pred, p):
    tp = np.where(y_pred == 1, p, 0)
    tn = np.where(y_pred == 0, 1 - p, 0)
    return (tp.sum() + tn.sum()) / len(y_pred)


def estimate_precision(y_pred, p):
    TP = np.where(y_pred == 1, p, 0).sum()
    FP = np.where(y_pred == 1, 1 - p, 0).sum()
    return TP / (TP + FP) if TP + FP != 0 else 0


def estimate_recall(y_pred, p):
    TP = np.where(y_pred == 1, p, 0).sum()
    FN = np.where(y_pred == 0, p, 0).sum()
    return TP / (TP + FN) if TP + FN != 0 else 0


def estimate_f1(y_pred, p):
    TP = np.where(y_pred == 1, p, 0).sum()
    FP = np.where(y_pred == 1, 1 - p, 0).sum()
    FN = np.where(y_pred == 0, p, 0).sum()
    d = TP + 0.5 * (FP + FN)
    return TP / d if d != 0 else 0


def estimate_roc_auc(calibrated, raw):
    order = np.argsort(raw, kind="stable")[::-1]
    p = calibrated[order]
    tps = np.cumsum(p)
    fps = 1 + np.arange(len(p)) - tps
    tps = np.round(np.r_[0, tps], 5)
    fps = np.round(np.r_[0, fps], 5)
    return sk_auc(fps / fps[-1], tps / tps[-1])


def ece(y_true, proba, bin_count=10):
    n = len(proba)
    if n <= 2 * bin_count:
        bin_count = n // 2
    width = n // bin_count
    edges = list(range(0, n + 1, width))
    edges[-1] = n
    order = np.argsort(proba)
    proba, y_true = proba[order], y_true[order]
    return sum((right - left) / n * abs(proba[left:right].mean() - y_true[left:right].mean()) for left, right in zip(edges[:-1], edges[1:]))


def needs_calibration(y_true, proba):
    if len(np.unique(y_true)) == 1 or roc_auc_score(y_true, proba) > 0.999:
        return False
    sss = StratifiedShuffleSplit(n_splits=10, test_size=0.1, random_state=42)
    ys, raw, cal = [], [], []
    for train, test in sss.split(proba, y_true):
        model = isotonic(proba[train], y_true[train])
        ys.append(y_true[test])
        raw.append(proba[test])
        cal.append(model.predict(proba[test]))
    ys, raw, cal = np.concatenate(ys), np.concatenate(raw), np.concatenate(cal)
    return bool(ece(ys, raw) > ece(ys, cal))


# --- Isotonic regression on weighted points --------------------------------------------------

isotonic_cases = []
for name, x, y, w in [
    ("monotone", [0.1, 0.2, 0.3, 0.4], [0.0, 0.2, 0.5, 1.0], None),
    ("one-violation", [0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.6, 0.3, 0.7, 0.9], None),
    ("weighted-violation", [0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 0.6, 0.3, 0.7, 0.2], [1, 3, 1, 2, 5]),
    ("ties-in-x", [0.2, 0.2, 0.5, 0.5, 0.5, 0.8], [1, 0, 0, 1, 1, 0], [1, 1, 2, 1, 1, 4]),
    ("flat-runs", [0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65], [0.3, 0.3, 0.3, 0.3, 0.8, 0.8, 0.8], None),
    ("all-decreasing", [0.1, 0.2, 0.3, 0.4], [0.9, 0.7, 0.4, 0.1], [2, 1, 1, 3]),
]:
    model = isotonic(x, y, w)
    query = [0.0, 0.12, 0.2, 0.33, 0.47, 0.5, 0.61, 0.9, 1.0]
    isotonic_cases.append({"name": name, "x": x, "y": [float(v) for v in y], "weight": w,
                           "thresholdsX": r(model.X_thresholds_, 12), "thresholdsY": r(model.y_thresholds_, 12),
                           "query": query, "predicted": r(model.predict(query), 12)})

# Random labelled points: (score, 0/1) pairs, unweighted, many violations.
for name, n in [("random-200", 200), ("random-3000", 3000)]:
    s = np.round(rng.uniform(0, 1, n), 4)  # 4 digits: ties occur
    labels = (rng.uniform(0, 1, n) < s ** 1.5).astype(int)
    model = isotonic(s, labels)
    query = r(np.linspace(0, 1, 41), 6)
    isotonic_cases.append({"name": name, "x": r(s, 4), "y": [int(v) for v in labels], "weight": None,
                           "thresholdsX": r(model.X_thresholds_, 12), "thresholdsY": r(model.y_thresholds_, 12),
                           "query": query, "predicted": r(model.predict(query), 12)})


# --- CBPE on generated reference / analysis data ---------------------------------------------

def logit(p):
    return np.log(p / (1 - p))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# True positive probability q of a prediction; the model's score is a distortion of it.
distortions = {
    "calibrated": lambda z: z,
    "over-confident": lambda z: 2.5 * z,
    "under-confident": lambda z: 0.4 * z,
    "biased-up": lambda z: z + 1.0,
}

cbpe_cases = []
for name, distort in distortions.items():
    def draw(n, mean):
        q = sigmoid(rng.normal(mean, 1.5, n))
        score = np.round(np.clip(sigmoid(distort(logit(q))), 1e-6, 1 - 1e-6), 6)
        label = (rng.uniform(0, 1, n) < q).astype(int)
        return score, label

    ref_s, ref_y = draw(3000, 0.0)
    ana_s, ana_y = draw(1500, 0.6)  # the analysis period's population has shifted
    model = isotonic(ref_s, ref_y)
    calibrated = model.predict(ana_s)
    y_pred = (ana_s >= 0.5).astype(int)
    cbpe_cases.append({
        "name": name,
        "reference": {"scores": r(ref_s), "labels": [int(v) for v in ref_y]},
        "analysis": {"scores": r(ana_s)},
        "needsCalibration": needs_calibration(ref_y, ref_s),
        "estimated": {
            "accuracy": float(estimate_accuracy(y_pred, calibrated)),
            "precision": float(estimate_precision(y_pred, calibrated)),
            "recall": float(estimate_recall(y_pred, calibrated)),
            "f1": float(estimate_f1(y_pred, calibrated)),
            "auc": float(estimate_roc_auc(calibrated, ana_s)),
        },
        "realized": {"accuracy": float(np.mean(y_pred == ana_y))},
    })

# perScore: the estimator fed one bin per score reproduces NannyML to rounding. histogram100: a
# window holds 100 equal-width score bins and calibrates each at its mean score; where the map
# bends inside a bin (over-confident scores pile into [0.99, 1]) that costs up to ~0.012 (precision
# of the over-confident case): a limit of the pane's linear score bins, not of the estimator.
print(json.dumps({
    "generator": "test/golden/make_cbpe_golden.py (scikit-learn IsotonicRegression; NannyML CBPE formulas re-implemented)",
    "tolerance": {"isotonic": 1e-9, "perScore": 1e-7, "histogram100": 0.015},
    "isotonic": isotonic_cases,
    "cbpe": cbpe_cases,
}))
