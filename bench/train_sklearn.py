"""scikit-learn baseline for bench/train.ts: reads the matrices as JSON on stdin, prints JSON results.
Same matrix, single thread (n_jobs=1; bench/train.ts pins the BLAS pools to 1 thread), best of `repeats`
fit times, both wall time and this process's CPU time (robust to other load on a shared machine).
The MLP is stochastic, so it is fitted once per seed in `mlpSeeds` (random_state=s) instead: each seed's
test accuracies and epochs (n_iter_) are reported, and its timing is the best over those fits."""
import json, sys, time
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline

d = json.load(sys.stdin)
X, y = np.array(d["X"]), np.array(d["y"])
tests = [(np.array(t["X"]), np.array(t["y"])) for t in d["tests"]]
models = {
    "random-forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
    "logistic-regression": lambda: LogisticRegression(max_iter=10000),
    "lda": lambda: LinearDiscriminantAnalysis(),
}
out = {}
for name, make in models.items():
    best, best_cpu = float("inf"), float("inf")
    for _ in range(d["repeats"]):
        m = make(); t0 = time.perf_counter(); c0 = time.process_time(); m.fit(X, y)
        best_cpu = min(best_cpu, time.process_time() - c0); best = min(best, time.perf_counter() - t0)
    out[name] = {"fitMs": best * 1000, "cpuMs": best_cpu * 1000, "accuracy": [float(m.score(a, b)) for a, b in tests]}

runs = []
for s in d["mlpSeeds"]:
    m = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=s))
    t0 = time.perf_counter(); c0 = time.process_time(); m.fit(X, y)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    # bench/train.ts trains our MLP with seed s for as many epochs as this fit ran (n_iter_).
    runs.append({"seed": s, "fitMs": wall * 1000, "cpuMs": cpu * 1000, "epochs": int(m[-1].n_iter_),
                 "accuracy": [float(m.score(a, b)) for a, b in tests]})
out["mlp"] = {"fitMs": min(r["fitMs"] for r in runs), "cpuMs": min(r["cpuMs"] for r in runs), "runs": runs}
print(json.dumps(out))
