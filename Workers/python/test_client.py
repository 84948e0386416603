"""The Python client and worker agent against a real daemon (the Swift binary, built by
`swift build`; skipped without it): start, follow and read a search from Python, with a
Python worker; and `pip install` of the package into a fresh environment."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BINARY = Path(os.environ.get("TOPIARY_BIN") or REPO / ".build" / "debug" / "topiary")
TABLE = REPO.parent / "shared" / "benchmarks" / "nas-bench-macro" / "nas-bench-macro-cifar10.csv"
SPACE = REPO / "SearchSpaces" / "nas-bench-macro.yaml"

pytestmark = pytest.mark.skipif(not BINARY.exists() or not TABLE.exists(), reason="needs the topiary binary (swift build) and ../shared")
zmq = pytest.importorskip("zmq")

sys.path.insert(0, str(HERE))
from topiary import Client, ControlError, DaemonUnreachable  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daemon(tmp_path):
    wport, cport = free_port(), free_port()
    procs = [subprocess.Popen([str(BINARY), "serve", "--db", str(tmp_path / "db.sqlite"), "--bind", f"tcp://127.0.0.1:{wport}",
                               "--control", f"tcp://127.0.0.1:{cport}", "--heartbeat-ms", "200"],
                              stdout=subprocess.DEVNULL, stderr=open(tmp_path / "daemon.log", "w"))]
    client = Client(f"tcp://127.0.0.1:{cport}", timeout=5)
    for _ in range(50):
        try:
            client.ping()
            break
        except DaemonUnreachable:
            time.sleep(0.1)

    def worker(name: str, *trainers: str) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "topiary.worker", "--connect", f"tcp://127.0.0.1:{wport}", "--name", name, "--slots", "2",
                              "--heartbeat-ms", "200", "--work-dir", str(tmp_path / f"work-{name}"), "--cache", str(tmp_path / "cache"),
                              *[a for t in trainers for a in ("--trainer", t)]],
                             env=dict(os.environ, PYTHONPATH=str(HERE)), stdout=subprocess.DEVNULL, stderr=open(tmp_path / f"{name}.log", "w"))
        procs.append(p)
        return p

    yield client, worker, tmp_path, f"tcp://127.0.0.1:{wport}"
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def test_a_search_runs_from_python_start_follow_leaderboard_pareto(daemon):
    client, worker, _, _ = daemon
    worker("py", f"table=table:{TABLE}")
    sid = client.start_search(str(SPACE), budget=40, strategy="evolution", seed=4)
    seen = list(client.follow(sid, interval=0.1, timeout=60))
    assert seen[-1]["state"] == "completed" and seen[-1]["ended"] == 40
    assert len({s["ended"] for s in seen}) >= 2, "follow yields progress, not only the end"
    rows = client.leaderboard(search=sid, limit=5, frame=False)
    assert len(rows) == 5 and rows[0]["accuracy"] >= rows[-1]["accuracy"]
    assert rows[0]["arch"] and rows[0]["candidate_id"]
    front = client.pareto(search=sid, frame=False)
    assert front and all(r["accuracy"] is not None for r in front)
    assert [w["worker"] for w in client.workers()] == ["py"]
    assert client.search(sid)["top"][0]["candidate"] == rows[0]["candidate_id"]


def test_the_daemons_refusals_are_typed_errors_with_its_words(daemon):
    client, _, _, _ = daemon
    with pytest.raises(ControlError, match="did you mean 'accuracy'"):
        client.start_search(str(SPACE), budget=5, objectives=["acc:max"])
    with pytest.raises(ControlError, match="'final_fidelity' needs 'finalists'"):
        client.start_search(str(SPACE), budget=5, final_fidelity={"epochs": 4})
    with pytest.raises(ControlError, match="table trainer answers the same"):
        client.start_search(str(SPACE), budget=5, finalists=2)
    with pytest.raises(ControlError, match="'dataset' must be an absolute path"):
        client.start_search(str(SPACE), budget=5, dataset="data/x.npz")
    with pytest.raises(ControlError, match="evaluated by the benchmark's table, not by a supernet"):
        client.start_search(str(SPACE), budget=5, evaluator="supernet")
    with pytest.raises(ControlError, match="evaluated by the benchmark's table, not by a supernet"):
        client.train_supernet(str(SPACE), epochs=1)
    with pytest.raises(ControlError, match="no search 99"):
        client.search(99)
    with pytest.raises(DaemonUnreachable, match="no daemon answered"):
        Client(f"tcp://127.0.0.1:{free_port()}", timeout=0.3).ping()


def test_pause_resume_cancel(daemon):
    client, worker, _, _ = daemon
    sid = client.start_search(str(SPACE), budget=10)
    assert client.pause(sid) == "paused"
    assert client.resume(sid) == "active"
    assert client.cancel(sid) == "cancelled"


@pytest.mark.skipif(os.environ.get("TOPIARY_SKIP_PIP") == "1", reason="TOPIARY_SKIP_PIP=1")
def test_pip_install_into_a_fresh_environment_then_a_search_with_topiary_worker(daemon):
    client, _, tmp_path, worker_endpoint = daemon
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # From a copy: a build leaves build/ and *.egg-info beside the sources.
    import shutil
    src = tmp_path / "src"
    shutil.copytree(HERE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "test_*.py"))
    pip = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(src)], capture_output=True, text=True, cwd=tmp_path)
    if pip.returncode != 0 and ("No matching distribution" in pip.stderr or "Could not find a version" in pip.stderr):
        pytest.skip("no package index reachable for the build backend (setuptools)")
    assert pip.returncode == 0, pip.stderr
    exe = venv / "bin" / "topiary-worker"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and "--connect" in out.stdout and "--server-key" in out.stdout
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import topiary, topiary_trial; print(topiary.Client.__name__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert check.returncode == 0 and "Client" in check.stdout
    # The installed agent (not the checkout's) runs a search.
    log = open(tmp_path / "installed.log", "w")
    p = subprocess.Popen([str(exe), "--connect", worker_endpoint, "--name", "installed", "--heartbeat-ms", "200",
                          "--trainer", f"table=table:{TABLE}", "--work-dir", str(tmp_path / "work-installed")],
                         cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)
    try:
        sid = client.start_search(str(SPACE), budget=20)
        last = list(client.follow(sid, interval=0.1, timeout=60))[-1]
        assert last["state"] == "completed" and last["counts"]["completed"] == 20
        assert [w["worker"] for w in client.workers()] == ["installed"]
    finally:
        p.terminate()
        p.wait(10)
