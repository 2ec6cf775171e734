"""The e-commerce example's train_model.py runs end to end on a small data set
and finds online features equal to the training rows."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_train_model_closes_the_loop(server):
    script = ROOT / "examples" / "ecommerce" / "train_model.py"
    done = subprocess.run(
        [sys.executable, str(script), "--address", server.address, "--users", "300"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "online features equal the training rows" in done.stdout, done.stdout
    assert "held-out AUC" in done.stdout
