"""The gate's user error: a ``UserError`` raised by the gate (exit 2, one line), no extra behaviour."""
from __future__ import annotations

from nscharacterize.core.errors import UserError


class CompareError(UserError):
    """Bad input to the gate: ``file: key: what is wrong; fix`` (exit 2)."""
