"""The trial helper speaks the trainer protocol of docs/PROTOCOL.md."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import topiary_trial as trial  # noqa: E402


def run_script(body: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    code = f"import sys; sys.path.insert(0, {str(HERE)!r})\nimport topiary_trial as trial\n" + textwrap.dedent(body)
    e = {"PATH": "/usr/bin:/bin"}
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True, env=e, timeout=60)


JOB = {"trial": 3, "attempt": 1, "fidelity": {"epochs": 2}, "seed": 5, "output_dir": "/tmp/x"}

TRAINER = """
job = trial.get_job()
print("a log line, not a report")
for epoch in range(1, job["fidelity"]["epochs"] + 1):
    trial.report_progress(epoch, accuracy=50.0 + epoch, loss=1.0 / epoch)
trial.report_result(accuracy=60.5, params=1234, info={"onnx": "model.onnx", "seed": job["seed"]})
"""


def test_a_trainer_reads_its_job_from_stdin_and_reports_json_lines():
    p = run_script(TRAINER, stdin=json.dumps(JOB))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "a log line, not a report"
    assert [json.loads(x) for x in lines[1:]] == [
        {"event": "progress", "step": 1, "metrics": {"accuracy": 51.0, "loss": 1.0}},
        {"event": "progress", "step": 2, "metrics": {"accuracy": 52.0, "loss": 0.5}},
        {"event": "result", "metrics": {"accuracy": 60.5, "params": 1234}, "info": {"onnx": "model.onnx", "seed": 5}},
    ]


def test_the_job_file_named_by_TOPIARY_JOB_wins_over_stdin(tmp_path):
    f = tmp_path / "job.json"
    f.write_text(json.dumps({**JOB, "seed": 9}))
    p = run_script(TRAINER, stdin="this is not read", env={"TOPIARY_JOB": str(f)})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.splitlines()[-1])["info"]["seed"] == 9


@pytest.mark.parametrize("text,message", [("", "empty"), ("{nope", "not JSON"), ("[1]", "JSON object")])
def test_bad_jobs_raise_job_error(tmp_path, text, message):
    f = tmp_path / "job.json"
    f.write_text(text)
    with pytest.raises(trial.JobError, match=message):
        trial.get_job(str(f))
    with pytest.raises(trial.JobError, match="cannot read"):
        trial.get_job(str(tmp_path / "missing.json"))


def test_an_uncaught_job_error_exits_non_zero_without_a_result():
    p = run_script(TRAINER, stdin="garbage")
    assert p.returncode != 0 and "JobError" in p.stderr and '"result"' not in p.stdout


def test_metrics_must_be_finite_numbers(capsys):
    with pytest.raises(ValueError, match="finite"):
        trial.report_progress(1, loss=float("nan"))
    with pytest.raises(TypeError, match="number"):
        trial.report_result(accuracy="high")
    with pytest.raises(TypeError, match="number"):
        trial.report_result(ok=True)
    with pytest.raises(ValueError, match="step"):
        trial.report_progress(-1, loss=1.0)
    assert capsys.readouterr().out == ""  # nothing half-written


def test_a_result_names_files_to_upload(capsys):
    trial.report_result(accuracy=61.0, artifacts={"model.onnx": "model.onnx"})
    line = json.loads(capsys.readouterr().out)
    assert line["artifacts"] == {"model.onnx": "model.onnx"}
    with pytest.raises(ValueError, match="plain file names"):
        trial.report_result(accuracy=61.0, artifacts={"dir/model.onnx": "model.onnx"})
    assert capsys.readouterr().out == ""


def test_numpy_scalars_are_numbers(capsys):
    np = pytest.importorskip("numpy")
    trial.report_progress(3, accuracy=np.float32(0.5), n=np.int64(7))
    line = json.loads(capsys.readouterr().out)
    assert line == {"event": "progress", "step": 3, "metrics": {"accuracy": 0.5, "n": 7}}


def test_threads_and_output_dir(monkeypatch):
    monkeypatch.setenv("TOPIARY_THREADS", "3")
    assert trial.threads() == 3
    monkeypatch.setenv("TOPIARY_THREADS", "x")
    assert trial.threads() == 1
    monkeypatch.setenv("TOPIARY_OUTPUT_DIR", "/tmp/out")
    monkeypatch.setattr(trial, "_job", None)
    assert trial.output_dir() == "/tmp/out"
    monkeypatch.setattr(trial, "_job", {"output_dir": "/tmp/job"})
    assert trial.output_dir() == "/tmp/job"


def test_a_job_read_from_the_file_still_drains_a_large_stdin(tmp_path):
    # The worker writes the job to stdin too; a job larger than a pipe buffer must not block it.
    f = tmp_path / "job.json"
    f.write_text(json.dumps(JOB))
    big = json.dumps({**JOB, "graph": {"nodes": ["x" * 100] * 5000}})  # about 0.5 MB
    p = subprocess.Popen([sys.executable, "-c", f"import sys, time; sys.path.insert(0, {str(HERE)!r})\n"
                          "import topiary_trial as trial\ntrial.get_job()\ntime.sleep(1)\ntrial.report_result(accuracy=1.0)"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={"PATH": "/usr/bin:/bin", "TOPIARY_JOB": str(f)})
    p.stdin.write(big)  # blocks past the pipe buffer unless the trial reads it
    p.stdin.close()
    out = p.stdout.read()
    assert p.wait(timeout=30) == 0, p.stderr.read()
    assert json.loads(out.splitlines()[-1])["metrics"] == {"accuracy": 1.0}
