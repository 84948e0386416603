"""bench/daemon_strategies.py: bad input is refused naming what to fix, and a real run through
the daemon scores the recommended candidate by the table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCRIPT = os.path.join(HERE, "daemon_strategies.py")
TABLE = os.path.normpath(os.path.join(REPO, "../shared/benchmarks/nas-bench-macro/nas-bench-macro-cifar10.csv"))
sys.path.insert(0, HERE)
from daemon_strategies import load_truth, parse_config  # noqa: E402
from topiary_binary import BUILDS  # noqa: E402


def test_config_forms():
    assert parse_config("b=bo") == ("b", "bo", "")
    assert parse_config("e=evolution:population=10,sample=3") == ("e", "evolution", "population=10,sample=3")
    with pytest.raises(SystemExit, match="LABEL=STRATEGY"):
        parse_config("bo")
    with pytest.raises(SystemExit, match="name a label"):
        parse_config("=bo")


def test_table_without_the_columns_is_refused(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("key,acc\n00000000,1\n")
    with pytest.raises(SystemExit, match="arch and mean_acc"):
        load_truth(str(bad))
    with pytest.raises(SystemExit, match="--csv"):
        load_truth(str(tmp_path / "missing.csv"))


@pytest.mark.skipif(not os.path.exists(TABLE), reason="NAS-Bench-Macro table not beside the repository")
@pytest.mark.skipif(not any(os.access(os.path.join(REPO, b, "topiary"), os.X_OK) for b in BUILDS), reason="topiary not built")
def test_a_run_through_the_daemon_scores_the_recommendation():
    out = subprocess.run([sys.executable, SCRIPT, "--seeds", "2", "--budget", "12", "--config", "r=random", "--port", "27691"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.strip().startswith("r "))
    mean = float(line.split()[1])
    assert 45 < mean <= 93.13  # a real table accuracy, at most the optimum
