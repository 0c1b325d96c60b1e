"""Scale out on a Dask cluster: batches, sweeps and language-model evaluation.

Every function takes a :class:`dask.distributed.Client` (a ``LocalCluster``, or a
scheduler on SLURM/PBS via dask-jobqueue or on Kubernetes) and returns what the
single-process call returns, with the same numbers:

* :func:`run` — a batch split across workers (``neuro.run(..., client=client)`` calls it);
* :func:`sweep` — a grid of thresholds × weight sparsity × backend × hardware profile,
  one row per point;
* :func:`event_perplexity` — a language model's token streams evaluated on workers.

Needs ``pip install 'neuro[dask]'``; :mod:`distributed` is imported on first use.
"""

from .batches import collect, run, submit
from .cluster import connect
from .language_model import event_perplexity
from .sweep import sweep
from .variants import prune_weights, set_thresholds

__all__ = [
    "collect",
    "connect",
    "event_perplexity",
    "prune_weights",
    "run",
    "set_thresholds",
    "submit",
    "sweep",
]
