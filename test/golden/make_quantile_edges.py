"""Decile edges of samples of every size 1..2000, computed with NumPy, for quantileEdges' golden test.

Run: /usr/bin/python3 make_quantile_edges.py > quantile-edges.json   (NumPy 1.24; 'linear' is the default method)
Each sample is rebuilt in the test from the same integer formula with the same IEEE divisions,
multiplications and subtractions, so the test needs only the edges (repr: shortest round-trip).
"""
import json

import numpy as np

BINS = 10
MAX_SIZE = 2000


def sample(n):
    # Integers mod primes, then one division, one multiplication and one subtraction: each an
    # IEEE operation that JavaScript performs identically; unsorted, with ties.
    return [((i * 7919 + n * 104729) % 1000003 % 1009) / 1009 * 3.7 - 1.3 for i in range(n)]


def main():
    q = np.linspace(1 / BINS, 1 - 1 / BINS, BINS - 1)
    edges = [[float(v) for v in np.quantile(np.array(sample(n)), q)] for n in range(1, MAX_SIZE + 1)]
    lines = ",\n".join("    " + json.dumps(row) for row in edges)
    print('{\n  "numpy": "%s",\n  "bins": %d,\n  "sizes": "1..%d",\n  "edges": [\n%s\n  ]\n}' % (np.__version__, BINS, MAX_SIZE, lines))


main()
