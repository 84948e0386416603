"""bench/landscape.py reads what SyntheticLandscape (Swift) writes: the fixture is held to the
Swift generator by Tests/TopiarySearchTests/SyntheticLandscapeTests.swift."""

from __future__ import annotations

import json
import os
import statistics
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from landscape import Landscape, TradeOff, noise_draw  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "fashion-mobilenet-landscape.json")
TRADE_OFF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata", "nas-bench-201-tradeoff.json")


def test_values_and_noise_match_swift():
    land = Landscape(FIXTURE)  # raises if a check value differs
    with open(FIXTURE, encoding="utf-8") as f:
        checks = json.load(f)["checks"]
    values = [land.value([None if v == "-" else int(v) for v in c["key"].split(",")]) for c in checks]
    assert 80 < statistics.fmean(values) < 100
    assert noise_draw(3, checks[0]["key"], 1) == pytest.approx(checks[0]["noise_s3_k1"], abs=1e-12)


def test_define_by_run_activity_matches_swift_candidates():
    """A dimension is absent from a Swift candidate exactly when the exported condition says so."""
    land = Landscape(FIXTURE)
    with open(FIXTURE, encoding="utf-8") as f:
        checks = json.load(f)["checks"]
    assert any(d.get("active_if_any") for d in land.dims)
    absent = 0
    for c in checks:
        x = [None if v == "-" else int(v) for v in c["key"].split(",")]
        for d, dim in enumerate(land.dims):
            assert land.active(dim, x[:d]) == (x[d] is not None), (dim["name"], c["key"])
            absent += x[d] is None
    assert absent > 0


def test_a_changed_landscape_is_refused(tmp_path):
    with open(FIXTURE, encoding="utf-8") as f:
        d = json.load(f)
    d["additive"][0][0] += 0.5
    bad = tmp_path / "changed.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="written by another version"):
        Landscape(str(bad))


def test_the_trade_off_cost_matches_swift():
    """The two-objective suite's cost (SyntheticTradeOff) read as Swift computes it."""
    t = TradeOff(TRADE_OFF)  # raises if a check cost differs
    with open(TRADE_OFF, encoding="utf-8") as f:
        checks = json.load(f)["checks"]
    xs = [[None if v == "-" else int(v) for v in c["key"].split(",")] for c in checks]
    assert all(t.cost(x) > 0 for x in xs)
    assert len({round(t.cost(x), 9) for x in xs}) > 10
    ref_acc, ref_cost = t.ref
    assert ref_acc < t.center and ref_cost > 1


def test_a_changed_trade_off_is_refused(tmp_path):
    with open(TRADE_OFF, encoding="utf-8") as f:
        d = json.load(f)
    d["correlation"] = 0.5
    bad = tmp_path / "changed.json"
    bad.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="written by another version"):
        TradeOff(str(bad))
