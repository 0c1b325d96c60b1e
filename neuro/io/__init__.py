"""Reading and writing networks."""

from .hdf5 import load, save

__all__ = ["load", "save"]
