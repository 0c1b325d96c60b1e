"""Digits, end to end through the public API: train, calibrate, convert, run, audit.

A small FATReLU CNN is trained on scikit-learn's 8x8 digits, its thresholds are
calibrated for activation sparsity within one point of accuracy (Kurtz et al.,
2020), and the calibrated model runs event-driven on the ``cpu`` backend.
``neuro demo`` does the same with more reporting.  Needs torch and scikit-learn.
"""

import numpy as np
import torch

import neuro
from converters.calibration import calibrate_thresholds
from neuro.apps.demo import build_model, load_digits_split, train

torch.manual_seed(0)
data = load_digits_split(seed=0)
x_test, y_test = data["test"]

# 1. train a ReLU network (FATReLU with threshold 0)
model = train(build_model(), *data["train"], epochs=15)

# 2. raise the thresholds as far as one accuracy point on held-out data allows
calibration = calibrate_thresholds(model, *data["calib"], budget=0.01)
print(calibration.table())

# 3. convert and run event-driven; float64 so that torch and events agree exactly
model64 = calibration.model.double()
result = neuro.convert_and_run(model64, x_test.astype(np.float64), backend="cpu")
with torch.no_grad():
    torch_logits = model64(torch.as_tensor(x_test, dtype=torch.float64)).numpy()

print(
    f"accuracy: torch {np.mean(torch_logits.argmax(1) == y_test):.4f}, "
    f"event-driven {np.mean(result.outputs.argmax(1) == y_test):.4f}"
)
print(result.audit())
