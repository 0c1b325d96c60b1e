"""A time limit on a block of test code: a hung run becomes a failure, not a stuck suite."""

import contextlib
import signal


@contextlib.contextmanager
def time_limit(seconds: int, what: str):
    """Raise ``TimeoutError`` naming ``what`` when the block runs longer than ``seconds``
    (no limit where the platform has no ``SIGALRM``)."""
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def _raise(signum, frame):
        raise TimeoutError(f"{what} took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
