"""Writes a synthetic regression data set to the shared artifacts volume."""
import json
import os

import numpy as np

artifacts = os.environ["DOCKWRIGHT_ARTIFACTS"]
rng = np.random.default_rng(7)
x = rng.normal(size=(200, 3))
true_w = np.array([1.5, -2.0, 0.5])
y = x @ true_w + rng.normal(scale=0.1, size=200)
np.save(os.path.join(artifacts, "x.npy"), x)
np.save(os.path.join(artifacts, "y.npy"), y)
with open(os.path.join(artifacts, "true_w.json"), "w") as f:
    json.dump(true_w.tolist(), f)
print(f"wrote {x.shape[0]} samples with {x.shape[1]} features to {artifacts}")
