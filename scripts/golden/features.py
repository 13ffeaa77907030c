#!/usr/bin/python3
"""Golden vectors for window statistics, from pandas/numpy (independent reference).

Writes test/fixtures/features-golden.json. Run: /usr/bin/python3 scripts/golden/features.py
Deterministic (numpy default_rng seeded); rerunning gives the same file.
"""
import json
import os

import numpy as np
import pandas as pd

rng = np.random.default_rng(20240601)
N = 120
WINDOWS = [5, 16, 33]


def series():
    t = np.arange(N)
    return {
        "gauss": rng.normal(3.0, 2.0, N),
        "trend_sine": 0.05 * t + np.sin(2 * np.pi * t / 12.0) + rng.normal(0, 0.1, N),
        "skewed": rng.exponential(1.5, N) - 1.0,
        "offset_large": 1e4 + rng.normal(0, 0.5, N),
    }


def nan_to_none(a):
    return [None if (isinstance(v, float) and np.isnan(v)) else float(v) for v in a]


def crossings(x, level):
    s = (np.asarray(x) - level) < 0
    return int(np.count_nonzero(s[1:] != s[:-1]))


out = {"generator": "scripts/golden/features.py", "pandas": pd.__version__, "numpy": np.__version__,
       "series": [], "windows": WINDOWS}
# Irregular timestamps (1 s ± jitter) so the slope is a genuine least-squares fit over time.
ts_ms = (1_700_000_000_000 + np.cumsum(rng.integers(900, 1101, N))).astype(np.int64)
out["tsMs"] = [int(v) for v in ts_ms]
sample_rate_hz = 1.0
bands = [[0.0, 0.1], [0.1, 0.25], [0.25, 0.5001]]
out["sampleRateHz"] = sample_rate_hz
out["bands"] = bands

for name, x in series().items():
    s = pd.Series(x)
    entry = {"name": name, "values": [float(v) for v in x], "rolling": {}, "perWindow": {}}
    for w in WINDOWS:
        r = s.rolling(w)
        entry["rolling"][str(w)] = {
            "mean": nan_to_none(r.mean().to_numpy()),
            "std": nan_to_none(r.std().to_numpy()),            # ddof=1 (pandas default)
            "std_ddof0": nan_to_none(r.std(ddof=0).to_numpy()),
            "min": nan_to_none(r.min().to_numpy()),
            "max": nan_to_none(r.max().to_numpy()),
            "median": nan_to_none(r.median().to_numpy()),
            "skew": nan_to_none(r.skew().to_numpy()),
            "kurt": nan_to_none(r.kurt().to_numpy()),
        }
        per = {k: [] for k in ["slope", "rms", "energy", "zero_crossings", "mean_crossings", "ptp",
                                "dominant_freq", "bands", "skew_nanops", "kurt_nanops"]}
        for end in range(w, N + 1):
            xw = x[end - w:end]
            tw = (ts_ms[end - w:end] - ts_ms[end - w]) / 1000.0
            # Centering y first changes nothing mathematically but keeps polyfit accurate for large offsets.
            per["slope"].append(float(np.polyfit(tw, xw - xw.mean(), 1)[0]))
            per["rms"].append(float(np.sqrt(np.mean(xw ** 2))))
            per["energy"].append(float(np.sum(xw ** 2)))
            per["zero_crossings"].append(crossings(xw, 0.0))
            per["mean_crossings"].append(crossings(xw, xw.mean()))
            per["ptp"].append(float(np.ptp(xw)))
            p = np.abs(np.fft.rfft(xw - xw.mean())) ** 2 / w
            f = np.fft.rfftfreq(w, d=1.0 / sample_rate_hz)
            k = int(np.argmax(p[1:]) + 1) if len(p) > 1 and p[1:].max() > 0 else 0
            per["dominant_freq"].append(float(f[k]))
            per["bands"].append([float(p[(f >= lo) & (f < hi)].sum()) for lo, hi in bands])
            # Series.skew/kurt (nanops) as a second, non-rolling reference.
            per["skew_nanops"].append(float(pd.Series(xw).skew()))
            per["kurt_nanops"].append(float(pd.Series(xw).kurt()))
        entry["perWindow"][str(w)] = per
    out["series"].append(entry)

path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "features-golden.json")
with open(path, "w") as fh:
    json.dump(out, fh, separators=(",", ":"))
print("wrote", os.path.normpath(path))
