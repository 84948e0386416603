"""Which `topiary` binary the bench scripts run: the one `--topiary` names, else the most
recently built of the release and debug builds (a stale build directory is not picked over
a fresh one)."""

from __future__ import annotations

import os
import sys

BUILDS = (".build/release", ".build/debug", ".build-hw/debug")


def topiary_binary(repo: str, explicit: str | None) -> str:
    if explicit:
        if not os.access(explicit, os.X_OK):
            sys.exit(f"error: --topiary {explicit}: not an executable file")
        return explicit
    built = [p for p in (os.path.join(repo, d, "topiary") for d in BUILDS) if os.access(p, os.X_OK)]
    if not built:
        sys.exit("error: no topiary binary; run swift build or pass --topiary PATH")
    return max(built, key=os.path.getmtime)
