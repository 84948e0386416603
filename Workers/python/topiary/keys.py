"""CURVE key files as `topiary keys generate` writes them: lines `public-key = "…"` and
`secret-key = "…"` (Z85, 40 characters), `#` comments. A `.key` file must not be readable by
group or others."""
from __future__ import annotations

import os
import stat
from typing import Dict, Tuple

import zmq


class KeyError_(ValueError):
    """A key file that cannot be used; the message names the file and the fix."""


def _fields(path: str) -> Dict[str, Tuple[str, int]]:
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        raise KeyError_(f"{path}: {e.strerror}") from None
    out: Dict[str, Tuple[str, int]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise KeyError_(f"{path}:{n}: expected name = \"value\"")
        name, value = (p.strip() for p in line.split("=", 1))
        if len(value) < 2 or value[0] != '"' or value[-1] != '"':
            raise KeyError_(f"{path}:{n}: the value must be in double quotes")
        value = value[1:-1]
        if len(value) != 40:
            raise KeyError_(f"{path}:{n}: {name} must be 40 Z85 characters")
        out[name] = (value, n)
    return out


def load_pair(path: str) -> Tuple[bytes, bytes]:
    """(public, secret) from a `.key` file."""
    mode = os.stat(path).st_mode if os.path.exists(path) else None
    if mode is None:
        raise KeyError_(f"{path}: no such file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyError_(f"{path} is readable by group or others (mode {oct(mode & 0o777)}); run: chmod 600 {path}")
    f = _fields(path)
    if "secret-key" not in f:
        raise KeyError_(f"{path}: no secret-key line (is this a .pub file? give the .key file)")
    secret = f["secret-key"][0].encode()
    public = zmq.curve_public(secret)
    if "public-key" in f and f["public-key"][0].encode() != public:
        raise KeyError_(f"{path}:{f['public-key'][1]}: public-key does not belong to the secret-key in this file")
    return public, secret


def load_public(path_or_key: str) -> bytes:
    """A public key: 40 Z85 characters, or a `.pub` (or `.key`) file."""
    if len(path_or_key) == 40 and not os.path.exists(path_or_key):
        return path_or_key.encode()
    f = _fields(path_or_key)
    if "public-key" not in f:
        raise KeyError_(f"{path_or_key}: no public-key line")
    return f["public-key"][0].encode()
