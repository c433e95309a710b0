"""Golden cases for offset columns (spread small next to magnitude), computed with SciPy and NumPy.

Run: python3 make_offset_golden.py > offset-columns.json   (NumPy >= 1.24, SciPy >= 1.10)
Each case carries its raw inputs as standard scores rounded to 6 decimals: the values are
location + sigma * z, one multiply and one add in float64 (the same double in any IEEE language), the
exact KS statistic and asymptotic p-value, Wasserstein-1 (and normed by the reference's population
std) and PSI on the reference's deciles, so a test can hold both the exact functions and the live
sketch path to them. Conventions are make_golden.py's.
"""
import json
import sys

import numpy as np
from scipy import stats

rng = np.random.default_rng(20261130)
PSI_EPS = 1e-4


def psi(ref, cur, inner):
    e = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=len(inner) + 1) / len(ref)
    a = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=len(inner) + 1) / len(cur)
    e = np.where(e == 0, PSI_EPS, e)
    a = np.where(a == 0, PSI_EPS, a)
    return float(np.sum((a - e) * np.log(a / e)))


cases = []
# name, location, sigma, reference size, window size, shift in sigmas
for name, location, sigma, n, m, shift in [
    ("sensor-kelvin-same", 293.0, 0.3, 2000, 1000, 0.0),
    ("sensor-kelvin-half-sigma", 293.0, 0.3, 2000, 1000, 0.5),
    ("latitude-same", 48.86, 0.01, 2000, 1000, 0.0),
    ("latitude-half-sigma", 48.86, 0.01, 2000, 1000, 0.5),
    ("pressure-pa-same", 101325.0, 30.0, 2000, 1000, 0.0),
    ("pressure-pa-half-sigma", 101325.0, 30.0, 2000, 1000, 0.5),
    ("epoch-seconds-same", 1.7e9, 600.0, 2000, 1000, 0.0),
    ("epoch-seconds-half-sigma", 1.7e9, 600.0, 2000, 1000, 0.5),
    ("micro-same", 1e-6, 1e-9, 2000, 1000, 0.0),
    ("micro-half-sigma", 1e-6, 1e-9, 2000, 1000, 0.5),
    ("negative-billion-same", -1e9, 5.0, 2000, 1000, 0.0),
    ("negative-billion-half-sigma", -1e9, 5.0, 2000, 1000, 0.5),
]:
    zx = np.round(rng.normal(0.0, 1.0, n), 6)
    zy = np.round(rng.normal(shift, 1.0, m), 6)
    x = location + sigma * zx
    y = location + sigma * zy
    ks = stats.ks_2samp(x, y, alternative="two-sided", method="asymp")
    w = float(stats.wasserstein_distance(x, y))
    inner = np.quantile(x, np.linspace(0.1, 0.9, 9))
    cases.append({
        "name": name, "location": location, "sigma": sigma, "shift": shift,
        "referenceZ": [float(v) for v in zx], "currentZ": [float(v) for v in zy],
        "ks": {"statistic": float(ks.statistic), "pvalue": float(ks.pvalue)},
        "wasserstein": {"distance": w, "normed": w / float(np.std(x))},
        "innerEdges": [float(v) for v in inner],
        "psi": psi(x, y, inner),
    })

doc = {
    "generator": "make_offset_golden.py (SciPy %s, NumPy %s)" % (__import__("scipy").__version__, np.__version__),
    "conventions": {
        "values": "reference[i] = location + sigma * referenceZ[i], current[i] = location + sigma * currentZ[i] (float64)",
        "ks": "scipy.stats.ks_2samp(reference, current, alternative='two-sided', method='asymp')",
        "wasserstein": "scipy.stats.wasserstein_distance(reference, current); normed = distance / numpy.std(reference) (ddof=0)",
        "psi": "sum((a - e) * ln(a / e)) over 10 bins [e_i, e_i+1) whose 9 inner edges are numpy.quantile(reference, 0.1..0.9); a bin with share 0 on either side counts as %g" % PSI_EPS,
    },
    "tolerance": {"statistic": 1e-9, "pvalue_relative": 1e-6,
                  "sketch": {"ks": 0.01, "wassersteinNormed": 0.02, "psi": 0.01},
                  "note": "exact functions to the first two; the live sketch path (worker panes -> window -> drift entry) to 'sketch', the README's stated bounds"},
    "cases": cases,
}
json.dump(doc, sys.stdout)
sys.stdout.write("\n")
