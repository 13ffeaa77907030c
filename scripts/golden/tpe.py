"""Golden values for models/tuning/tpe.ts: the adaptive Parzen estimator's components (bandwidth =
the larger gap to the sorted neighbours, range ends included, clipped to [1/min(100, 1+n), 1]; the
prior N(0.5, 1) with weight w) and its log density, each component a Gaussian truncated to [0, 1]
evaluated with scipy.stats.truncnorm (an independent route to the truncation mass). Writes
test/fixtures/tpe-golden.json. Run: /usr/bin/python3 scripts/golden/tpe.py"""
import json, pathlib
import numpy as np
from scipy.stats import truncnorm

def parzen(obs, prior_weight):
    pts = sorted([(m, 0) for m in obs] + [(0.5, 1)])
    n = len(pts)
    min_sigma = 1.0 / min(100, 1 + n)
    mus, sigmas, weights = [], [], []
    for i, (mu, prior) in enumerate(pts):
        left = mu - (0.0 if i == 0 else pts[i - 1][0])
        right = (1.0 if i == n - 1 else pts[i + 1][0]) - mu
        mus.append(mu)
        sigmas.append(1.0 if prior else min(1.0, max(min_sigma, left, right)))
        weights.append(prior_weight if prior else 1.0)
    w = np.array(weights) / sum(weights)
    return mus, sigmas, w.tolist()

def logpdf(mus, sigmas, weights, x):
    d = sum(wk * truncnorm.pdf(x, (0 - m) / s, (1 - m) / s, loc=m, scale=s) for m, s, wk in zip(mus, sigmas, weights))
    return float(np.log(d))

cases = []
rng = np.random.default_rng(3)
for obs, pw in [([0.2], 1.0), ([0.1, 0.15, 0.8], 1.0), (rng.uniform(size=12).tolist(), 1.0), ([0.0, 1.0, 0.5], 0.5), ([], 1.0)]:
    mus, sigmas, weights = parzen(obs, pw)
    xs = [0.0, 0.05, 0.3, 0.5, 0.77, 1.0]
    cases.append({"observations": obs, "priorWeight": pw, "mus": mus, "sigmas": sigmas, "weights": weights,
                  "xs": xs, "logPdf": [logpdf(mus, sigmas, weights, x) for x in xs]})
out = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "tpe-golden.json"
out.write_text(json.dumps({"cases": cases}, indent=1) + "\n")
print(f"wrote {out}")
