"""The whole `gahb reproduce` pipeline at a toy size, from Python (about two minutes on a CPU).

Trains three tiny denoisers per training-set size N (S1 and S2 on disjoint sets, and the S1'
control, each with its own seed), samples them from the same seed, measures memorization and
model variance beside the control, compares the C^alpha denoisers with the oracle DCT and Haar
projection risks (and fits their MSE slopes), measures the Jacobian eigenbasis against the DCT
and Haar vectors chosen from the noisy image, and writes a self-contained report.html. The models
are untrained at this size, so the largest-N checks FAIL, as they must; run `gahb reproduce`
(the quick scale) for real numbers. Every model folder is a run folder: its model, image size
and training images come back through `keras_gahb.runs` and `keras_gahb.models.load_denoiser`.

Run: python examples/reproduce_tiny.py [OUT_DIR]
"""

import os
import sys

from keras_gahb import runs
from keras_gahb.experiments import reproduce
from keras_gahb.models import load_denoiser

out = sys.argv[1] if len(sys.argv) > 1 else "gahb_runs/example_tiny"
summary = reproduce(out, scale="tiny", n_values=(2, 8), verbose=1)
for part, section in summary["parts"].items():
    for check in section["checks"]:
        mark = ("N/A" if check.get("applicable") is False
                else "PASS" if check["passed"] else "FAIL")  # N/A: information, not a check
        print(f"[{mark}] {part}: {check['claim']} ({check['value']})")
folder = os.path.join(out, "models", "transition_n2_s1")
train, test = runs.training_images(folder)  # drawn again from its split.json, fingerprint-checked
model, _ = load_denoiser(folder)
print(f"{os.path.basename(folder)}: {len(train)} training and {len(test)} test images of "
      f"{runs.trained_image_size(folder)}x{runs.trained_image_size(folder)}, model {model.name}")
print(f"Open {out}/report.html in a browser.")
