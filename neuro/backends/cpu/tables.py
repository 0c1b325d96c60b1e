"""Named columns of the compiled loop's int64 tables, and the models it runs.

The compiled loop (:mod:`.runloop`) receives a network flattened into two int64
tables, one row per population and one per projection (built by :mod:`.fastpath`).
Their columns are named here, once: the loop indexes ``pop[i, Pop.SIZE]``, never a
bare number (numba folds the names to constants).  A neuron model with a branch in
the loop registers its kind code and the columns it fills with
:func:`compiled_neuron`, next to its cpu class (:mod:`.neurons`, :mod:`.egru`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

__all__ = [
    "Pop",
    "Proj",
    "Kind",
    "WeightKind",
    "CompiledNeuron",
    "COMPILED_NEURONS",
    "compiled_neuron",
]


class Pop(IntEnum):
    """Columns of the population table ``pop[i, :]`` (populations in topological order).

    Offsets marked *per sample* are multiplied by the batch size ``B`` in the table of
    a run (every block holds ``B`` samples of the same size).
    """

    KIND = 0  #: kind code (:class:`Kind`)
    SIZE = 1  #: units
    DEPTH = 2  #: ring depth: largest outgoing delay + 1
    SLOT0 = 3  #: first ring slot
    INPUT = 4  #: address of the input: (T', B, size) values or (T', B) int64 tokens
    INPUT_STEPS = 5  #: input steps T' (1: the same input at every step)
    PORTS = 6  #: port offset (per sample); port p of sample b at + (p * B + b) * WIDTH
    BIAS = 7  #: bias offset; port p's bias at + p * WIDTH
    THETA = 8  #: threshold offset (fatrelu, egru)
    STATE = 9  #: state offset (per sample): accumulator or EGRU ``c``, SIZE per sample
    RECORD = 10  #: address of the recording (T'', B, size)
    RECORD_STEPS = 11  #: recorded steps T'' (0: not recorded)
    WIDTH = 12  #: port width P
    N_PORTS = 13  #: number of ports


class Proj(IntEnum):
    """Columns of the projection table ``proj[k, :]`` (projections in insertion order)."""

    KIND = 0  #: weight operator code (:class:`WeightKind`)
    PRE = 1  #: pre-synaptic population (row of the population table)
    DELAY = 2  #: delay in steps
    N_PRE = 3  #: pre-synaptic units
    WIDTH = 4  #: post-synaptic port width
    WEIGHTS = 5  #: address of the weights in the run's dtype
    WEIGHTS_LEN = 6  #: stored weight values
    INTS = 7  #: address of the first int64 array (sparse indptr; conv geometry; route indptr)
    INTS_LEN = 8  #: its length
    INTS2 = 9  #: second int64 array (sparse indices; route windows); conv: float work space
    INTS2_LEN = 10  #: its length; conv: address of the int work space of the batch
    FAN_NNZ = 11  #: address of the fan-out non-zeros (N_PRE int64)
    FAN_TOT = 12  #: address of the fan-out totals (N_PRE int64)
    PORT = 13  #: target port of the post-synaptic population
    BLOCK = 14  #: columns per block of a dense delivery (WIDTH: one block)
    ROWS = 15  #: weight rows per tile of a tiled dense delivery (N_PRE: not tiled)
    TILE = 16  #: columns per tile of a tiled dense delivery
    GROUP = 17  #: sparse and route: units per independent group (N_PRE: one group)


class Kind(IntEnum):
    """Population kind codes (:attr:`Pop.KIND`); kinds below FATRELU are inputs."""

    INPUT = 0
    TOKEN = 1
    FATRELU = 2
    READOUT = 3
    READOUT_ACC = 4
    EGRU = 5
    MAXPOOL = 6  #: port of 2 x size (maxima, counts); threshold slots hold the valid taps


class WeightKind(IntEnum):
    """Weight operator codes (:attr:`Proj.KIND`)."""

    DENSE = 0
    SPARSE = 1
    CONV2D = 2
    ROUTE = 3  #: max-pooling route: running maxima over each window's taps


@dataclass(frozen=True)
class CompiledNeuron:
    """A neuron model's branch of the compiled loop.

    Attributes
    ----------
    cls : type
        The model's cpu class (a run takes the compiled loop only while the model
        type is registered in ``CPU_NEURONS`` with this class).
    kind : Kind
        The loop's branch (``kind_of`` picks another for some model settings).
    columns : tuple of Pop, or dict of Kind -> tuple of Pop
        Model-specific columns the compiled network fills (THETA: thresholds, STATE:
        per-unit state, named ``state`` in ``final_state``), per kind when a dict.
    state : str or None
    kind_of : callable or None
        ``kind_of(model) -> Kind`` when the branch depends on the model's settings.
    """

    cls: type
    kind: Kind
    columns: object = ()
    state: str | None = None
    kind_of: object = None

    def kind_for(self, model) -> Kind:
        """The branch that runs ``model``."""
        return self.kind if self.kind_of is None else Kind(self.kind_of(model))

    def columns_for(self, kind: Kind) -> tuple:
        """The model-specific columns of branch ``kind``."""
        return self.columns.get(kind, ()) if isinstance(self.columns, dict) else self.columns


#: model type -> :class:`CompiledNeuron`
COMPILED_NEURONS: dict[str, CompiledNeuron] = {}


def compiled_neuron(model_type: str, kind: Kind, columns=(), state=None, kind_of=None):
    """Class decorator: the cpu class of ``model_type`` runs in the compiled loop as
    branch ``kind``, filling ``columns`` of the population table."""

    def register(cls):
        cols = columns if isinstance(columns, dict) else tuple(columns)
        COMPILED_NEURONS[model_type] = CompiledNeuron(cls, kind, cols, state, kind_of)
        return cls

    return register
