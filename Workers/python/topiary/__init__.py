"""Topiary in Python: the worker agent (`topiary.worker`), the control client (`Client`) and
the wire protocol (`topiary.wire`). The trainer helper is the top-level `topiary_trial`."""
from .client import Client, ControlError, DaemonUnreachable

__all__ = ["Client", "ControlError", "DaemonUnreachable"]
__version__ = "0.4.0"
