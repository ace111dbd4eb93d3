"""File writes: atomic (a reader sees the old file or the whole new one, never half of it), with
the user's umask, into folders checked writable before any work is done."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from equibench.errors import ConfigError


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``, renamed onto ``path`` only if the block succeeds.

    An exception (or a kill) inside the block leaves ``path`` untouched and the temporary file
    removed (or, after a kill, a ``.tmp`` file that no reader looks for). The file gets the mode
    any other new file would (0644 under the usual umask 022), not the private 0600 of a
    temporary file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_writable(folder: Path, flag: str) -> None:
    """Fail before any work, in one line naming ``flag`` and the path, when ``folder`` cannot
    be created or written into. Leaves nothing behind: folders it had to create are removed
    again (the writes that follow create them), so a run that fails later leaves no trace."""
    created = [p for p in (folder, *folder.parents) if not p.exists()]  # the deepest first
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / ".write-test"):
            pass
        (folder / ".write-test").unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot write into {flag} {folder} ({exc.strerror}); choose another {flag} "
                          "or make it writable") from None
    finally:
        for path in created:
            with suppress(OSError):  # not there (the mkdir failed) or no longer empty: leave it
                path.rmdir()
