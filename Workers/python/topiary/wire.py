"""The worker protocol's framing (docs/PROTOCOL.md): every message is the tag `TPY1`, a
command and a JSON object body, plus the bytes for CHUNK and PART."""
from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Optional, Tuple

TAG = b"TPY1"
VERSION = 1
COMMANDS = {"HELLO", "WELCOME", "HEARTBEAT", "JOB", "PROGRESS", "RESULT", "FAILED", "CANCEL", "BYE", "REJECT", "ACK",
            "FETCH", "CHUNK", "STORED", "DISCARD", "GET", "PART"}
WITH_PAYLOAD = {"CHUNK", "PART"}
CHUNK_BYTES = 256 << 10
MAX_MESSAGE_BYTES = 16 << 20


class WireError(ValueError):
    """A message that cannot be read: logged and dropped by the receiver."""


def encode(command: str, body: Dict[str, Any], payload: Optional[bytes] = None) -> List[bytes]:
    frames = [TAG, command.encode("ascii"), json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")]
    if command in WITH_PAYLOAD:
        frames.append(payload or b"")
    return frames


def decode(frames: List[bytes]) -> Tuple[str, Dict[str, Any], Optional[bytes]]:
    if len(frames) not in (3, 4):
        raise WireError(f"expected 3 frames (tag, command, body), got {len(frames)}")
    if frames[0] != TAG:
        raise WireError(f"not a Topiary message (tag {frames[0][:16]!r})")
    command = frames[1].decode("ascii", "replace")
    if command not in COMMANDS:
        raise WireError(f"unknown command {command[:32]!r}")
    if (len(frames) == 4) != (command in WITH_PAYLOAD):
        raise WireError(f"{command}: wrong number of frames")
    try:
        body = json.loads(frames[2].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WireError(f"{command} body: {e}") from None
    if not isinstance(body, dict):
        raise WireError(f"{command} body must be a JSON object")
    return command, body, frames[3] if len(frames) == 4 else None


def finite_metrics(metrics: Dict[str, Any]) -> Dict[str, float]:
    """The numeric, finite entries of a metrics object (others are dropped, as the Swift worker does)."""
    out: Dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if math.isfinite(float(v)):
            out[str(k)] = float(v)
    return out


def is_digest(s: Any) -> bool:
    return isinstance(s, str) and len(s) == 64 and all(c in "0123456789abcdef" for c in s)


def is_plain_name(name: Any) -> bool:
    return (isinstance(name, str) and 0 < len(name.encode()) <= 128 and name not in (".", "..")
            and all(c.isascii() and (c.isalnum() or c in "._-") for c in name))
