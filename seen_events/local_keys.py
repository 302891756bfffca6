"""Development keys kept in a git-ignored local file.

A fresh checkout has to start without any configuration, yet it still needs a
Django secret key and an encryption key. Both are generated once and kept under
``var/`` so that sessions and encrypted rows survive a restart. Production
deployments set the real keys in the environment; the system checks refuse the
local files whenever ``DEBUG`` is off.
"""

import os
from collections.abc import Callable
from pathlib import Path


def read_or_create_key(*, path: Path, generate: Callable[[], str]) -> str:
    """Return the key stored at ``path``, generating and storing it first.

    The file is created with mode 0600 and never overwritten, so two processes
    starting together agree on the same key.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass

    path.parent.mkdir(parents=True, exist_ok=True)
    key = generate()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process won the race; its key is the one to use.
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as key_file:
        key_file.write(key + "\n")
    return key
