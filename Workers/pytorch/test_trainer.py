"""The trainer as a worker runs it: job JSON in, JSON lines out, real training."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from testkit import HERE, TINY, Run, load_fixture, make_job

RESULT_FIELDS = ("accuracy", "test_accuracy", "loss", "params", "nonzero_params", "bytes", "macs", "train_seconds")


def check_protocol(run):
    assert run.rc == 0, run.stderr[-3000:]
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert len(run.results) == 1 and lines[-1]["event"] == "result", "one result line, last"
    for p in run.progress:
        assert isinstance(p["step"], int) and all(isinstance(v, (int, float)) for v in p["metrics"].values())
    assert [p["step"] for p in run.progress] == list(range(1, len(run.progress) + 1))
    for k in RESULT_FIELDS:
        assert isinstance(run.metrics[k], (int, float)), k


def test_short_real_training_run(run_trainer, tmp_path):
    """A small fashion candidate, a tenth of the data, one epoch: well above chance (10%)."""
    fid = {"epochs": 1, "data_fraction": 0.1, "val_fraction": 0.25, "test_fraction": 0.1}
    run = run_trainer(make_job("fashion-none", tmp_path, fid))
    check_protocol(run)
    fx = load_fixture("fashion-none")
    m, info = run.metrics, run.info
    assert len(run.progress) == 1
    assert run.progress[0]["metrics"]["accuracy"] == m["accuracy"]
    assert m["accuracy"] > 50 and m["test_accuracy"] > 50, m
    assert m["params"] == m["nonzero_params"] == fx["cost"]["params"]
    assert m["macs"] == fx["cost"]["macs"]
    assert m["payload_bytes"] == fx["cost"]["size_bytes"] and m["bytes"] > m["payload_bytes"]
    assert info["data"] == {"dataset": "fashion-mnist", "train_images": 5400, "val_images": 1500, "test_images": 1000,
                            "input": [1, 28, 28]}
    # The exported ONNX runs in ONNX Runtime and agrees with PyTorch.
    assert info["onnx"] == str(tmp_path / "model.onnx") and (tmp_path / "model.onnx").exists()
    assert info["onnx_format"] == "float" and info["onnx_check"]["ok"]
    assert info["onnx_check"]["max_abs_diff"] < 1e-3 and info["onnx_check"]["top1_agreement"] == 1.0
    import onnxruntime as ort
    sess = ort.InferenceSession(info["onnx"], providers=["CPUExecutionProvider"])
    out = sess.run(None, {"input": np.zeros((5, 1, 28, 28), dtype=np.float32)})[0]
    assert out.shape == (5, 10)


def test_job_from_stdin_without_the_file(run_trainer, tmp_path):
    job = make_job("fashion-none", tmp_path, {"epochs": 0, "data_fraction": 0.01, "val_fraction": 0.02, "test_fraction": 0.01})
    run = run_trainer(job, via_file=False)
    check_protocol(run)
    assert run.progress == [] and run.metrics["train_seconds"] == 0


@pytest.mark.parametrize("text,needle", [
    ("not json", "not JSON"),
    ("", "empty"),
    ("[1, 2]", "JSON object"),
    ('{"fidelity": {"epochs": 1}}', "graph"),
])
def test_bad_job_json_fails_clearly(run_trainer, text, needle):
    run = run_trainer(text)
    assert run.rc == 2 and run.result is None
    assert needle in run.stderr and "error" in run.stderr


def test_bad_fields_and_graphs_fail_clearly(run_trainer, tmp_path):
    job = make_job("fashion-none", tmp_path, {"epochs": "two"})
    run = run_trainer(job)
    assert run.rc == 2 and "fidelity.epochs" in run.stderr and run.result is None
    job = make_job("fashion-none", tmp_path)
    job["graph"]["nodes"][4]["shape"] = [999, 28, 28]
    run = run_trainer(job)
    assert run.rc == 2 and "bad graph" in run.stderr and "node 4" in run.stderr
    # An ImageNet network cannot be trained on Fashion-MNIST: refused, not half-run.
    run = run_trainer(make_job("mobilenetv3-imagenet-0", tmp_path))
    assert run.rc == 2 and "1000 outputs" in run.stderr


def test_channel_pruning_job_prunes_the_trained_network(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-channel50", tmp_path))
    check_protocol(run)
    fx = load_fixture("fashion-channel50")
    st = run.info["structural"]
    assert st["from"] == "graph_uncompressed" and st["factorized"] == []
    assert st["pruned"] and all(p["kept"] == p["channels"] - round(p["channels"] / 2) for p in st["pruned"])
    assert run.metrics["params"] == fx["cost"]["params"] < fx["cost_uncompressed"]["params"]
    assert run.metrics["macs"] == fx["cost"]["macs"]
    phases = [p["metrics"]["phase"] for p in run.progress]
    assert phases == [0, 1]  # trained, then fine-tuned after pruning
    assert [p["name"] for p in run.info["phases"]] == ["train", "finetune"]


def test_without_graph_uncompressed_the_compressed_network_is_trained_from_scratch(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-lowrank50", tmp_path, {**TINY, "epochs": 0}, uncompressed=False))
    check_protocol(run)
    assert run.info["structural"]["from"] == "scratch"
    assert run.metrics["params"] == load_fixture("fashion-lowrank50")["cost"]["params"]


def test_from_scratch_trains_the_pruned_architecture_itself(run_trainer, tmp_path):
    # The final phase's way: no cutting from a trained network, no recovery epochs.
    run = run_trainer(make_job("fashion-channel50", tmp_path, {**TINY, "from_scratch": 1}))
    check_protocol(run)
    assert run.info["structural"]["from"] == "scratch"
    assert [p["name"] for p in run.info["phases"]] == ["train"] and run.info["phases"][0]["graph"] == "compressed"
    assert run.metrics["params"] == load_fixture("fashion-channel50")["cost"]["params"]


def test_a_time_budget_shortens_the_schedule_instead_of_cutting_it(run_trainer, tmp_path):
    # 0.001 minutes cannot hold a second epoch: the plan becomes one epoch, and the run says so.
    run = run_trainer(make_job("fashion-none", tmp_path, {**TINY, "epochs": 4, "minutes": 0.001}))
    check_protocol(run)
    assert run.info["budget"] == {"minutes": 0.001, "epochs_planned": 1}
    assert run.metrics["epochs_done"] == 1 and "fit 1 of 4 epochs" in run.stderr
    run = run_trainer(make_job("fashion-none", tmp_path / "b", {**TINY, "epochs": 2, "minutes": 60}))
    assert run.info["budget"] == {"minutes": 60, "epochs_planned": 2} and run.metrics["epochs_done"] == 2
    run = run_trainer(make_job("fashion-none", tmp_path / "c", {**TINY, "minutes": 0}))
    assert run.rc == 2 and "fidelity.minutes" in run.stderr
    run = run_trainer(make_job("fashion-none", tmp_path / "d", {**TINY, "label_smoothing": 0.9}))
    assert run.rc == 2 and "fidelity.label_smoothing must be in [0.0, 0.5]" in run.stderr


def test_the_time_budget_covers_fine_tuning_too(run_trainer, tmp_path):
    # A magnitude-pruned network asks for 3 recovery epochs after its 4; 0.001 minutes hold
    # one of each (the main phase gets its share, fine-tuning at least one epoch).
    run = run_trainer(make_job("fashion-magnitude50", tmp_path, {**TINY, "epochs": 4, "finetune_epochs": 3, "minutes": 0.001}))
    check_protocol(run)
    assert run.info["budget"] == {"minutes": 0.001, "epochs_planned": 1, "finetune_epochs_planned": 1}
    assert [(p["name"], p["epochs"]) for p in run.info["phases"]] == [("train", 1), ("finetune", 1)]
    assert "leave 1 of 3 fine-tuning epochs" in run.stderr


def test_the_plan_shrinks_only_when_the_rest_would_overrun():
    import engine
    assert engine.epochs_that_fit(10, 1, 60.0, 600.0) == 10      # 9 more at 60 s fit in 540 s
    assert engine.epochs_that_fit(10, 2, 120.0, 480.0) == 8      # 6 more fit in 360 s
    assert engine.epochs_that_fit(10, 3, 400.0, 300.0) == 3      # already over: stop here
    assert engine.epochs_that_fit(10, 0, 0.0, 1.0) == 10 and engine.epochs_that_fit(5, 2, 1.0, None) == 5


def test_the_cosine_decay_ends_at_the_shortened_plan():
    import torch
    import engine
    model = torch.nn.Linear(2, 2)
    plan = {"total": 100}
    opt, sch = engine.optimizer_and_schedule(model, engine.Schedule(epochs=10, lr=1.0, warmup_fraction=0.01), 100, plan)
    plan["total"] = 50
    lrs = []
    for _ in range(60):
        opt.step()
        sch.step()
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs[48] > 0 and lrs[49] < 1e-9 and max(lrs[49:]) < 1e-9  # 0 from step 50 on, never back up


def test_int8_job_reports_the_int8_model(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-int8ptq", tmp_path))
    check_protocol(run)
    q = run.info["quantization"]
    assert q["path"] == "fx-int8" and q["mode"] == "ptq" and q["granularity"] == "per_channel"
    assert q["calibration_images"] > 0 and 0 <= q["float_accuracy"] <= 100
    assert run.metrics["payload_bytes"] == load_fixture("fashion-int8ptq")["cost"]["size_bytes"]
    assert run.info["torch_model"].endswith("model_int8.pt")
    assert run.info["onnx_format"] == "int8" and run.info["onnx_check"]["ok"]


@pytest.mark.parametrize("name", ["fashion-w4a8", "fashion-magnitude_w4_clusters"])
def test_simulated_quantization_and_weight_formats_jobs(run_trainer, tmp_path, name):
    run = run_trainer(make_job(name, tmp_path))
    check_protocol(run)
    fx = load_fixture(name)
    assert run.info["quantization"]["path"] == "simulated"
    assert run.metrics["payload_bytes"] == fx["cost"]["size_bytes"]
    assert run.metrics["nonzero_params"] == fx["cost"]["nonzero_params"]
    assert run.metrics["sparse_macs"] == fx["cost"]["sparse_macs"]
    assert run.info["onnx_check"]["ok"]


def test_distillation_trains_the_teacher_once_and_reuses_it(run_trainer, tmp_path):
    fid = {**TINY, "epochs": 1, "teacher_epochs": 1, "teacher_data_fraction": 0.03}
    first = run_trainer(make_job("fashion-distill", tmp_path / "a", fid))
    check_protocol(first)
    t = first.info["teacher"]
    assert t["cached"] is False and "training the distillation teacher" in first.stderr
    assert t["val_accuracy"] > 30 and first.metrics["teacher_accuracy"] == pytest.approx(t["val_accuracy"], abs=1e-3)
    mtime = __import__("os").stat(t["path"]).st_mtime_ns
    second = run_trainer(make_job("fashion-distill", tmp_path / "b", fid))
    check_protocol(second)
    assert second.info["teacher"]["cached"] is True and second.info["teacher"]["path"] == t["path"]
    assert "training the distillation teacher" not in second.stderr
    assert "logits_computed" not in second.info["teacher"]  # same images: nothing recomputed either
    assert __import__("os").stat(t["path"]).st_mtime_ns == mtime
    # Same seed, same teacher: the same student.
    assert second.metrics["accuracy"] == first.metrics["accuracy"]


def test_benchmark_space_networks_take_padded_three_channel_images(run_trainer, tmp_path):
    fid = {"epochs": 1, "data_fraction": 0.002, "val_fraction": 0.01, "test_fraction": 0.01}
    run = run_trainer(make_job("nas-bench-201-2", tmp_path, fid))
    check_protocol(run)
    assert run.info["data"]["input"] == [3, 32, 32]
    assert run.metrics["params"] == load_fixture("nas-bench-201-2")["cost"]["params"]


def test_a_near_deadline_stops_training_between_epochs_and_still_reports(run_trainer, tmp_path):
    job = make_job("fashion-none", tmp_path, {**TINY, "epochs": 3})
    job["deadline_ms"] = 10_000  # leaves less than the trainer's reserve for evaluation and export
    run = run_trainer(job)
    check_protocol(run)
    assert len(run.progress) == 1 and run.metrics["epochs_done"] == 1
    assert run.info["stopped_early"] is True and "stopping early" in run.stderr


def test_a_teacher_sent_with_the_job_is_used_instead_of_training_one(run_trainer, tmp_path):
    import shutil

    fid = {**TINY, "epochs": 1, "teacher_epochs": 1, "teacher_data_fraction": 0.03}
    first = run_trainer(make_job("fashion-distill", tmp_path / "a", fid))
    check_protocol(first)
    sent = tmp_path / "teacher.pt"
    shutil.copyfile(first.info["teacher"]["path"], sent)
    # Another machine: an empty cache; the teacher comes with the job (artifact_paths).
    job = make_job("fashion-distill", tmp_path / "b", fid)
    job["artifact_paths"] = {"teacher": str(sent)}
    second = run_trainer(job, env={"TOPIARY_CACHE": str(tmp_path / "other-cache")})
    check_protocol(second)
    assert second.info["teacher"].get("from_job") is True and second.info["teacher"]["cached"] is True
    assert "training the distillation teacher" not in second.stderr
    assert second.metrics["teacher_accuracy"] == first.metrics["teacher_accuracy"]
    # A teacher of other settings is refused, naming them.
    job = make_job("fashion-distill", tmp_path / "c", {**fid, "teacher_epochs": 2})
    job["artifact_paths"] = {"teacher": str(sent)}
    third = run_trainer(job, env={"TOPIARY_CACHE": str(tmp_path / "third-cache")})
    assert third.rc != 0 and "trained for 1 epochs" in third.stderr


def test_the_result_names_the_files_to_upload(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-int8ptq", tmp_path))
    check_protocol(run)
    names = run.result["artifacts"]
    assert "model.onnx" in names and "model.tpym" in names
    assert all(__import__("os").path.exists(p) for p in names.values())


def test_augmentation_mirrors_and_shifts_without_changing_content_or_shape():
    import torch
    import engine
    x = torch.zeros(64, 1, 6, 6)
    x[:, 0, 2, 1] = 1.0                                     # one bright pixel left of centre
    gen = torch.Generator().manual_seed(0)
    flipped = engine.augment(x, True, 0, 0.0, gen)
    assert flipped.shape == x.shape
    cols = flipped[:, 0, 2].argmax(dim=1)
    assert set(cols.tolist()) == {1, 4}                     # some mirrored, some not
    shifted = engine.augment(x, False, 1, 0.0, torch.Generator().manual_seed(0))
    assert shifted.shape == x.shape and torch.all(shifted.sum(dim=(1, 2, 3)) == 1.0)   # nothing falls off
    where = shifted[:, 0].flatten(1).argmax(dim=1)
    rows, cols = (where // 6).tolist(), (where % 6).tolist()
    assert set(rows) == {1, 2, 3} and set(cols) == {0, 1, 2}
    again = engine.augment(x, False, 1, 0.0, torch.Generator().manual_seed(0))
    assert torch.equal(shifted, again)                      # repeats with its seed
    filled = engine.augment(torch.ones(8, 1, 4, 4), False, 2, -1.0, torch.Generator().manual_seed(1))
    assert set(filled.unique().tolist()) <= {1.0, -1.0}     # borders take the background value


def test_augmentation_is_a_fidelity_setting_and_reported(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-none", tmp_path, {**TINY, "flip": 1, "shift": 2}))
    check_protocol(run)
    assert run.info["augmentation"] == {"flip": True, "shift_px": 2}
    plain = run_trainer(make_job("fashion-none", tmp_path / "p", TINY))
    assert "augmentation" not in plain.info
    bad = run_trainer(make_job("fashion-none", tmp_path / "b", {**TINY, "shift": 9}))
    assert bad.rc == 2 and "fidelity.shift must be in [0, 8]" in bad.stderr
    bad = run_trainer(make_job("fashion-none", tmp_path / "c", {**TINY, "flip": 0.5}))
    assert bad.rc == 2 and "fidelity.flip must be a whole number" in bad.stderr


# The trainer with its recovery epoch sabotaged: noise on every weight at the end of each
# fine-tuning epoch, before it is evaluated (the call with the job's seed (1) + 1 and no QAT
# hook), so fine-tuning surely lowers validation accuracy.
SABOTAGED_FINETUNE = """
import sys
sys.path.insert(0, {here!r})
import torch
import engine
import trainer
plain = engine.train
def train(model, *args, **kwargs):
    if kwargs.get("seed") == 2 and "at_fraction" not in kwargs:
        report = kwargs["epoch_end"]
        def noisy(*a):
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(torch.randn_like(p))
            return report(*a)
        kwargs["epoch_end"] = noisy
    return plain(model, *args, **kwargs)
engine.train = train
sys.exit(trainer.main())
"""


def test_fine_tuning_that_lowers_validation_accuracy_is_undone(tmp_path):
    # Weight sharing costs a converged network little; a recovery epoch at the full learning
    # rate can cost it more. The weights that score better on validation are the ones kept.
    script = tmp_path / "sabotaged.py"
    script.write_text(SABOTAGED_FINETUNE.format(here=str(HERE)))
    job = make_job("fashion-clusters16", tmp_path / "out", {**TINY, "epochs": 2, "finetune_epochs": 1}, seed=1)
    env = dict(os.environ, TOPIARY_THREADS="1", OMP_NUM_THREADS="1", TOPIARY_CACHE=str(tmp_path / "cache"))
    env.pop("TOPIARY_JOB", None)
    run = Run(subprocess.run([sys.executable, str(script)], input=json.dumps(job), capture_output=True, text=True,
                             env=env, timeout=300))
    check_protocol(run)
    finetune = [p for p in run.info["phases"] if p["name"] == "finetune"][0]
    assert finetune["kept"] == "before" and "the weights from before it are kept" in run.stderr
    assert run.metrics["accuracy"] == run.info["before_finetune"]["accuracy"] > 30


def test_channels_last_batches_hold_the_same_images_and_give_the_same_outputs():
    import torch
    import engine
    from graph_model import GraphNet
    for c in (1, 3):
        x = torch.randn(4, c, 5, 6)
        y = engine.channels_last(x)
        assert y.shape == x.shape and torch.equal(y, x)
        assert y.stride() == (5 * 6 * c, 1, 6 * c, c)       # NHWC in memory, single channel too
    graph = load_fixture("fashion-fused-1")["graph"]
    torch.manual_seed(0)
    net = GraphNet(graph).eval()
    x = torch.randn(8, *graph["input"])
    with torch.no_grad():
        assert torch.allclose(net(x), net(engine.channels_last(x)), atol=1e-4)


def test_the_device_is_the_cpu_unless_a_gpu_is_there_and_asking_for_a_missing_gpu_fails_clearly():
    import torch
    import engine
    assert engine.pick_device("cpu").type == "cpu"
    assert engine.describe(torch.device("cpu")) == {"type": "cpu"}
    if torch.cuda.is_available():
        assert engine.pick_device("auto").type == engine.pick_device("cuda").type == "cuda"
    else:
        assert engine.pick_device("auto").type == "cpu"
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            engine.pick_device("cuda")


def test_the_job_reports_its_device_and_gpu_0_keeps_it_on_the_cpu(run_trainer, tmp_path):
    import torch
    run = run_trainer(make_job("fashion-none", tmp_path / "a", dict(TINY, gpu=0)))
    check_protocol(run)
    assert run.info["device"] == {"type": "cpu"}
    run = run_trainer(make_job("fashion-none", tmp_path / "b", dict(TINY, gpu=2)))
    assert run.rc != 0 and "fidelity.gpu must be in [0, 1]" in run.stderr
    run = run_trainer(make_job("fashion-none", tmp_path / "c", TINY))
    check_protocol(run)
    assert run.info["device"]["type"] == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU (checked when a GPU machine is lent)")
@pytest.mark.parametrize("name", ["fashion-none", "fashion-mobilenet-1", "fashion-magnitude_w4_clusters", "fashion-int8qat",
                                  "fashion-channel50", "fashion-distill"])
def test_the_same_job_on_the_gpu_and_the_cpu_gives_the_same_result_within_noise(run_trainer, tmp_path, name):
    fid = {"epochs": 2, "data_fraction": 0.2, "val_fraction": 0.5, "test_fraction": 0.5}
    gpu = run_trainer(make_job(name, tmp_path / "gpu", dict(fid, gpu=1)))
    cpu = run_trainer(make_job(name, tmp_path / "cpu", dict(fid, gpu=0)))
    check_protocol(gpu)
    check_protocol(cpu)
    assert gpu.info["device"]["type"] == "cuda" and cpu.info["device"]["type"] == "cpu"
    assert abs(gpu.metrics["accuracy"] - cpu.metrics["accuracy"]) < 3.0, (gpu.metrics, cpu.metrics)
    assert gpu.metrics["params"] == cpu.metrics["params"]


def test_the_weight_average_follows_the_weights_and_swaps_both_ways():
    import torch
    import engine
    net = torch.nn.Linear(3, 2)
    avg = engine.WeightAverage(0.9)
    start = [p.detach().clone() for p in net.parameters()]
    avg.update(net)  # the first step copies
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    for _ in range(200):
        avg.update(net)
    # After many steps at the new weights the average has all but reached them.
    for s, p, p0 in zip(avg.shadow, net.parameters(), start):
        assert torch.allclose(s, p0 + 1.0, atol=1e-3)
    before = [p.detach().clone() for p in net.parameters()]
    avg.swap(net)
    avg.swap(net)
    assert all(torch.equal(a, p) for a, p in zip(before, net.parameters())), "two swaps give the weights back"


def test_a_job_with_a_weight_average_keeps_what_scores_higher_on_validation(run_trainer, tmp_path):
    run = run_trainer(make_job("fashion-none", tmp_path / "a", dict(TINY, epochs=2, ema=0.99)))
    check_protocol(run)
    wa = run.info["weight_average"]
    assert wa["decay"] == 0.99 and wa["kept"] in ("average", "last")
    best = max(wa["average_accuracy"], wa["last_accuracy"])
    assert wa["kept"] == ("average" if wa["average_accuracy"] > wa["last_accuracy"] else "last")
    # Nothing after the main phase changes an uncompressed float network: its figure is the one kept.
    assert abs(run.metrics["accuracy"] - best) < 1e-3, (run.metrics["accuracy"], wa)
    bad = run_trainer(make_job("fashion-none", tmp_path / "b", dict(TINY, ema=0.5)))
    assert bad.rc != 0 and "fidelity.ema is the average's decay per step" in bad.stderr
