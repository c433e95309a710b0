"""Extra SciPy reference values for driftwatch's statistics tests (beyond test/golden).

Run: python3 test/stats/make_scipy_cases.py > test/stats/scipy-cases.json   (SciPy >= 1.11)
Exercises every branch of kstwo.sf / smirnov / ks_2samp exact and the chi-squared and normal
tails that the golden file does not reach.
"""
import json
import sys

import numpy as np
from scipy import special, stats

rng = np.random.default_rng(7)

kstwo = []
for n, d in [(5, 0.15), (5, 0.3), (10, 0.06), (10, 0.95), (30, 0.12), (30, 0.2), (30, 0.3),
             (100, 0.05), (100, 0.15), (100, 0.3), (140, 0.1), (141, 0.1), (500, 0.03), (500, 0.05),
             (500, 0.2), (1200, 0.021), (1200, 0.04), (5000, 0.01), (5000, 0.004), (20000, 0.005),
             (150000, 0.002), (150000, 0.004), (1000000, 0.0008), (50, 0.6), (3, 0.7)]:
    kstwo.append({"n": n, "d": d, "sf": float(stats.kstwo.sf(d, n))})

smirnov = []
for n, d in [(2, 0.3), (10, 0.05), (10, 0.3), (10, 0.95), (100, 0.1), (1000, 0.05), (1000, 0.2)]:
    smirnov.append({"n": n, "d": d, "sf": float(special.smirnov(n, d))})

ks = []
def add_ks(name, x, y, method="auto"):
    res = stats.ks_2samp(x, y, alternative="two-sided", method=method)
    ks.append({"name": name, "method": method, "reference": [float(v) for v in x], "current": [float(v) for v in y],
               "statistic": float(res.statistic), "pvalue": float(res.pvalue)})

add_ks("equal-sizes", np.round(rng.normal(0, 1, 40), 3), np.round(rng.normal(0.5, 1, 40), 3))
add_ks("ties", rng.integers(0, 5, 60).astype(float), rng.integers(0, 6, 45).astype(float))
add_ks("tiny", [1.0, 2.0, 3.0], [4.0, 5.0])
add_ks("identical", [1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0])
add_ks("one-vs-many", [0.5], list(np.round(rng.normal(0, 1, 30), 3)))
add_ks("unequal-mid", np.round(rng.normal(0, 1, 300), 4), np.round(rng.normal(0.1, 1.1, 700), 4))
add_ks("disjoint", list(np.arange(10.0)), list(np.arange(10.0) + 100))
add_ks("asymp-small-en", np.round(rng.normal(0, 1, 60), 4), np.round(rng.normal(0.3, 1, 12000), 4))
add_ks("asymp-large", np.round(rng.normal(0, 1, 15000), 4), np.round(rng.normal(0.02, 1, 12000), 4))

chi2 = []
for x, dof in [(0.5, 1), (3.84, 1), (12.0, 3), (100.0, 5), (250.0, 9), (0.01, 20), (30.0, 40), (2000.0, 1500)]:
    chi2.append({"x": x, "dof": dof, "sf": float(stats.chi2.sf(x, dof))})

normal = []
for z in [0.1, 1.0, 1.959963984540054, 3.0, 5.0, 9.0, -2.5]:
    normal.append({"z": z, "twoSided": float(2 * stats.norm.sf(abs(z)))})

json.dump({"generator": "make_scipy_cases.py (SciPy %s)" % __import__("scipy").__version__,
           "kstwo": kstwo, "smirnov": smirnov, "ks": ks, "chi2sf": chi2, "normal": normal}, sys.stdout)
sys.stdout.write("\n")
