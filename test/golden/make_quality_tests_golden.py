"""Reference values for src/stats/proportion-tests.ts, from SciPy.

Run: /usr/bin/python3 make_quality_tests_golden.py > quality-tests.json   (SciPy >= 1.10)

statsmodels is not installed here, so the Farrington-Manning test is computed independently of
the closed form the TypeScript uses: the restricted maximum-likelihood estimates under
p1 - p2 = margin come from maximizing the binomial log-likelihood numerically
(scipy.optimize.minimize_scalar, bounded), then z = (p1^ - p2^ - margin) / sqrt(p1~(1-p1~)/n1 +
p2~(1-p2~)/n2) and the one-sided p-value is scipy.stats.norm.sf(z). The F1 variance is the
delta method with a numerical gradient and the multinomial covariance (diag(p) - p p^T) / n;
the AUC variance is Hanley & McNeil's formula; quantiles are norm.isf.
"""
import json

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.stats import norm


def restricted(x1, n1, x2, n2, margin):
    lo, hi = max(0.0, -margin), min(1.0, 1.0 - margin)
    eps = 1e-15

    def nll(p2):
        p1 = p2 + margin
        p1 = min(max(p1, eps), 1 - eps)
        p2 = min(max(p2, eps), 1 - eps)
        return -(x1 * np.log(p1) + (n1 - x1) * np.log(1 - p1) + x2 * np.log(p2) + (n2 - x2) * np.log(1 - p2))

    res = minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-13, "maxiter": 2000})
    # the bounded search stops short of an end point; the maximum may sit on one (a side at 0 % or 100 %)
    best = min([res.x, lo, hi], key=nll)
    return best + margin, best


def fm(x1, n1, x2, n2, margin):
    q1, q2 = restricted(x1, n1, x2, n2, margin)
    var = q1 * (1 - q1) / n1 + q2 * (1 - q2) / n2
    z = (x1 / n1 - x2 / n2 - margin) / np.sqrt(var)
    return {"q1": q1, "q2": q2, "z": float(z), "pValue": float(norm.sf(z))}


def f1_variance(tp, fp, fn, tn):
    n = tp + fp + fn + tn
    p = np.array([tp, fp, fn, tn], dtype=float) / n

    def f1(q):
        return 2 * q[0] / (2 * q[0] + q[1] + q[2])

    h = 1e-7
    g = np.array([(f1(p + h * e) - f1(p - h * e)) / (2 * h) for e in np.eye(4)])
    cov = (np.diag(p) - np.outer(p, p)) / n
    return float(g @ cov @ g)


def auc_variance(a, npos, nneg):
    q1 = a / (2 - a)
    q2 = 2 * a * a / (1 + a)
    return (a * (1 - a) + (npos - 1) * (q1 - a * a) + (nneg - 1) * (q2 - a * a)) / (npos * nneg)


proportion_cases = []
for x1, n1, x2, n2, margin in [
    (240, 300, 130, 200, 0.05),  # the stationary example scale: ~0.8 vs 0.65
    (195, 300, 1298, 2000, 0.05),
    (3750, 5000, 1300, 2000, 0.05),
    (3750, 5000, 1500, 2000, 0.05),
    (3750, 5000, 1500, 2000, 0.0),
    (300, 300, 180, 200, 0.05),  # a perfect baseline
    (10, 300, 0, 200, 0.02),  # a window at 0 %
    (700, 1000, 60, 100, 0.1),
    (50, 60, 700, 1000, 0.05),
    (4900, 5000, 1800, 2000, 0.03),
]:
    c = fm(x1, n1, x2, n2, margin)
    proportion_cases.append({"x1": x1, "n1": n1, "x2": x2, "n2": n2, "margin": margin, **c})

f1_cases = [{"tp": tp, "fp": fp, "fn": fn, "tn": tn, "variance": f1_variance(tp, fp, fn, tn)} for tp, fp, fn, tn in [(400, 100, 120, 380), (30, 5, 8, 157), (900, 300, 50, 750)]]
auc_cases = [{"auc": a, "positives": p, "negatives": q, "variance": auc_variance(a, p, q)} for a, p, q in [(0.8, 300, 700), (0.95, 50, 950), (0.6, 1000, 1000)]]
quantile_cases = [{"p": p, "z": float(norm.isf(p))} for p in [0.05, 1e-3, 1.7e-5, 1e-7, 1e-10]]
tail_cases = [{"z": z, "p": float(norm.sf(z))} for z in [-2.0, 0.0, 1.2, 3.719, 6.0, 9.0]]

json.dump({"proportion": proportion_cases, "f1": f1_cases, "auc": auc_cases, "quantile": quantile_cases, "tail": tail_cases}, __import__("sys").stdout, indent=1)
