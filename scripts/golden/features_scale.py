#!/usr/bin/python3
"""Golden vectors for scalers from scikit-learn. Writes test/fixtures/features-scale.json."""
import json
import os

import numpy as np
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

rng = np.random.default_rng(99)
train = np.column_stack([rng.normal(5, 3, 57), rng.exponential(2, 57), np.full(57, 4.0), rng.integers(0, 9, 57)])
test = np.column_stack([rng.normal(5, 3, 11), rng.exponential(2, 11), rng.normal(4, 1, 11), rng.integers(0, 9, 11)])
out = {"train": train.tolist(), "test": test.tolist(),
       "standard": StandardScaler().fit(train).transform(test).tolist(),
       "minmax": MinMaxScaler(feature_range=(-1, 2)).fit(train).transform(test).tolist(),
       "robust": RobustScaler(quantile_range=(10.0, 90.0)).fit(train).transform(test).tolist()}
path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "features-scale.json")
with open(path, "w") as fh:
    json.dump(out, fh)
print("wrote", os.path.normpath(path))
