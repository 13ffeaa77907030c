#!/usr/bin/python3
"""pandas baseline for bench/features.ts: rolling window statistics over the same readings.

Usage: features_pandas.py <float64 file> <sensors> <window> <repeats>
Prints one JSON line: best wall time (s) over repeats and per-column sums for the cross-check.
"""
import json
import sys
import time

import numpy as np
import pandas as pd

path, sensors, window, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = np.fromfile(path, dtype="<f8").reshape(-1, sensors)
df = pd.DataFrame(data, columns=[f"s{j}" for j in range(sensors)])
STATS = ["mean", "std", "min", "max", "median"]
best = float("inf")
for _ in range(repeats):
    t0 = time.perf_counter()
    r = df.rolling(window)
    out = {stat: getattr(r, stat)() for stat in STATS}  # std: ddof=1
    best = min(best, time.perf_counter() - t0)
sums = {f"s{j}__{stat}": float(np.nansum(out[stat][f"s{j}"].to_numpy())) for j in range(sensors) for stat in STATS}
print(json.dumps({"seconds": best, "rows": len(df), "sums": sums}))
