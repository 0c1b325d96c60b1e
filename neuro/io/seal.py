"""A checksum header in front of a network file, and crash-isolated parsing of the rest.

The HDF5 library trusts the bytes it reads: a damaged file can make it crash the process
(a segmentation fault), not raise.  So :func:`neuro.io.hdf5.save` reserves the first
``HEADER_BYTES`` of the file (an HDF5 *user block*, skipped by HDF5 readers) for a header
holding the length and the SHA-256 of everything after it, and :func:`neuro.io.hdf5.load`
checks both before HDF5 reads a byte.  A file whose bytes are not vouched for by the
header (written by an older neuro, by another program, or changed since) is parsed first
in a forked child process, where a crash is reported as damage instead of ending the run;
:func:`neuro.io.hdf5.load` then refuses a changed file even when it parses.

Header (ASCII, zero-padded to ``HEADER_BYTES``)::

    NEURONET 1 <length of the HDF5 part in bytes> <sha256 hex of it>\\n
"""

from __future__ import annotations

import faulthandler
import hashlib
import os
import select
import signal
import time
from pathlib import Path

from ..exceptions import FileFormatError

__all__ = ["HEADER_BYTES", "MAGIC", "probe", "seal", "verify"]

#: Bytes reserved in front of the HDF5 data (an HDF5 user block: a power of two >= 512).
HEADER_BYTES = 512
MAGIC = b"NEURONET"
_VERSION = b"1"
#: Seconds a parse of an unverified file may take in the child process.
PROBE_TIMEOUT_S = 120.0


def _sha256(f, start: int) -> tuple[int, str]:
    f.seek(start)
    h = hashlib.sha256()
    n = 0
    while chunk := f.read(1 << 20):
        h.update(chunk)
        n += len(chunk)
    return n, h.hexdigest()


def seal(path) -> None:
    """Write the header of a file created with an HDF5 user block of ``HEADER_BYTES``."""
    with open(path, "r+b") as f:
        length, digest = _sha256(f, HEADER_BYTES)
        header = b" ".join([MAGIC, _VERSION, str(length).encode(), digest.encode()]) + b"\n"
        f.seek(0)
        f.write(header.ljust(HEADER_BYTES, b"\0"))


def verify(path: Path) -> str:
    """Check a file's header against its bytes.

    Returns
    -------
    str
        ``"verified"`` (the bytes are exactly those saved), ``"changed"`` (a valid header
        whose checksum no longer matches) or ``"unsealed"`` (no neuro header: an older
        neuro file, a foreign file, or not HDF5 at all).

    Raises
    ------
    FileFormatError
        The file is shorter than the header says (truncated, e.g. by an interrupted
        copy), or the header itself is damaged.
    """
    with open(path, "rb") as f:
        head = f.read(HEADER_BYTES)
        if not head.startswith(MAGIC):
            return "unsealed"
        line, _, padding = head.partition(b"\n")
        fields = line.split(b" ")
        ok = (
            len(fields) == 4
            and fields[1] == _VERSION
            and fields[2].isdigit()
            and len(fields[3]) == 64
            and all(c in b"0123456789abcdef" for c in fields[3])
            and len(head) == HEADER_BYTES
            and not padding.strip(b"\0")
        )
        if not ok:
            raise FileFormatError(
                f"{path}: damaged network file: its checksum header is corrupt "
                "(bytes changed after it was written)."
            )
        length, digest = _sha256(f, HEADER_BYTES)
    expected = int(fields[2])
    if length < expected:
        raise FileFormatError(
            f"{path}: damaged network file: truncated, it holds {length} bytes of data, the "
            f"save wrote {expected} (an interrupted write or copy?); save or copy it again."
        )
    return "verified" if length == expected and digest == fields[3].decode() else "changed"


def probe(parse, path: Path) -> str | None:
    """Run ``parse(path)`` in a forked child; return None if it succeeded, else a message.

    The message is that of the :class:`FileFormatError` the child raised, or says that
    the HDF5 library crashed or hung reading the file.  Where ``os.fork`` is missing,
    ``parse`` runs in this process and None is returned (its errors propagate).
    """
    if not hasattr(os, "fork"):  # pragma: no cover - non-POSIX platforms
        parse(path)
        return None
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report and leave without running any exit handler
        status = 0
        try:
            faulthandler.disable()  # a crash here is the expected report, not a bug to trace
            os.close(read_end)
            try:
                parse(path)
                message = b""
            except FileFormatError as exc:
                message = str(exc).encode("utf-8", "replace")
            except BaseException as exc:  # noqa: BLE001 - anything is damage here
                message = f"{path}: damaged network file: {type(exc).__name__}".encode()
            os.write(write_end, (b"E" + message[:60000]) if message else b"K")
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    chunks, deadline, timed_out = [], time.monotonic() + PROBE_TIMEOUT_S, False
    try:
        while True:
            left = deadline - time.monotonic()
            ready = select.select([read_end], [], [], max(0.0, left))[0] if left > 0 else []
            if not ready:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            data = os.read(read_end, 65536)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(read_end)
        _, status = os.waitpid(pid, 0)
    reply = b"".join(chunks)
    if timed_out:
        return (
            f"{path}: damaged network file: reading it did not finish in {PROBE_TIMEOUT_S:.0f} s."
        )
    if os.WIFSIGNALED(status) or not reply:
        return f"{path}: damaged network file: the HDF5 library crashed reading it."
    return None if reply == b"K" else reply[1:].decode("utf-8", "replace")
