"""neuro: event-driven execution of activation-sparse neural networks.

Convert a trained sparse network into an event network (:class:`Network`), run it
on a backend (``reference``, ``cpu``, ``cores``, ``lava``) and read exact op counts.

>>> import neuro
>>> result = neuro.run(network, inputs, backend="cpu")      # doctest: +SKIP
>>> print(result.counts.table())                              # doctest: +SKIP
"""

from . import exceptions
from .audit import Counts
from .backends import BACKENDS, RunResult, run
from .backends.program import Program, compile
from .exceptions import NeuroError
from .ir import Conv2d, Dense, Network, Population, Projection, Sparse
from .ir.complementary import Complementary
from .models import FATReLU, Input, Readout, TokenInput
from .models.egru import EGRU
from .models.kwta import KWTA
from .models.sas import SAS

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "BACKENDS",
    "compile",
    "Complementary",
    "Conv2d",
    "Counts",
    "Dense",
    "EGRU",
    "FATReLU",
    "Input",
    "KWTA",
    "Network",
    "NeuroError",
    "Population",
    "Program",
    "Projection",
    "Readout",
    "RunResult",
    "SAS",
    "Sparse",
    "TokenInput",
    "convert_and_run",
    "exceptions",
    "load",
    "run",
    "save",
]


def save(network, path):
    """Write a network to an HDF5 file; see :func:`neuro.io.hdf5.save`."""
    from .io.hdf5 import save as _save

    return _save(network, path)


def load(path):
    """Read a network from an HDF5 file; see :func:`neuro.io.hdf5.load`."""
    from .io.hdf5 import load as _load

    return _load(path)


def convert_and_run(model, inputs, backend: str = "cpu", hardware=None, **options):
    """Convert a trained model into an event network and run it.

    Parameters
    ----------
    model : torch.nn.Module or Network
        A trained model in eval mode (needs the ``torch`` extra), or a network.
    inputs : array-like
        For a feed-forward model: (B, *input_shape); for a language model: token ids
        (T, B).
    backend : str
        ``"reference"``, ``"cpu"``, ``"cores"`` or ``"lava"``.
    hardware : str or HardwareProfile, optional
        Hardware profile for the ``cores`` backend.
    **options
        Conversion and run options (see :func:`converters.convert` and :func:`neuro.run`).

    Returns
    -------
    RunResult
        With ``.outputs``, ``.counts``, ``.network`` and ``.audit()``.
    """
    from converters import convert_and_run as _convert_and_run

    return _convert_and_run(model, inputs, backend=backend, hardware=hardware, **options)
