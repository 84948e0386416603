"""The supernet: every network of the space is a slice of the largest; a supernet job trains
it and uploads a checkpoint; a train job inherits a candidate's weights from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from testkit import FIXTURES, HERE, Run, load_fixture
import supernet as S
from graph_model import GraphNet

POOL = json.loads((FIXTURES / "supernet" / "fashion-mobilenet-pool.json").read_text())


def run_trainer(job, tmp_path) -> Run:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    env = dict(os.environ, TOPIARY_JOB=str(path), TOPIARY_THREADS="1", OMP_NUM_THREADS="1")
    return Run(subprocess.run([sys.executable, str(HERE / "trainer.py")], env=env, capture_output=True, text=True, timeout=600))


def supernet_job(out, fidelity=None, pool=POOL):
    return {"trial": 3, "attempt": 1, "search": 1, "kind": "supernet", "trainer": "pytorch",
            "candidate": {"arch": {}, "compression": {}, "space": "fashion-mobilenet"}, "graph": POOL["largest"],
            "fidelity": fidelity or {"epochs": 1, "data_fraction": 0.01, "val_fraction": 0.03, "test_fraction": 0.01},
            "seed": 2, "deadline_ms": 600_000, "output_dir": str(out), "supernet": pool}


@pytest.mark.parametrize("space", ["fashion-mobilenet", "fashion-fused"])
def test_every_pool_network_is_a_slice_of_the_largest(space):
    pool = json.loads((FIXTURES / "supernet" / f"{space}-pool.json").read_text())
    net = S.Supernet(pool["largest"], pool["extra"])
    # The largest network cut from itself is itself.
    x = torch.randn(3, 1, 28, 28)
    net.eval()
    assert torch.equal(net.net(x), net.forward_graph(pool["largest"], x))
    for g in [pool["smallest"]] + pool["graphs"]:
        model = GraphNet(g)
        copied = net.load_into(model)
        assert copied >= model.param_count()
        # Weights are the supernet's: the first channels, the centre of the kernel.
        for i, key in S.layer_keys(g).items():
            node = g["nodes"][i]
            if node["op"] == "conv":
                w = model.layers[f"n{i}"].weight
                big = net.by_key[key].weight
                o = (big.shape[-1] - node["kernel"]) // 2
                assert torch.equal(w, big[:w.shape[0], :w.shape[1], o:o + w.shape[2], o:o + w.shape[3]])
        # The sliced forward pass (training) and the copied network compute the same.
        model.train()
        net.train()
        assert torch.allclose(model(x), net.forward_graph(g, x), atol=1e-5)


def test_blocks_without_an_expansion_layer_have_weights_of_their_own():
    net = S.Supernet(POOL["largest"], POOL["extra"])
    keys = set(S.layer_keys(POOL["smallest"]).values())
    assert "s1.b1.dw/conv/0|noexpand" in keys and "s1.b1.dw/conv/0" not in keys
    # Held by the extra network, not the largest's expanded depthwise layer.
    assert net.by_key["s1.b1.dw/conv/0|noexpand"] is not net.by_key["s1.b1.dw/conv/0"]
    assert net.by_key["s1.b1.dw/conv/0|noexpand"] is net.nets[1].layers[
        next(f"n{i}" for i, k in S.layer_keys(POOL["extra"][0]).items() if k == "s1.b1.dw/conv/0|noexpand")]
    # Without the extra network such a block is not in the supernet: it was made for another pool.
    with pytest.raises(S.SupernetError, match="not in the supernet"):
        S.Supernet(POOL["largest"]).load_into(GraphNet(POOL["smallest"]))


def test_gradients_of_a_slice_reach_the_supernet():
    net = S.Supernet(POOL["largest"], POOL["extra"])
    g = POOL["smallest"]
    net.train()
    net.forward_graph(g, torch.randn(4, 1, 28, 28)).sum().backward()
    grads = [p.grad for p in net.net.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert grads
    # Channels the smallest network does not use get no gradient.
    stem = net.by_key["stem/conv/0"].weight
    width = next(n for n in g["nodes"] if n.get("label") == "stem" and n["op"] == "conv")["out"]
    assert stem.grad[width:].abs().sum() == 0 and stem.grad[:width].abs().sum() > 0


def test_a_layer_wider_than_the_supernet_is_refused():
    small = S.Supernet(POOL["smallest"])
    with pytest.raises(S.SupernetError, match="wider than the supernet|not in the supernet"):
        small.load_into(GraphNet(POOL["largest"]))


def test_supernet_job_trains_and_uploads_a_checkpoint(tmp_path):
    r = run_trainer(supernet_job(tmp_path / "out"), tmp_path)
    assert r.rc == 0, r.stderr[-2000:]
    m = r.metrics
    for k in ("accuracy", "smallest_accuracy", "sampled_accuracy", "params", "train_seconds"):
        assert k in m, k
    assert m["accuracy"] > 10.0  # better than chance after 600 images
    ck = r.result["artifacts"]["supernet.pt"]
    net, meta = S.load(ck)
    assert meta["space"] == "fashion-mobilenet" and meta["settings"]["pool"] == len(POOL["graphs"])
    assert r.info["mode"] == "supernet" and len(r.progress) == 1
    assert r.info["device"]["type"] == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (checked when a GPU machine is lent)")
def test_supernet_job_on_the_gpu_and_the_cpu_agree_within_noise(tmp_path):
    fid = {"epochs": 1, "data_fraction": 0.1, "val_fraction": 0.2, "test_fraction": 0.01}
    gpu = run_trainer(supernet_job(tmp_path / "gpu", dict(fid, gpu=1)), tmp_path)
    cpu = run_trainer(supernet_job(tmp_path / "cpu", dict(fid, gpu=0)), tmp_path)
    assert gpu.rc == 0 and cpu.rc == 0, (gpu.stderr[-2000:], cpu.stderr[-2000:])
    assert gpu.info["device"]["type"] == "cuda" and cpu.info["device"]["type"] == "cpu"
    assert abs(gpu.metrics["accuracy"] - cpu.metrics["accuracy"]) < 5.0, (gpu.metrics, cpu.metrics)


def test_supernet_job_with_a_bad_pool_is_a_bad_job(tmp_path):
    r = run_trainer(supernet_job(tmp_path / "out", pool={"largest": POOL["largest"], "graphs": []}), tmp_path)
    assert r.rc == 2 and "supernet.smallest" in r.stderr
    # A pool network that is not a slice of the largest.
    bad = dict(POOL, smallest=POOL["largest"], largest=POOL["smallest"])
    r = run_trainer(supernet_job(tmp_path / "out2", pool=bad), tmp_path)
    assert r.rc == 2 and "not a slice of the largest" in r.stderr


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("supernet")
    r = run_trainer(supernet_job(out), out)
    assert r.rc == 0, r.stderr[-2000:]
    return r.result["artifacts"]["supernet.pt"]


def inherit_job(fixture, out, checkpoint, fidelity):
    fx = load_fixture(fixture)
    return {"trial": 9, "attempt": 1, "search": 2, "kind": "train", "trainer": "pytorch", "candidate": fx["candidate"],
            "graph": fx["graph"], "graph_uncompressed": fx["graph_uncompressed"], "fidelity": fidelity, "seed": 4,
            "deadline_ms": 600_000, "output_dir": str(out), "artifact_paths": {"supernet": checkpoint}}


TINY_EVAL = {"epochs": 0, "data_fraction": 0.01, "val_fraction": 0.03, "test_fraction": 0.01}


@pytest.mark.parametrize("fixture", ["fashion-none", "fashion-int8ptq", "fashion-channel50", "fashion-clusters16", "fashion-mobilenet-0"])
def test_a_candidate_inherits_its_weights_and_is_compressed_after(fixture, checkpoint, tmp_path):
    r = run_trainer(inherit_job(fixture, tmp_path / "out", checkpoint, TINY_EVAL), tmp_path)
    assert r.rc == 0, r.stderr[-2000:]
    inh = r.info["inherited"]
    assert inh["supernet_space"] == "fashion-mobilenet" and inh["values"] > 0 and inh["bn_images"] > 0
    assert r.metrics["epochs_done"] == 0 and 0 <= r.metrics["accuracy"] <= 100
    assert r.metrics["params"] == load_fixture(fixture)["cost"]["params"]
    assert not r.progress  # nothing was trained


def test_an_evaluation_by_inheritance_trains_no_teacher(checkpoint, tmp_path):
    # A candidate that asks for distillation: nothing is trained, so no teacher is trained
    # or loaded (a first use would spend minutes training it).
    r = run_trainer(inherit_job("fashion-distill", tmp_path / "out", checkpoint, TINY_EVAL), tmp_path)
    assert r.rc == 0, r.stderr[-2000:]
    assert r.info["teacher"]["skipped"].startswith("nothing is trained") and "teacher epoch" not in r.stderr


def test_finalists_fine_tune_from_the_supernet(checkpoint, tmp_path):
    r = run_trainer(inherit_job("fashion-none", tmp_path / "out", checkpoint, dict(TINY_EVAL, epochs=1)), tmp_path)
    assert r.rc == 0, r.stderr[-2000:]
    assert r.metrics["epochs_done"] == 1 and r.info["inherited"]["epochs_after"] == 1


def test_a_checkpoint_of_another_space_or_no_checkpoint_is_a_bad_job(checkpoint, tmp_path):
    r = run_trainer(inherit_job("nas-bench-macro-0", tmp_path / "out", checkpoint, TINY_EVAL), tmp_path)
    assert r.rc == 2 and "trained for the space 'fashion-mobilenet'" in r.stderr
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    r = run_trainer(inherit_job("fashion-none", tmp_path / "out2", str(junk), TINY_EVAL), tmp_path)
    assert r.rc == 2 and "not a supernet checkpoint" in r.stderr
