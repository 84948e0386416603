"""The daemon's control API from Python (docs/PROTOCOL.md, Control protocol): start, follow,
steer and read searches from a script or a notebook.

    from topiary import Client
    c = Client("tcp://127.0.0.1:5556")
    sid = c.start_search("SearchSpaces/nas-bench-macro.yaml", budget=50, strategy="evolution")
    for s in c.follow(sid):
        print(s["ended"], s.get("best"))
    c.leaderboard(search=sid, limit=5)          # a pandas DataFrame when pandas is installed
"""
from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import zmq

VERSION = 1
ENDED = ("completed", "cancelled")


class ControlError(RuntimeError):
    """The daemon refused a request; the message is the daemon's."""


class DaemonUnreachable(ControlError):
    """No daemon answered at the endpoint in time."""


class Client:
    def __init__(self, endpoint: str = "tcp://127.0.0.1:5556", timeout: float = 10.0):
        self.endpoint = endpoint
        self.timeout = timeout
        self.context = zmq.Context.instance()

    def call(self, op: str, **fields: Any) -> Dict[str, Any]:
        """One request, one reply: the reply's fields, or ControlError with the daemon's words."""
        s = self.context.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        try:
            s.connect(self.endpoint)
            s.send(json.dumps(dict(fields, op=op, version=VERSION)).encode())
            if not s.poll(int(self.timeout * 1000)):
                raise DaemonUnreachable(f"no daemon answered at {self.endpoint} within {self.timeout:g} s (is `topiary serve` running there?)")
            reply = json.loads(s.recv())
        finally:
            s.close()
        if not reply.get("ok"):
            raise ControlError(reply.get("error") or "the daemon refused the request")
        reply.pop("ok", None)
        return reply

    # -- searches -------------------------------------------------------------------------

    def start_search(self, space: str, budget: int, target: str = "host-cpu", target_yaml: Optional[str] = None,
                     strategy: str = "random", strategy_options: Optional[Dict[str, Any]] = None,
                     objectives: Sequence[str] = (), constraints: Sequence[str] = (), seed: int = 0,
                     trainer: Optional[str] = None, fidelity: Optional[Dict[str, Any]] = None, deadline_s: int = 3600,
                     max_attempts: int = 3, kind: str = "train", retry_failed: bool = False,
                     artifacts: Optional[Dict[str, str]] = None, reproducible: bool = False,
                     dataset: Optional[str] = None, finalists: int = 0,
                     final_fidelity: Optional[Dict[str, Any]] = None, evaluator: Optional[str] = None) -> int:
        """Starts a search; returns its id. `space` is a YAML file (or the YAML text itself).
        Without `target_yaml` the daemon predicts no latency (the CLI sends the profile); pass
        the profile's text for hardware-aware admission. `dataset` is the training data's
        absolute path on the workers; `finalists` candidates are trained again at
        `final_fidelity` once the budget is spent (the final phase). `evaluator="supernet"` (or
        `"supernet:ID"`) evaluates candidates with weights inherited from a trained supernet
        (`train_supernet`)."""
        if os.path.exists(space):
            space_file, space_yaml = space, open(space, encoding="utf-8").read()
        else:
            space_file, space_yaml = "<space>", space
        body: Dict[str, Any] = {
            "space_yaml": space_yaml, "space_file": space_file, "budget": budget, "target": target, "strategy": strategy,
            "strategy_options": {k: str(v) for k, v in (strategy_options or {}).items()}, "objectives": list(objectives),
            "constraints": list(constraints), "seed": seed, "fidelity": dict(fidelity or {}), "deadline_s": deadline_s,
            "max_attempts": max_attempts, "kind": kind, "retry_failed": retry_failed,
            "artifacts": [f"{k}={v}" for k, v in (artifacts or {}).items()],
        }
        if reproducible:
            body["reproducible"] = True
        if dataset is not None:
            body["dataset"] = dataset
        if finalists:
            body["finalists"] = finalists
        if final_fidelity:
            body["final_fidelity"] = dict(final_fidelity)
        if evaluator is not None:
            body["evaluator"] = evaluator
        if trainer is not None:
            body["trainer"] = trainer
        if target_yaml is not None:
            body["target_yaml"] = target_yaml
        return int(self.call("search.start", **body)["search"])

    def train_supernet(self, space: str, epochs: int = 3, data_fraction: float = 1.0, pool: int = 256, seed: int = 0,
                       fidelity: Optional[Dict[str, Any]] = None, deadline_s: int = 6 * 3600, trainer: str = "pytorch",
                       dataset: Optional[str] = None) -> int:
        """Queues the training of the space's supernet (one trial, on a worker with `trainer`);
        returns the search's id, which `start_search(evaluator=f"supernet:{id}")` names."""
        f = dict(fidelity or {}, epochs=epochs, data_fraction=data_fraction)
        if os.path.exists(space):
            space_file, space_yaml = space, open(space, encoding="utf-8").read()
        else:
            space_file, space_yaml = "<space>", space
        body: Dict[str, Any] = {"space_yaml": space_yaml, "space_file": space_file, "budget": 1, "kind": "supernet",
                                "supernet_pool": pool, "seed": seed, "fidelity": f, "deadline_s": deadline_s, "trainer": trainer}
        if dataset is not None:
            body["dataset"] = dataset
        return int(self.call("search.start", **body)["search"])

    def searches(self) -> List[Dict[str, Any]]:
        return self.call("search.list")["searches"]

    def search(self, search: int) -> Dict[str, Any]:
        """A search's summary: state, counts, best, `waiting` (why it stalls), `top`."""
        s = self.call("search.show", search=search)
        s["ended"] = sum(s.get("counts", {}).get(k, 0) for k in ("completed", "failed", "pruned", "cancelled"))
        return s

    def follow(self, search: int, interval: float = 0.5, timeout: Optional[float] = None) -> Iterator[Dict[str, Any]]:
        """Yields the search's summary whenever it changes, until it completes or is cancelled."""
        last = None
        start = time.monotonic()
        while True:
            s = self.search(search)
            key = (s["state"], s["ended"], json.dumps(s.get("counts"), sort_keys=True), json.dumps(s.get("best"), sort_keys=True))
            if key != last:
                last = key
                yield s
            if s["state"] in ENDED:
                return
            if timeout is not None and time.monotonic() - start > timeout:
                raise TimeoutError(f"search {search} did not end within {timeout:g} s")
            time.sleep(interval)

    def pause(self, search: int) -> str:
        return self.call("search.pause", search=search)["state"]

    def resume(self, search: int) -> str:
        return self.call("search.resume", search=search)["state"]

    def cancel(self, search: int) -> str:
        return self.call("search.cancel", search=search)["state"]

    def workers(self) -> List[Dict[str, Any]]:
        return self.call("workers")["workers"]

    def ping(self) -> Dict[str, Any]:
        return self.call("ping")

    # -- results ----------------------------------------------------------------------------

    def leaderboard(self, search: Optional[int] = None, target: Optional[str] = None, by: str = "accuracy",
                    limit: int = 10, frame: Optional[bool] = None) -> Union[List[Dict[str, Any]], Any]:
        """The best `limit` candidates: rows with accuracy, latency on `target`, size, the
        candidate's choices (`arch`, `compression_choices`). A pandas DataFrame when pandas
        is installed (or `frame=True`), else a list of dicts."""
        fields: Dict[str, Any] = {"by": by, "limit": limit}
        if search is not None:
            fields["search"] = search
        if target is not None:
            fields["target"] = target
        return _rows(self.call("leaderboard", **fields)["entries"], frame)

    def pareto(self, search: Optional[int] = None, target: Optional[str] = None, objectives: Sequence[str] = (),
               frame: Optional[bool] = None) -> Union[List[Dict[str, Any]], Any]:
        """The Pareto front (accuracy up; latency, size, … down) as rows."""
        fields: Dict[str, Any] = {"pareto": True, "objectives": list(objectives), "limit": 100000}
        if search is not None:
            fields["search"] = search
        if target is not None:
            fields["target"] = target
        return _rows(self.call("leaderboard", **fields)["entries"], frame)


def _rows(entries: List[Dict[str, Any]], frame: Optional[bool]) -> Union[List[Dict[str, Any]], Any]:
    if frame is False:
        return entries
    try:
        import pandas as pd  # type: ignore
    except ImportError:
        if frame:
            raise
        return entries
    return pd.DataFrame(entries)
