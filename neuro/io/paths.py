"""Paths a file is written to: checks before writing, temporary files, durable renames.

Every check names the user's path (never a hidden temporary file) and says what is
wrong with it, so a command can refuse an unwritable output before a long run starts.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..exceptions import PathError

__all__ = [
    "as_path",
    "check_writable_dir",
    "check_writable_file",
    "fsync_dir",
    "fsync_file",
    "temp_path",
]


def as_path(path, what: str, error=PathError) -> Path:
    """``path`` as a Path, or ``error`` naming ``what`` when it is not a str or path."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise error(f"{what} == {path!r} ({type(path).__name__}), must be a file path (str).")
    return Path(path)


def _parent_ok(path: Path, what: str) -> None:
    parent = path.parent
    if not parent.exists():
        raise PathError(
            f"cannot write {what} {str(path)!r}: directory {str(parent)!r} does not exist; "
            "create it first."
        )
    if not parent.is_dir():
        raise PathError(
            f"cannot write {what} {str(path)!r}: {str(parent)!r} is a file, not a directory."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PathError(
            f"cannot write {what} {str(path)!r}: directory {str(parent)!r} is not writable "
            "(permission denied)."
        )


def check_writable_file(path, what: str = "file", replace: bool = False) -> Path:
    """Check that a file can be written at ``path`` (before the work that produces it).

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for the message (``"network file"``, ``"--json"``).
    replace : bool
        The file will be written elsewhere and renamed onto ``path``, so an existing
        read-only file there is no obstacle.

    Returns
    -------
    Path

    Raises
    ------
    PathError
        ``path`` is a directory, its directory is missing, not a directory or not
        writable, or the existing file is read-only.
    """
    path = as_path(path, what)
    if path.is_dir():
        raise PathError(
            f"cannot write {what} {str(path)!r}: it is a directory; give a file name "
            f"such as {str(path / 'network.h5')!r}."
        )
    _parent_ok(path, what)
    if not replace and path.exists() and not os.access(path, os.W_OK):
        raise PathError(
            f"cannot write {what} {str(path)!r}: the file exists and is read-only "
            "(permission denied)."
        )
    return path


def check_writable_dir(path, what: str = "output directory") -> Path:
    """Check that ``path`` is (or can be created as) a writable directory.

    Raises
    ------
    PathError
        ``path`` is an existing file, or it (or its nearest existing parent) is not
        writable.
    """
    path = as_path(path, what)
    if path.exists() and not path.is_dir():
        raise PathError(
            f"cannot write {what} {str(path)!r}: it is an existing file, not a directory."
        )
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise PathError(f"cannot create {what} {str(path)!r}: {str(probe)!r} is a file.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PathError(
            f"cannot write {what} {str(path)!r}: {str(probe)!r} is not writable "
            "(permission denied)."
        )
    return path


def temp_path(path) -> Path:
    """The temporary file a save to ``path`` writes first: ``.NAME.tmp`` beside it.

    The name is the same for every save to ``path``, so a save interrupted by a crash
    (or ``kill -9``) leaves at most one such file, and the next save to ``path``
    overwrites and then removes it.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def is_temp_path(path) -> bool:
    """Whether ``path`` is named like the temporary file of a save."""
    name = Path(path).name
    return name.startswith(".") and name.endswith(".tmp") and len(name) > 5


def stale_temp_files(path) -> list[Path]:
    """Temporary files of earlier saves to ``path`` (also the per-process names of old versions)."""
    path = Path(path)
    found = []
    tmp = temp_path(path)
    if tmp.exists():
        found.append(tmp)
    with contextlib.suppress(OSError):
        for p in path.parent.glob(f".{path.name}.tmp-*"):
            pid = p.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _alive(int(pid)):
                found.append(p)
    return found


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def fsync_file(path) -> None:
    """Flush ``path``'s data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path) -> None:
    """Flush directory ``path`` (a rename in it) to the disk, where the OS allows it."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - platforms without directory descriptors
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
