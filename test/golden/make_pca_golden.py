"""Reference values for driftwatch's multivariate drift (src/stats/pca-reconstruction.ts), computed
with scikit-learn the way NannyML's DataReconstructionDriftCalculator does: SimpleImputer (numeric:
mean, categorical: most frequent), encoding, StandardScaler, PCA(n_components=0.65), and the
Euclidean distance between each standardized row and its inverse_transform.

One deliberate difference, as in driftwatch: the categorical is one-hot encoded on its frequent
categories (share >= 1 %, at most 10; OneHotEncoder with handle_unknown='ignore'), where NannyML
uses a frequency encoding.

Run with Debian's python3-sklearn: /usr/bin/python3 make_pca_golden.py > pca-reconstruction.json
"""
import json

import numpy as np
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

rng = np.random.default_rng(20261130)
NUMERIC = ["x1", "x2", "x3", "x4", "x5"]
CATEGORICAL = "segment"
SHARE = 0.65
CHUNK = 100


def make_rows(n, flip=False):
    """Five numeric features from two latent factors plus noise, and a categorical tied to the first factor."""
    f1 = rng.normal(0, 1, n)
    f2 = rng.normal(0, 1, n)
    x = np.column_stack([
        2.0 * f1 + rng.normal(0, 0.4, n) + 10,
        (-1.0 if flip else 1.0) * 1.5 * f1 + rng.normal(0, 0.5, n),
        f2 + rng.normal(0, 0.3, n) - 3,
        0.7 * f2 - 0.5 * f1 + rng.normal(0, 0.6, n),
        rng.normal(0, 1, n) * 4,
    ])
    x = np.round(x, 6)
    p = rng.random(n)
    seg = np.where(f1 > 0.5, "high", np.where(f1 < -0.5, "low", "mid"))
    seg = np.where(p < 0.15, "other", seg)
    seg = np.where(p > 0.995, "rare", seg)
    rows = []
    for i in range(n):
        row = {name: float(x[i, j]) for j, name in enumerate(NUMERIC)}
        row[CATEGORICAL] = str(seg[i])
        rows.append(row)
    # some missing values: x2 and the categorical
    for i in rng.choice(n, size=n // 25, replace=False):
        rows[i]["x2"] = None
    for i in rng.choice(n, size=n // 30, replace=False):
        rows[i][CATEGORICAL] = None
    return rows


reference = make_rows(1000)
current = make_rows(200) + make_rows(200, flip=True)
current[0][CATEGORICAL] = "never-seen"

num_imputer = SimpleImputer(strategy="mean")
cat_imputer = SimpleImputer(strategy="most_frequent")


def columns(rows):
    num = np.array([[np.nan if r[c] is None else r[c] for c in NUMERIC] for r in rows], dtype=float)
    cat = np.array([[r[CATEGORICAL] if r[CATEGORICAL] is not None else np.nan] for r in rows], dtype=object)
    return num, cat


ref_num, ref_cat = columns(reference)
ref_num_i = num_imputer.fit_transform(ref_num)
ref_cat_i = cat_imputer.fit_transform(ref_cat)
values, counts = np.unique(ref_cat_i[:, 0].astype(str), return_counts=True)
order = sorted(zip(values, counts), key=lambda vc: (-vc[1], vc[0]))
kept = [str(v) for v, c in order if c / len(reference) >= 0.01][:10]
encoder = OneHotEncoder(categories=[kept], handle_unknown="ignore", sparse_output=False)
ref_encoded = np.hstack([ref_num_i, encoder.fit_transform(ref_cat_i)])
scaler = StandardScaler()
ref_scaled = scaler.fit_transform(ref_encoded)
pca = PCA(n_components=SHARE, svd_solver="full")
pca.fit(ref_scaled)


def errors(rows):
    num, cat = columns(rows)
    encoded = np.hstack([num_imputer.transform(num), encoder.transform(cat_imputer.transform(cat))])
    scaled = scaler.transform(encoded)
    reconstructed = pca.inverse_transform(pca.transform(scaled))
    return np.linalg.norm(scaled - reconstructed, axis=1)


ref_errors = errors(reference)
chunk_means = ref_errors[: len(ref_errors) // CHUNK * CHUNK].reshape(-1, CHUNK).mean(axis=1)
chunk_mean = float(chunk_means.mean())
chunk_std = float(chunk_means.std(ddof=1))
cur_errors = errors(current)

json.dump({
    "varianceShare": SHARE,
    "chunkSize": CHUNK,
    "reference": reference,
    "current": current,
    "keptCategories": kept,
    "mostFrequent": str(cat_imputer.statistics_[0]),
    "numericMeans": [float(v) for v in num_imputer.statistics_],
    "scales": [float(v) for v in scaler.scale_],
    "components": int(pca.n_components_),
    "explainedVarianceRatio": [float(v) for v in PCA().fit(ref_scaled).explained_variance_ratio_],
    "referenceErrors": [float(v) for v in ref_errors],
    "currentErrors": [float(v) for v in cur_errors],
    "chunkMean": chunk_mean,
    "chunkStd": chunk_std,
    "lower": chunk_mean - 3 * chunk_std,
    "upper": chunk_mean + 3 * chunk_std,
    "currentChunkMeans": [float(cur_errors[i:i + CHUNK].mean()) for i in range(0, len(cur_errors), CHUNK)],
}, __import__("sys").stdout)
