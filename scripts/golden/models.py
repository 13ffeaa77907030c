"""Reference results from scikit-learn for test/models-sklearn.test.ts. Writes test/fixtures/models-golden.json.
Run: /usr/bin/python3 scripts/golden/models.py"""
import json, pathlib
import numpy as np
from sklearn.datasets import make_classification, make_regression, make_blobs
from sklearn import linear_model as lm, tree, ensemble as en, neighbors as nb, svm, cluster
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

out = {}
def split(X, y, n):
    return X[:n].tolist(), y[:n].tolist(), X[n:].tolist(), y[n:].tolist()

for name, k in (("binary", 2), ("multi", 3)):
    X, y = make_classification(n_samples=400, n_features=6, n_informative=4, n_redundant=1, n_classes=k, class_sep=1.0, random_state=7 + k)
    Xtr, ytr, Xte, yte = split(X, y, 300)
    res = {}
    models = {
        "logistic-regression": lm.LogisticRegression(C=1.0, tol=1e-10, max_iter=10000),
        "logistic-l1": lm.LogisticRegression(C=0.5, penalty="l1", solver="saga", tol=1e-10, max_iter=100000),
        "lda": LinearDiscriminantAnalysis(),
        "decision-tree-classifier": tree.DecisionTreeClassifier(random_state=0),
        "random-forest-classifier": en.RandomForestClassifier(random_state=0),
        "gradient-boosting-classifier": en.GradientBoostingClassifier(random_state=0),
        "knn-classifier": nb.KNeighborsClassifier(),
        "svc-rbf": svm.SVC(kernel="rbf"),
        "svc-linear": svm.SVC(kernel="linear"),
        "adaboost-classifier": en.AdaBoostClassifier(random_state=0),
    }
    for mname, m in models.items():
        m.fit(Xtr, ytr)
        r = {"accuracy": m.score(Xte, yte)}
        if mname in ("logistic-regression", "logistic-l1", "lda"):
            r["coef"] = m.coef_.tolist(); r["intercept"] = np.atleast_1d(m.intercept_).tolist()
        if mname == "knn-classifier":
            r["proba"] = m.predict_proba(Xte).tolist()
        if mname == "decision-tree-classifier":
            r["trainAccuracy"] = m.score(Xtr, ytr)
        res[mname] = r
    out[name] = {"Xtr": Xtr, "ytr": ytr, "Xte": Xte, "yte": yte, "results": res}

X, y = make_regression(n_samples=300, n_features=5, n_informative=4, noise=10.0, random_state=3)
y = y + 0.02 * X[:, 0] ** 3  # a little non-linearity for the trees
Xtr, ytr, Xte, yte = split(X, y, 220)
res = {}
for mname, m in {"linear-regression": lm.LinearRegression(), "ridge": lm.Ridge(alpha=10.0), "lasso": lm.Lasso(alpha=2.0, tol=1e-10, max_iter=100000),
                 "decision-tree-regressor": tree.DecisionTreeRegressor(random_state=0), "random-forest-regressor": en.RandomForestRegressor(random_state=0),
                 "gradient-boosting-regressor": en.GradientBoostingRegressor(random_state=0), "knn-regressor": nb.KNeighborsRegressor()}.items():
    m.fit(Xtr, ytr)
    r = {"r2": m.score(Xte, yte)}
    if hasattr(m, "coef_"): r["coef"] = np.ravel(m.coef_).tolist(); r["intercept"] = float(m.intercept_)
    res[mname] = r
out["regression"] = {"Xtr": Xtr, "ytr": ytr, "Xte": Xte, "yte": yte, "results": res}

X, lab = make_blobs(n_samples=150, centers=3, cluster_std=1.2, random_state=5)
cl = {"X": X.tolist(), "truth": lab.tolist()}
km = cluster.KMeans(n_clusters=3, n_init=10, random_state=0).fit(X)
cl["kmeansInertia"] = float(km.inertia_)
for link in ("ward", "complete", "average", "single"):
    cl["agglomerative_" + link] = cluster.AgglomerativeClustering(n_clusters=3, linkage=link).fit(X).labels_.tolist()
cl["dbscan"] = cluster.DBSCAN(eps=1.0, min_samples=5).fit(X).labels_.tolist()
out["clustering"] = cl

path = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "models-golden.json"
path.write_text(json.dumps(out))
print("wrote", path)
for k in ("binary", "multi"):
    print(k, {m: round(v["accuracy"], 3) for m, v in out[k]["results"].items()})
print("reg", {m: round(v["r2"], 3) for m, v in out["regression"]["results"].items()})
