"""Reference values for the reference-relative F1/AUC drops and the estimated-accuracy drop of
src/alerts/drop-evidence.ts, from SciPy, computed independently of the TypeScript:

- estimated accuracy: the Farrington-Manning test with the restricted MLE found numerically
  (scipy.optimize.minimize_scalar), the window side being round(estimate * scored) of `scored`;
- F1: Wald z of the difference with each side's delta-method variance (numerical gradient,
  multinomial covariance), one-sided p-value norm.sf;
- AUC: Wald z with Hanley & McNeil variances (positives = tp + fn, negatives = tn + fp).

Run: python3 make_quality_drop_golden.py > quality-drop.json   (SciPy >= 1.10)
"""
import json
import sys

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import norm


def restricted(x1, n1, x2, n2, margin):
    lo, hi = max(0.0, -margin), min(1.0, 1.0 - margin)
    eps = 1e-15

    def nll(p2):
        p1 = min(max(p2 + margin, eps), 1 - eps)
        p2 = min(max(p2, eps), 1 - eps)
        return -(x1 * np.log(p1) + (n1 - x1) * np.log(1 - p1) + x2 * np.log(p2) + (n2 - x2) * np.log(1 - p2))

    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13, "maxiter": 2000})
    best = min([res.x, lo, hi], key=nll)
    return best + margin, best


def fm_p(x1, n1, x2, n2, margin):
    q1, q2 = restricted(x1, n1, x2, n2, margin)
    z = (x1 / n1 - x2 / n2 - margin) / np.sqrt(q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2)
    return float(norm.sf(z))


def f1_of(tp, fp, fn):
    return 2 * tp / (2 * tp + fp + fn)


def f1_variance(tp, fp, fn, tn):
    n = tp + fp + fn + tn
    p = np.array([tp, fp, fn, tn], dtype=float) / n
    h = 1e-7
    g = np.array([(f1_of(*(p + h * e)[:3]) - f1_of(*(p - h * e)[:3])) / (2 * h) for e in np.eye(4)])
    return float(g @ ((np.diag(p) - np.outer(p, p)) / n) @ g)


def auc_variance(a, npos, nneg):
    q1 = a / (2 - a)
    q2 = 2 * a * a / (1 + a)
    return (a * (1 - a) + (npos - 1) * (q1 - a * a) + (nneg - 1) * (q2 - a * a)) / (npos * nneg)


estimated = []
for ref_acc, ref_n, est, scored, margin in [(0.85, 4000, 0.78, 6000, 0.03), (0.85, 4000, 0.83, 6000, 0.03), (0.9, 20000, 0.8, 300, 0.05)]:
    x1 = round(ref_acc * ref_n)
    x2 = round(est * scored)
    estimated.append({"referenceAccuracy": ref_acc, "referenceLabels": ref_n, "estimated": est, "scored": scored, "margin": margin, "pValue": fm_p(x1, ref_n, x2, scored, margin)})

f1 = []
for ref, win, margin in [((400, 100, 120, 380), (300, 150, 200, 350), 0.05), ((400, 100, 120, 380), (390, 110, 125, 375), 0.02)]:
    base, value = f1_of(*ref[:3]), f1_of(*win[:3])
    z = (base - value - margin) / np.sqrt(f1_variance(*ref) + f1_variance(*win))
    f1.append({"reference": dict(zip(["tp", "fp", "fn", "tn"], ref)), "window": dict(zip(["tp", "fp", "fn", "tn"], win)), "margin": margin, "base": base, "value": value, "pValue": float(norm.sf(z))})

auc = []
for ref_auc, ref, win_auc, win, margin in [(0.85, (400, 100, 120, 380), 0.78, (300, 150, 200, 350), 0.02)]:
    v1 = auc_variance(ref_auc, ref[0] + ref[2], ref[3] + ref[1])
    v2 = auc_variance(win_auc, win[0] + win[2], win[3] + win[1])
    z = (ref_auc - win_auc - margin) / np.sqrt(v1 + v2)
    auc.append({"referenceAuc": ref_auc, "reference": dict(zip(["tp", "fp", "fn", "tn"], ref)), "windowAuc": win_auc, "window": dict(zip(["tp", "fp", "fn", "tn"], win)), "margin": margin, "pValue": float(norm.sf(z))})

json.dump({"estimatedAccuracy": estimated, "f1": f1, "auc": auc}, sys.stdout, indent=1)
