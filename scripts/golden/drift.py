#!/usr/bin/python3
"""Golden values for src/drift/ (special functions, KS, PSI, JS, Wasserstein, chi-square,
p-value corrections, reference profile) from scipy / numpy, an independent reference.

Run: /usr/bin/python3 scripts/golden/drift.py  -> test/fixtures/drift-golden.json
Deterministic (numpy default_rng seeded); rerunning gives the same file.
"""
import json
import math
import os

import numpy as np
import scipy
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'drift-golden.json')
rng = np.random.default_rng(20240607)


def fl(a):
    return [float(v) for v in a]


out = {'generator': 'scripts/golden/drift.py', 'scipy': scipy.__version__, 'numpy': np.__version__}

# --- special functions ---------------------------------------------------------------------------
out['gammaln'] = [{'x': x, 'expected': float(special.gammaln(x))} for x in [0.1, 0.5, 1, 1.5, 2.5, 7, 10.3, 50, 171.2, 1000]]
out['gammainc'] = []
for a in [0.5, 1, 2.5, 5, 10, 50, 200]:
    for x in [0.01, 0.5, 1, 3, 10, 40, 100, 250]:
        out['gammainc'].append({'a': a, 'x': x, 'p': float(special.gammainc(a, x)), 'q': float(special.gammaincc(a, x))})
out['chi2sf'] = [{'x': x, 'dof': d, 'expected': float(stats.chi2.sf(x, d))}
                 for d in [1, 2, 3, 9, 30] for x in [0.1, 1, 3.84, 10, 30, 80]]
out['kolmogorov'] = [{'x': x, 'expected': float(special.kolmogorov(x))}
                     for x in [0.05, 0.2, 0.5, 0.8, 0.99, 1.0, 1.2, 1.5, 2, 3]]

# --- KS two-sample -----------------------------------------------------------------------------
ks_cases = []


def ks_case(name, a, b):
    r = stats.ks_2samp(a, b, method='auto')
    ks_cases.append({'name': name, 'a': fl(a), 'b': fl(b), 'statistic': float(r.statistic), 'pValue': float(r.pvalue),
                     'method': 'exact' if max(len(a), len(b)) <= 10000 else 'asymp'})


ks_case('equal n, shifted', rng.normal(0, 1, 50), rng.normal(0.5, 1, 50))
ks_case('equal n, same', rng.normal(0, 1, 40), rng.normal(0, 1, 40))
ks_case('unequal 30/45', rng.normal(0, 1, 30), rng.normal(0.3, 1.5, 45))
ks_case('monitor-like 512/300', np.round(rng.normal(10, 2, 512), 3), np.round(rng.normal(10.4, 2, 300), 3))
ks_case('same distribution 200/1000', rng.exponential(1, 200), rng.exponential(1, 1000))
ks_case('ties poisson 80/120', rng.poisson(3, 80).astype(float), rng.poisson(3.6, 120).astype(float))
ks_case('tiny 3/4', [1.0, 2.0, 3.0], [2.5, 4.0, 5.0, 6.0])
ks_case('disjoint 20/25', rng.normal(0, 1, 20), rng.normal(10, 1, 25))
out['ks'] = ks_cases

# Asymptotic branch: a = i/10001 (i < 10001), b = ((j*7919) % 5003)/5003*0.9 + 0.05 (j < 600), rebuilt in TS.
a = np.arange(10001) / 10001
b = ((np.arange(600) * 7919) % 5003) / 5003 * 0.9 + 0.05
r = stats.ks_2samp(a, b, method='auto')
en = len(a) * len(b) / (len(a) + len(b))
out['ksAsymp'] = {'statistic': float(r.statistic), 'scipyPValue': float(r.pvalue),
                  'kstwobignPValue': float(stats.kstwobign.sf(math.sqrt(en) * r.statistic))}

# --- PSI (numpy, proportions floored at 1e-4) -----------------------------------------------------
def psi(e, a, eps=1e-4):
    e = np.asarray(e, float); a = np.asarray(a, float)
    pe = np.maximum(e / e.sum(), eps); pa = np.maximum(a / a.sum(), eps)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


psi_pairs = [([100] * 10, [100] * 10), ([100] * 10, [80, 90, 100, 100, 110, 120, 100, 100, 100, 100]),
             ([50, 120, 300, 200, 90], [10, 60, 250, 300, 200]), ([10, 0, 30, 60], [0, 25, 25, 50]),
             ([820, 180], [600, 400]), ([5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [0, 0, 0, 0, 0, 0, 0, 0, 0, 50])]
out['psi'] = [{'expected': e, 'actual': a, 'psi': psi(e, a)} for e, a in psi_pairs]

# --- Jensen-Shannon distance (scipy, base 2) ------------------------------------------------------
js_pairs = [([1, 0, 0], [0, 1, 0]), ([1, 1, 1], [1, 1, 1]), ([10, 20, 30, 40], [40, 30, 20, 10]),
            ([5, 0, 3, 2], [4, 1, 3, 2]), ([100, 3], [3, 100])] + [(list(rng.integers(0, 50, 10)), list(rng.integers(0, 50, 10)))]
out['js'] = [{'p': fl(p), 'q': fl(q), 'distance': float(jensenshannon(np.asarray(p, float), np.asarray(q, float), base=2))}
             for p, q in js_pairs]

# --- Wasserstein-1 (scipy) -------------------------------------------------------------------------
w_pairs = [([0, 1, 3], [5, 6, 8]), ([0.0, 1.0], [0.0, 1.0]), (fl(rng.normal(0, 1, 40)), fl(rng.normal(0.7, 2, 55))),
           (fl(rng.poisson(2, 30)), fl(rng.poisson(2, 17))), ([3.5], [1.0, 2.0, 10.0])]
out['wasserstein'] = [{'a': fl(a), 'b': fl(b), 'distance': float(stats.wasserstein_distance(a, b))} for a, b in w_pairs]

# --- chi-square ------------------------------------------------------------------------------------
gof = [([16, 18, 16, 14, 12, 12], None), ([30, 14, 34, 45, 57, 20], [30.0, 30, 30, 40, 60, 10]), ([5, 5], None)]
out['chisquare'] = []
for o, e in gof:
    rr = stats.chisquare(o, e)
    out['chisquare'].append({'observed': o, 'expected': e, 'statistic': float(rr.statistic), 'pValue': float(rr.pvalue)})
tables = [[[120, 80, 40, 10], [100, 90, 60, 30]], [[30, 10], [20, 25]], [[820, 180], [600, 400]],
          [[10, 20, 30], [15, 25, 5], [30, 10, 10]], [[5, 0, 3], [2, 0, 8]]]
out['contingency'] = []
for t in tables:
    tt = np.asarray(t)
    keep = tt.sum(axis=0) > 0
    stat, p, dof, _ = stats.chi2_contingency(tt[:, keep])
    out['contingency'].append({'table': t, 'statistic': float(stat), 'pValue': float(p), 'dof': int(dof)})

# --- p-value corrections (numpy: statsmodels fdr_bh / R p.adjust 'BH') --------------------------------
pv = np.array([0.01, 0.04, 0.03, 0.005, 0.5, 0.2, 0.04, 0.9])
order = np.argsort(pv, kind='mergesort')
m = len(pv)
ranked = pv[order] * m / np.arange(1, m + 1)
adj = np.minimum.accumulate(ranked[::-1])[::-1]
bh = np.empty(m); bh[order] = np.minimum(adj, 1)
out['pAdjust'] = {'p': fl(pv), 'bonferroni': fl(np.minimum(pv * m, 1)), 'bh': fl(bh)}

# --- reference profile pieces (numpy.quantile linear, searchsorted left) ----------------------------------
def profile(name, values, bins=10, sample_size=64):
    v = np.asarray(values, float)
    x = np.sort(v[np.isfinite(v)])
    edges = []
    for q in np.quantile(x, [i / bins for i in range(1, bins)]):
        if not edges or q > edges[-1]:
            edges.append(float(q))
    idx = np.searchsorted(np.asarray(edges), x, side='left')
    counts = np.bincount(idx, minlength=len(edges) + 1)
    n = len(x)
    sample = x if n <= sample_size else x[[int(math.floor((k + 0.5) * n / sample_size)) for k in range(sample_size)]]
    return {'name': name, 'values': [None if not np.isfinite(t) else float(t) for t in v], 'edges': edges,
            'counts': [int(c) for c in counts], 'mean': float(x.mean()), 'std': float(x.std()),
            'min': float(x.min()), 'max': float(x.max()), 'missingRate': float(1 - n / len(v)), 'sample': fl(sample)}


g = rng.normal(20, 3, 700)
g[rng.integers(0, 700, 35)] = np.nan
out['profiles'] = [profile('gauss', g), profile('binary', rng.integers(0, 2, 300).astype(float)),
                   profile('poisson', rng.poisson(1.5, 400).astype(float)), profile('small', [3.0, 1.0, 2.0])]

with open(OUT, 'w') as f:
    json.dump(out, f, indent=0)
print('wrote', OUT)
