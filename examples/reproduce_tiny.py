"""The whole `gahb reproduce` pipeline at a toy size, from Python (about two minutes on a CPU).

Trains two tiny denoisers per training-set size N on disjoint sets, samples both from the same
seeds, measures memorization and model variance, fits C^alpha and disc MSE slopes, computes the
Jacobian eigenbasis, and writes a self-contained report.html. The numbers are meaningless at
this size; run `gahb reproduce` (the quick scale) for real ones.

Run: python examples/reproduce_tiny.py [OUT_DIR]
"""

import sys

from keras_gahb.experiments import reproduce

out = sys.argv[1] if len(sys.argv) > 1 else "gahb_runs/example_tiny"
summary = reproduce(out, scale="tiny", n_values=(2, 8), verbose=1)
for part, section in summary["parts"].items():
    for check in section["checks"]:
        print(f"[{'PASS' if check['passed'] else 'FAIL'}] {part}: {check['claim']}")
print(f"Open {out}/report.html in a browser.")
