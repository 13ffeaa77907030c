#!/usr/bin/python3
"""Golden vectors for src/clean from pandas / numpy / scikit-learn.

Run: /usr/bin/python3 scripts/golden/clean.py  → test/fixtures/clean-golden.json
Each case holds the input columns and the reference output; the ava test rebuilds a Frame and
compares. Random data is seeded so the fixture is reproducible.
"""
import json
import os
import numpy as np
import pandas as pd
from sklearn.impute import KNNImputer
from sklearn.linear_model import LinearRegression

OUT = os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'clean-golden.json')
rng = np.random.default_rng(20150204)


def nn(a):
    """NaN → None for JSON."""
    return [None if (isinstance(v, float) and np.isnan(v)) else float(v) for v in a]


cases = {}

# Quantiles (pandas default linear), median, IQR bounds, winsorize bounds, mean/std(ddof=0).
x = rng.normal(20, 5, 101)
x[[3, 17, 50]] = np.nan
x[7] = 95.0
s = pd.Series(x)
q1, q3 = s.quantile(0.25), s.quantile(0.75)
cases['stats'] = {
    'x': nn(x),
    'median': float(s.median()),
    'mean': float(s.mean()),
    'stdPop': float(s.std(ddof=0)),
    'q1': float(q1), 'q3': float(q3),
    'iqrLower': float(q1 - 1.5 * (q3 - q1)), 'iqrUpper': float(q3 + 1.5 * (q3 - q1)),
    'p05': float(s.quantile(0.05)), 'p95': float(s.quantile(0.95)),
    'winsorized': nn(s.clip(s.quantile(0.05), s.quantile(0.95))),
    'iqrNulled': nn(s.where((s >= q1 - 1.5 * (q3 - q1)) & (s <= q3 + 1.5 * (q3 - q1)))),
}

# Time-aware interpolation on an irregular index, inside holes only.
ts = np.cumsum(rng.integers(30_000, 90_000, 40)) + 1_423_072_260_000
v = rng.normal(0, 1, 40).cumsum()
v[[0, 5, 6, 7, 20, 33, 39]] = np.nan
ser = pd.Series(v, index=pd.to_datetime(ts, unit='ms'))
cases['interpolateTime'] = {'ts': ts.tolist(), 'v': nn(v), 'expected': nn(ser.interpolate(method='time', limit_area='inside').to_numpy())}

# Forward / backward fill with a row limit.
f = rng.normal(0, 1, 30)
f[[2, 3, 4, 5, 10, 20, 21, 29]] = np.nan
cases['ffillLimit'] = {'v': nn(f), 'limit': 2, 'ffill': nn(pd.Series(f).ffill(limit=2)), 'bfill': nn(pd.Series(f).bfill(limit=2))}

# KNNImputer (uniform weights, nan_euclidean), k=3, every column imputed.
K = rng.normal(0, 1, (60, 4)) * [1, 2, 5, 0.5] + [0, 10, -3, 1]
mask = rng.random(K.shape) < 0.12
K[mask] = np.nan
K[np.all(np.isnan(K), axis=1), 0] = 0.5  # no fully empty row
cases['knn'] = {'X': [nn(r) for r in K], 'k': 3, 'expected': [nn(r) for r in KNNImputer(n_neighbors=3).fit_transform(K)]}

# Linear regression imputation of column y from a, b.
a = rng.normal(0, 1, 80)
b = rng.normal(5, 2, 80)
y = 1.5 * a - 0.7 * b + 3 + rng.normal(0, 0.1, 80)
y_missing = y.copy()
y_missing[[4, 9, 33, 70]] = np.nan
ok = ~np.isnan(y_missing)
lr = LinearRegression().fit(np.c_[a[ok], b[ok]], y_missing[ok])
pred = y_missing.copy()
pred[~ok] = lr.predict(np.c_[a[~ok], b[~ok]])
cases['regression'] = {'a': nn(a), 'b': nn(b), 'y': nn(y_missing), 'intercept': float(lr.intercept_), 'coef': nn(lr.coef_), 'expected': nn(pred)}

# resample('1min').mean() on an irregular series with a gap (pandas leaves empty bins NaN).
rts = np.sort(rng.integers(0, 30 * 60_000, 70)) + 1_423_072_200_000  # minute-aligned origin
rts = rts[(rts < 1_423_072_200_000 + 10 * 60_000) | (rts > 1_423_072_200_000 + 16 * 60_000)]
rv = rng.normal(10, 3, len(rts))
rs = pd.Series(rv, index=pd.to_datetime(rts, unit='ms'))
res = rs.resample('1min').mean()
res_max = rs.resample('1min').max()
cases['resample'] = {
    'ts': rts.tolist(), 'v': nn(rv), 'intervalMs': 60_000,
    'binTs': [int(t.value // 1_000_000) for t in res.index], 'mean': nn(res.to_numpy()), 'max': nn(res_max.to_numpy()),
}

# Mode with ties → smallest (pandas mode()[0]).
cases['mode'] = {'num': [3, 1, 3, 1, 2, None], 'numMode': float(pd.Series([3, 1, 3, 1, 2, None]).mode()[0]),
                 'cat': ['b', 'a', 'b', 'a', None], 'catMode': pd.Series(['b', 'a', 'b', 'a', None]).mode()[0]}

with open(OUT, 'w') as fh:
    json.dump({'generator': 'scripts/golden/clean.py', 'pandas': pd.__version__, 'cases': cases}, fh)
print('wrote', OUT)
