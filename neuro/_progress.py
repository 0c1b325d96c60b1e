"""Progress bars for long runs: tqdm on a terminal, silent otherwise."""

from __future__ import annotations

import os
import sys


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool | None = None, min_total: int = 200):
    """Return a tqdm bar, or a silent stand-in.

    Parameters
    ----------
    total : int
        Number of updates expected.
    desc : str
        Label shown left of the bar.
    enabled : bool or None
        None (auto) shows a bar when stderr is a terminal, outside tests, and
        ``total >= min_total``.
    """
    if enabled is None:
        enabled = (
            total >= min_total and sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ
        )
    if not enabled:
        return _Silent()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False, mininterval=0.5)
