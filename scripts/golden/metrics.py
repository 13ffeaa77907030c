"""Golden values for models/metrics from scikit-learn. Writes test/fixtures/metrics-golden.json.
Run: /usr/bin/python3 scripts/golden/metrics.py"""
import json, pathlib
import numpy as np
import sklearn
from sklearn import metrics as M
from sklearn.calibration import calibration_curve

rng = np.random.default_rng(20260127)
out = {"sklearn": sklearn.__version__, "regression": [], "classification": [], "binary_scores": [],
       "multiclass_scores": [], "calibration": [], "clustering": []}

for n in (7, 50, 400):
    y = rng.normal(3, 2, n)
    p = y + rng.normal(0, 1, n)
    out["regression"].append({"yTrue": y.tolist(), "yPred": p.tolist(),
        "mse": M.mean_squared_error(y, p), "rmse": float(np.sqrt(M.mean_squared_error(y, p))),
        "mae": M.mean_absolute_error(y, p), "r2": M.r2_score(y, p)})

def cls_case(yt, yp):
    c = {"yTrue": [int(v) for v in yt], "yPred": [int(v) for v in yp], "accuracy": M.accuracy_score(yt, yp),
         "confusion": M.confusion_matrix(yt, yp).tolist(), "labels": sorted(set(yt) | set(yp))}
    c["labels"] = [int(v) for v in c["labels"]]
    avgs = ["macro", "weighted", "micro"] + (["binary"] if len(c["labels"]) <= 2 else [])
    for a in avgs:
        kw = {"average": a, "zero_division": 0}
        c[a] = {"precision": M.precision_score(yt, yp, **kw), "recall": M.recall_score(yt, yp, **kw), "f1": M.f1_score(yt, yp, **kw)}
    return c

yt = rng.integers(0, 2, 60); yp = np.where(rng.random(60) < 0.8, yt, 1 - yt)
out["classification"].append(cls_case(yt, yp))
yt = rng.integers(0, 4, 120); yp = np.where(rng.random(120) < 0.6, yt, rng.integers(0, 4, 120))
out["classification"].append(cls_case(yt, yp))
# a class never predicted: exercises zero_division=0
yt = np.array([0, 1, 2, 2, 1, 0, 2, 2]); yp = np.array([0, 1, 1, 1, 1, 0, 0, 1])
out["classification"].append(cls_case(yt, yp))

for n, ties in ((40, False), (300, False), (200, True)):
    y = rng.integers(0, 2, n)
    s = y * 0.8 + rng.normal(0, 0.7, n)
    if ties: s = np.round(s, 1)
    out["binary_scores"].append({"yTrue": y.tolist(), "score": s.tolist(), "rocAuc": M.roc_auc_score(y, s),
        "averagePrecision": M.average_precision_score(y, s)})

for k in (3, 4):
    n = 150
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k)); logits[np.arange(n), y] += 1.2
    P = np.exp(logits); P /= P.sum(1, keepdims=True)
    out["multiclass_scores"].append({"yTrue": y.tolist(), "proba": P.tolist(),
        "macro": M.roc_auc_score(y, P, multi_class="ovr", average="macro"),
        "weighted": M.roc_auc_score(y, P, multi_class="ovr", average="weighted")})

for n, bins, strategy in ((200, 5, "uniform"), (200, 10, "uniform"), (300, 4, "quantile"), (50, 8, "uniform")):
    p = rng.random(n)
    if n == 50: p = np.round(p * 8) / 8  # values exactly on bin edges
    y = (rng.random(n) < p ** 1.3).astype(int)
    pt, pp = calibration_curve(y, p, n_bins=bins, strategy=strategy)
    out["calibration"].append({"yTrue": y.tolist(), "prob": p.tolist(), "nBins": bins, "strategy": strategy,
        "probTrue": pt.tolist(), "probPred": pp.tolist(), "brier": M.brier_score_loss(y, p)})

for n, k, d in ((60, 3, 2), (150, 4, 5)):
    centers = rng.normal(0, 4, (k, d))
    lab = rng.integers(0, k, n)
    X = centers[lab] + rng.normal(0, 1.5, (n, d))
    out["clustering"].append({"X": X.tolist(), "labels": lab.tolist(),
        "silhouette": M.silhouette_score(X, lab), "daviesBouldin": M.davies_bouldin_score(X, lab)})

path = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "metrics-golden.json"
path.write_text(json.dumps(out))
print("wrote", path)
