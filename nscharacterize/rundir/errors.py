"""``RunDirError``: a run directory (or one of its files) that cannot be read or created.

Its own module so that the schemas and the store can both raise it without importing each other."""
from __future__ import annotations

from nscharacterize.core.errors import UserError


class RunDirError(UserError):
    """A run directory that cannot be read: the file, what is wrong and the fix."""
