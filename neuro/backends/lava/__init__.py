"""The ``lava`` backend: lava-nc processes on Lava's CPU simulator (needs Python 3.10).

Importing this package does not import lava; running the backend checks for it and
names the fix when it is missing (``pip install 'neuro[lava]'`` on Python 3.10).
"""

from .backend import LavaBackend

__all__ = ["LavaBackend"]
