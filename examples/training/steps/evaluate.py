"""Compares the trained weights with the true ones; fails the pipeline if they are off."""
import json
import os
import sys

import numpy as np
from tabulate import tabulate

artifacts = os.environ["DOCKWRIGHT_ARTIFACTS"]
with open(os.path.join(artifacts, "model.json")) as f:
    model = json.load(f)
with open(os.path.join(artifacts, "true_w.json")) as f:
    true_w = json.load(f)
rows = [(i, t, round(w, 4)) for i, (t, w) in enumerate(zip(true_w, model["weights"]))]
print(tabulate(rows, headers=["feature", "true", "fitted"]))
error = float(np.max(np.abs(np.array(true_w) - np.array(model["weights"]))))
print(f"max abs error {error:.4f}")
sys.exit(0 if error < 0.1 else 1)
