"""Golden values for models/tuning/gp.ts: GP posterior (Matérn 5/2, isotropic) computed directly
with numpy (explicit matrix inverse, not Cholesky — an independent route), the log marginal
likelihood, and the grid argmax of the hyper-parameters. Writes test/fixtures/gp-golden.json.
Run: /usr/bin/python3 scripts/golden/gp.py"""
import json, itertools, pathlib
import numpy as np

def matern52(r, ls):
    s = np.sqrt(5.0) * r / ls
    return (1 + s + s * s / 3) * np.exp(-s)

def dist(A, B):
    return np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))

def posterior(X, y, Xs, ls, sf, sn):
    mu, sd = y.mean(), y.std()  # population std, as gp.ts
    z = (y - mu) / sd
    K = sf * matern52(dist(X, X), ls) + sn * np.eye(len(X))
    Ks = sf * matern52(dist(Xs, X), ls)
    Kinv = np.linalg.inv(K)
    mean = Ks @ Kinv @ z
    var = sf - np.einsum("ij,jk,ik->i", Ks, Kinv, Ks)
    sign, logdet = np.linalg.slogdet(K)
    lml = -0.5 * z @ Kinv @ z - 0.5 * logdet - 0.5 * len(X) * np.log(2 * np.pi)
    return (mu + sd * mean).tolist(), (var * sd * sd).tolist(), float(lml)

rng = np.random.default_rng(7)
X = rng.uniform(size=(6, 2))
y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.normal(size=6)
Xs = np.array([[0.5, 0.5], [0.1, 0.9], X[2]])
cases = []
for ls, sf, sn in [(0.35, 1.0, 1e-6), (0.8, 3.0, 1e-2), (0.1, 0.3, 0.1)]:
    mean, var, lml = posterior(X, y, Xs, ls, sf, sn)
    cases.append({"hyper": {"lengthScale": ls, "signalVariance": sf, "noiseVariance": sn}, "mean": mean, "variance": var, "logMarginalLikelihood": lml})

# Must match GP_HYPER_GRID in models/tuning/gp.ts.
grid = {"lengthScale": [0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2], "signalVariance": [0.3, 1, 3], "noiseVariance": [1e-6, 1e-3, 1e-2, 0.1]}
best = max(itertools.product(grid["lengthScale"], grid["signalVariance"], grid["noiseVariance"]), key=lambda h: posterior(X, y, Xs, *h)[2])
from scipy.stats import norm
ei = []
for m, v, b, xi in [(0.3, 0.04, 0.25, 0.0), (0.1, 0.25, 0.5, 0.01), (-1.0, 1e-4, 0.0, 0.0), (2.0, 0.5, 0.0, 0.1)]:
    sd = np.sqrt(v); imp = m - b - xi; zz = imp / sd
    ei.append({"mean": m, "variance": v, "best": b, "xi": xi, "ei": float(imp * norm.cdf(zz) + sd * norm.pdf(zz))})
cdf = [{"x": x, "cdf": float(norm.cdf(x))} for x in [-3.0, -1.2, 0.0, 0.4, 2.5]]
out = {"ei": ei, "cdf": cdf, "X": X.tolist(), "y": y.tolist(), "Xs": Xs.tolist(), "cases": cases,
       "grid": grid, "best": {"lengthScale": best[0], "signalVariance": best[1], "noiseVariance": best[2]}}
path = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "gp-golden.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print("wrote", path, "best", best)
