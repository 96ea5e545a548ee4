"""Fits ridge regression on the data the load step wrote."""
import json
import os

import numpy as np
from sklearn.linear_model import Ridge

artifacts = os.environ["DOCKWRIGHT_ARTIFACTS"]
alpha = float(os.environ.get("ALPHA", "1.0"))
x = np.load(os.path.join(artifacts, "x.npy"))
y = np.load(os.path.join(artifacts, "y.npy"))
model = Ridge(alpha=alpha, fit_intercept=False).fit(x, y)
w = model.coef_
with open(os.path.join(artifacts, "model.json"), "w") as f:
    json.dump({"name": os.environ["MODEL_NAME"], "alpha": alpha, "weights": w.tolist()}, f)
print(f"trained {os.environ['MODEL_NAME']} with alpha={alpha}: weights {np.round(w, 3).tolist()}")
