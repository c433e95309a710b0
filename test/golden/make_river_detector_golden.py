"""Golden flags and final states of River's own drift detectors, for river-golden.test.ts.

Unlike test/detectors/river-oracle.ts (River transcribed by hand, since pip cannot reach PyPI here),
this runs River's source files themselves. They are not committed: fetch them, one file each, from
github.com/online-ml/river into RIVER_SRC (default /tmp/river-src, laid out as in the repository):

  river/drift/page_hinkley.py       the version with `mode` and stats.Mean (stored blob, no commit
                                    recorded by the fetching tool; sha256 of its code below)
  river/drift/binary/ddm.py         commit 979086449ec85477dd20132683a80606ef5f05a1
  river/drift/binary/eddm.py        commit 70cad9e796184ed597f8469e9ba1880fca352f4f
  river/drift/binary/hddm_a.py      commit bfcd0fd4dae1d87ee37b7c80df8d613ff4206c40
  river/drift/binary/hddm_w.py      commit bfcd0fd4dae1d87ee37b7c80df8d613ff4206c40
  river/stats/mean.py               the version with `self._mean += (w / self.n) * (x - self._mean)`
                                    (stored blob, no commit recorded)
  river/stats/var.py                the version with `self._S += w * (x - mean_old) * (x - mean_new)`
                                    and an `n` property (stored blob, no commit recorded)
  river/base/drift_detector.py      commit a4956732b1d422558cccaef838820786059de224

The local copies had their long docstrings trimmed; their code is verbatim. The run prints the
sha256 of every file's code lines (docstrings and comments dropped) into the JSON, so a later
fetch can be compared.

Stubs (this file, below), only where River's code is not plain Python or is not a detector:
- `river.base.base.Base`: only `clone(include_attributes=True)`, as a deep copy (River's clone
  rebuilds the object from its parameters and copies its attributes; for stats.Mean, which HDDM_A
  clones, both give the same n and mean).
- `river.stats.base.Univariate`: an empty subclass of that Base.
- `river.stats.EWMean`: River's is Rust (rust_src/ewmean.rs, commit 56a554d2). This stub states its
  recurrence, the one river-oracle.ts documents: the first value as is, then
  `alpha * x + one_minus_alpha * mean` with `one_minus_alpha = 1.0 - alpha` computed once; `get()`
  is 0.0 before the first value.
ADWIN is left out: River's ADWIN is Cython (river/drift/adwin_c.pyx) and Debian's python3 here has
no Cython.

Streams are seeded (random.Random), and include inputs placed exactly at thresholds: for
Page-Hinkley, HDDM_A and HDDM_W the last value of a prefix is found by bisection over doubles where
River's verdict flips, and probed from 3 ULPs below to 3 above; for DDM and EDDM (0/1 inputs) the
drift threshold (DDM) or beta (EDDM) is placed within 3 ULPs of where River's verdict on the stream
flips next to a level it computed (found by bisection; the level itself where nothing flips nearby).
Before writing, River's documented docstring examples are re-run (indices printed in River's docs).

Run: python3 test/golden/make_river_detector_golden.py > test/golden/river-detectors.json
"""
import copy
import hashlib
import importlib.util
import json
import math
import os
import random
import re
import struct
import sys
import types

SRC = os.environ.get("RIVER_SRC", "/tmp/river-src")
FILES = [
    "river/base/drift_detector.py",
    "river/stats/mean.py",
    "river/stats/var.py",
    "river/drift/page_hinkley.py",
    "river/drift/binary/ddm.py",
    "river/drift/binary/eddm.py",
    "river/drift/binary/hddm_a.py",
    "river/drift/binary/hddm_w.py",
]


# ---------------------------------------------------------------- stubs and River's own modules
def package(name):
    module = types.ModuleType(name)
    module.__path__ = []
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, module)
    return module


def load(name, relative_path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(SRC, relative_path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
    spec.loader.exec_module(module)
    return module


class Base:
    """Stub of river.base.base.Base: clone only."""

    def clone(self, include_attributes=False):
        return copy.deepcopy(self)


class Univariate(Base):
    """Stub of river.stats.base.Univariate (River's statistics derive from Base too)."""


class EWMean(Univariate):
    """Stub of River's Rust EWMean (rust_src/ewmean.rs), recurrence as stated in the module docstring."""

    def __init__(self, fading_factor=0.5):
        self.fading_factor = fading_factor
        self._one_minus_alpha = 1.0 - fading_factor
        self._initialized = False
        self._mean = 0.0

    def update(self, x):
        if not self._initialized:
            self._mean = x
            self._initialized = True
        else:
            self._mean = self.fading_factor * x + self._one_minus_alpha * self._mean
        return self

    def get(self):
        return self._mean


package("river")
river_base = package("river.base")
base_base = types.ModuleType("river.base.base")
base_base.Base = Base
sys.modules["river.base.base"] = base_base
river_base.base = base_base
drift_detector = load("river.base.drift_detector", "river/base/drift_detector.py")
for cls in ("DriftDetector", "DriftAndWarningDetector", "BinaryDriftDetector", "BinaryDriftAndWarningDetector"):
    setattr(river_base, cls, getattr(drift_detector, cls))
river_stats = package("river.stats")
stats_base = types.ModuleType("river.stats.base")
stats_base.Univariate = Univariate
sys.modules["river.stats.base"] = stats_base
river_stats.base = stats_base
river_stats.Mean = load("river.stats.mean", "river/stats/mean.py").Mean
river_stats.Var = load("river.stats.var", "river/stats/var.py").Var
river_stats.EWMean = EWMean
package("river.drift")
package("river.drift.binary")
PageHinkley = load("river.drift.page_hinkley", "river/drift/page_hinkley.py").PageHinkley
DDM = load("river.drift.binary.ddm", "river/drift/binary/ddm.py").DDM
EDDM = load("river.drift.binary.eddm", "river/drift/binary/eddm.py").EDDM
HDDM_A = load("river.drift.binary.hddm_a", "river/drift/binary/hddm_a.py").HDDM_A
HDDM_W = load("river.drift.binary.hddm_w", "river/drift/binary/hddm_w.py").HDDM_W
DETECTORS = {"PageHinkley": PageHinkley, "DDM": DDM, "EDDM": EDDM, "HDDM_A": HDDM_A, "HDDM_W": HDDM_W}


def code_digest(relative_path):
    """sha256 of the file's code: docstrings, comments and blank lines dropped."""
    text = open(os.path.join(SRC, relative_path), encoding="utf-8").read()
    text = re.sub(r'[rR]?"""[\s\S]*?"""', "", text)
    lines = [line.split("#", 1)[0].rstrip() for line in text.splitlines()]
    return hashlib.sha256("\n".join(line for line in lines if line).encode()).hexdigest()


# ---------------------------------------------------------------- running and recording
def finite(x):
    return None if x is None or math.isinf(x) else x


def final_state(name, d):
    """River's state after the last update, under driftwatch's state field names."""
    if name == "PageHinkley":
        return {"n": d._x_mean.n, "mean": d._x_mean.get(), "sumIncrease": d._sum_increase, "sumDecrease": d._sum_decrease,
                "minIncrease": finite(d._min_increase), "maxDecrease": d._max_decrease}
    if name == "DDM":
        return {"n": d._p.n, "p": d._p.get(), "pMin": d._p_min, "sMin": d._s_min, "psMin": finite(d._ps_min)}
    if name == "EDDM":
        return {"n": d._n, "nErrors": d._n_errors, "lastError": d._last_error, "distanceCount": d._error_distances.n,
                "distanceMean": d._error_distances.mean.get(), "distanceSumSquares": d._error_distances._S, "p2sMax": d._p2s_prime_max}
    if name == "HDDM_A":
        return {"zN": d._z.n, "zMean": d._z.get(), "minN": d._x_min.n, "minMean": d._x_min.get(), "maxN": d._x_max.n, "maxMean": d._x_max.get()}
    if name == "HDDM_W":
        sample = lambda s: {"ewma": s.ewma, "initialized": s.is_init, "ibc": s.ibc}
        return {"total": sample(d._total), "s1Incr": sample(d._s1_incr), "s2Incr": sample(d._s2_incr), "s1Decr": sample(d._s1_decr),
                "s2Decr": sample(d._s2_decr), "incrCutpoint": finite(d._incr_cutpoint), "decrCutpoint": finite(d._decr_cutpoint)}
    raise ValueError(name)


def run(name, params, values):
    detector = DETECTORS[name](**params)
    warnings, drifts = [], []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            drifts.append(i)
        elif getattr(detector, "warning_detected", False):
            warnings.append(i)
    return {"warnings": runs(warnings), "drifts": drifts, "final": final_state(name, detector)}


def runs(indices):
    """Ascending indices as [first, last] runs of consecutive ones (warnings last many updates)."""
    out = []
    for i in indices:
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def flagged(indices_runs, i):
    return any(a <= i <= b for a, b in indices_runs)


def flag_of_last(name, params, values):
    out = run(name, params, values)
    last = len(values) - 1
    return "D" if last in out["drifts"] else "w" if flagged(out["warnings"], last) else "."


def to_bits(x):
    return struct.unpack("<q", struct.pack("<d", x))[0]


def from_bits(b):
    return struct.unpack("<d", struct.pack("<q", b))[0]


def crossing(is_true, lo, hi):
    """Smallest double in (lo, hi] (both >= 0) where is_true holds, given it fails at lo and holds at hi."""
    low, high = to_bits(lo), to_bits(hi)
    while high - low > 1:
        mid = (low + high) // 2
        if is_true(from_bits(mid)):
            high = mid
        else:
            low = mid
    return from_bits(high)


def flip_point(outcome, lo, hi):
    """Adjacent doubles in [lo, hi] (positive) whose outcomes differ: the upper one; None when lo and hi agree."""
    target = outcome(hi)
    if outcome(lo) == target:
        return None
    low, high = to_bits(lo), to_bits(hi)
    while high - low > 1:
        mid = (low + high) // 2
        if outcome(from_bits(mid)) == target:
            high = mid
        else:
            low = mid
    return from_bits(high)


def around(x, ulps=3):
    return [from_bits(to_bits(x) + k) for k in range(-ulps, ulps + 1)]


streams = {}
cases = []


def add_stream(key, values, binary=False):
    streams[key] = "".join(str(int(v)) for v in values) if binary else values
    return key


def add_case(name, params, stream, tail=None, note=None):
    values = list(streams[stream]) if isinstance(streams[stream], list) else [int(c) for c in streams[stream]]
    if tail is not None:
        values = values + tail
    case = {"detector": name, "params": params, "stream": stream}
    if tail is not None:
        case["tail"] = tail
    if note is not None:
        case["note"] = note
    case.update(run(name, params, values))
    cases.append(case)
    return case


def shifted(rng, n, change, before, after, digits=6):
    return [round(rng.gauss(*(before if i < change else after)), digits) for i in range(n)]


def bernoulli(rng, n, change, p_before, p_after):
    return [1 if rng.random() < (p_before if i < change else p_after) else 0 for i in range(n)]


# ---------------------------------------------------------------- River's documented examples
def documented_examples():
    rng = random.Random(12345)
    numeric = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    rng = random.Random(42)
    binary = rng.choices([0, 1], k=1000)
    binary = binary + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    assert run("PageHinkley", {}, numeric)["drifts"] == [1006]
    ddm = run("DDM", {}, binary)
    assert ddm["drifts"] == [1334] and ddm["warnings"][0][0] == 1084 and min(a for a, _ in ddm["warnings"] if a > 1334) == 1492, ddm
    eddm = run("EDDM", {"alpha": 0.8, "beta": 0.75}, binary)
    assert eddm["drifts"] == [1278] and eddm["warnings"][0][0] == 1059, eddm
    assert run("HDDM_A", {}, binary)["drifts"] == [1206] and run("HDDM_A", {}, binary)["warnings"][0][0] == 451
    assert run("HDDM_W", {}, binary)["drifts"] == [1077] and run("HDDM_W", {}, binary)["warnings"][0][0] == 451


# ---------------------------------------------------------------- cases
def page_hinkley_cases():
    modes = ["both", "up", "down"]
    for seed in range(1, 16):
        rng = random.Random(1000 + seed)
        n = 500 + 20 * seed
        shift = 1.5 if seed % 2 else -1.5
        key = add_stream(f"ph-{seed}", shifted(rng, n, n // 2, (0.0, 1.0), (shift, 1.0)))
        add_case("PageHinkley", {"threshold": 20.0 if seed % 3 else 50.0, "mode": modes[seed % 3]}, key)
    # the last value of a prefix at the threshold (mode both: test_increase crossing 50)
    for seed in range(1, 16):
        rng = random.Random(2000 + seed)
        prefix = [round(rng.random() * 3 - 1, 6) for _ in range(40 + seed)]
        key = add_stream(f"ph-prefix-{seed}", prefix)
        drifts = lambda x: flag_of_last("PageHinkley", {}, prefix + [x]) == "D"
        assert not drifts(0.0) and drifts(1000.0)
        at = crossing(drifts, 0.0, 1000.0)
        for x in around(at):
            add_case("PageHinkley", {}, key, [x], "last value within 3 ULPs of the threshold")


def hddm_prefix(rng, seed, name, params):
    """A calm stretch, then higher values until a last value of 1 would be a drift."""
    prefix = [round(rng.random() * 0.4, 6) for _ in range(60 + seed % 50)]
    while len(prefix) < 400 and flag_of_last(name, params, prefix + [1.0]) != "D":
        prefix.append(round(0.3 + rng.random() * 0.6, 6))
    return prefix


def hddm_cases(name, params_list):
    for seed in range(1, 16):
        rng = random.Random(3000 + seed)
        key = add_stream(f"{name}-{seed}", bernoulli(rng, 1500 + 50 * seed, 700 + 20 * seed, 0.2, 0.45), binary=True)
        add_case(name, params_list[seed % len(params_list)], key)
    found, seed = 0, 0
    while found < 15 and seed < 5000:
        seed += 1
        rng = random.Random(4000 + seed)
        prefix = hddm_prefix(rng, seed, name, {})
        flags = lambda x: run(name, {}, prefix + [x])
        if flags(0.0)["drifts"] or flags(1.0)["drifts"] != [len(prefix)]:
            continue
        found += 1
        key = add_stream(f"{name}-prefix-{seed}", prefix)
        at = crossing(lambda x: flag_of_last(name, {}, prefix + [x]) == "D", 0.0, 1.0)
        for x in around(at):
            if 0.0 <= x <= 1.0:
                add_case(name, {}, key, [x], "last value within 3 ULPs of the drift bound")
    assert found == 15, f"{name}: {found} threshold prefixes"


def ddm_cases():
    for seed in range(1, 16):
        rng = random.Random(5000 + seed)
        key = add_stream(f"ddm-{seed}", bernoulli(rng, 3000, 1500, 0.15, 0.3), binary=True)
        add_case("DDM", {"warm_start": 30 + seed % 3 * 20}, key)
    # drift_threshold placed within 3 ULPs of (p_i + s_i - p_min) / s_min where River computed it
    for seed in range(1, 9):
        rng = random.Random(6000 + seed)
        values = bernoulli(rng, 3000, 1500, 0.15, 0.3)
        key = add_stream(f"ddm-ratio-{seed}", values, binary=True)
        survey = DDM(warning_threshold=2.0, drift_threshold=1e9)
        ratios = []
        for x in values:
            survey.update(x)
            if survey._p_min is not None and survey._s_min > 0:
                p_i = survey._p.get()
                ratio = (p_i + math.sqrt(p_i * (1 - p_i) / survey._p.n) - survey._p_min) / survey._s_min
                # a new running maximum: a drift threshold there moves the first drift
                if 2 < ratio < 6 and ratio > max(ratios, default=0) * (1 + 1e-6):
                    ratios.append(ratio)
            if len(ratios) >= 3:
                break
        for ratio in ratios:
            # where River's comparison flips, near the level (its own rounding, not this division's)
            drifts_with = lambda t: tuple(run("DDM", {"warning_threshold": 2.0, "drift_threshold": t}, values)["drifts"])
            at = flip_point(drifts_with, ratio * (1 - 1e-9), ratio * (1 + 1e-9)) or ratio
            for threshold in around(at):
                add_case("DDM", {"warning_threshold": 2.0, "drift_threshold": threshold}, key, None, "drift_threshold within 3 ULPs of a level on the stream")


def eddm_cases():
    for seed in range(1, 16):
        rng = random.Random(7000 + seed)
        key = add_stream(f"eddm-{seed}", bernoulli(rng, 3000, 1500, 0.15, 0.3), binary=True)
        add_case("EDDM", {"alpha": 0.95, "beta": 0.9} if seed % 2 else {"alpha": 0.8, "beta": 0.75}, key)
    # beta placed within 3 ULPs of a level p2s / p2s_max River computed (beta near 0 never drifts)
    for seed in range(1, 9):
        rng = random.Random(8000 + seed)
        values = bernoulli(rng, 3000, 1500, 0.15, 0.3)
        key = add_stream(f"eddm-level-{seed}", values, binary=True)
        survey = EDDM(alpha=0.95, beta=5e-324)
        levels = []
        for x in values:
            before = survey._p2s_prime_max
            survey.update(x)
            d = survey._error_distances
            if x == 1 and survey._n > survey.warm_start and survey._n_errors > survey.warm_start and survey._p2s_prime_max == before:
                level = (d.mean.get() + 2 * d.get() ** 0.5) / survey._p2s_prime_max
                if level < 0.95 and level not in levels:
                    levels.append(level)
            if len(levels) >= 3:
                break
        for level in levels:
            drifts_with = lambda b: tuple(run("EDDM", {"alpha": 0.95, "beta": b}, values)["drifts"])
            at = flip_point(drifts_with, level * (1 - 1e-9), level * (1 + 1e-9)) or level
            for beta in around(at):
                add_case("EDDM", {"alpha": 0.95, "beta": beta}, key, None, "beta within 3 ULPs of a level on the stream")


documented_examples()
page_hinkley_cases()
hddm_cases("HDDM_A", [{}, {"two_sided_test": True}, {"drift_confidence": 0.0001, "warning_confidence": 0.001}])
hddm_cases("HDDM_W", [{}, {"two_sided_test": True}, {"lambda_val": 0.1}])
ddm_cases()
eddm_cases()

json.dump(
    {
        "source": "River's own detector code (online-ml/river: see make_river_detector_golden.py for files and commits) run by Debian python3 "
        + sys.version.split()[0]
        + " through stubs of river.base.Base, river.stats.base.Univariate and the Rust EWMean; ADWIN not included (Cython)",
        "codeSha256": {path: code_digest(path) for path in FILES},
        "streams": streams,
        "warningsAre": "[first, last] runs of consecutive update indices flagged warning (and not drift)",
        "cases": cases,
    },
    sys.stdout,
    separators=(",", ":"),
)
sys.stdout.write("\n")
