"""Fixed-point mode of the ``cores`` backend: weights, graded payloads and state in few bits.

* **weights** — symmetric, one scale per projection: w_q = round(w / s) · s with
  s = max |w| / (2^(b−1) − 1), so the largest weight is exact and zeros stay zero
  (weights rounding to zero are no longer stored and cost no synaptic op);
* **payloads** — the graded value of every *message* (events of populations with
  outgoing projections): one scale per population from the largest value of a float
  calibration run on the same inputs, 2^b − 1 levels for non-negative populations,
  2^(b−1) − 1 per sign otherwise; values above the calibrated range saturate;
* **state** — the summed synaptic input of every port (the dendritic accumulator) and
  the model's own state variables (e.g. the EGRU's ``c``), each with one scale per
  population and variable from the calibration run, 2^(b−1) − 1 levels per sign.

Rounding is to nearest (ties to even, numpy's ``rint``).  Biases are added to the port
accumulator before it is rounded, so they share the state format.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ...exceptions import ParameterError
from ...ir.network import Network
from ...ir.projection import Projection

__all__ = ["Quantization", "quantize_network", "quantize_values", "weight_scale"]


@dataclass(frozen=True)
class Quantization:
    """Bit widths of the fixed-point mode; None keeps that quantity in floating point.

    Parameters
    ----------
    weight_bits, payload_bits, state_bits : int or None
        Weight and state widths include the sign bit (>= 2); payload widths are >= 1.
    """

    weight_bits: int | None = None
    payload_bits: int | None = None
    state_bits: int | None = None

    def __post_init__(self):
        for name, low in (("weight_bits", 2), ("payload_bits", 1), ("state_bits", 2)):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or int(value) != value or not low <= value <= 52:
                raise ParameterError(
                    f"quantize {name} == {value!r}, must be None or an int in [{low}, 52]."
                )
            object.__setattr__(self, name, int(value))

    @classmethod
    def parse(cls, value) -> Quantization | None:
        """Accept None, a Quantization or a dict of its fields."""
        if value is None or isinstance(value, Quantization):
            return value if value is None or value.enabled else None
        if not isinstance(value, dict):
            raise ParameterError(
                f"quantize == {value!r}, must be None or a dict with keys weight_bits, "
                "payload_bits, state_bits."
            )
        unknown = set(value) - {"weight_bits", "payload_bits", "state_bits"}
        if unknown:
            raise ParameterError(
                f"quantize has unknown key(s) {sorted(unknown)}; known: weight_bits, "
                "payload_bits, state_bits."
            )
        q = cls(**value)
        return q if q.enabled else None

    @property
    def enabled(self) -> bool:
        """Whether any quantity is quantized."""
        return any(v is not None for v in asdict(self).values())

    def to_dict(self) -> dict:
        """Plain dict of the widths."""
        return asdict(self)


def weight_scale(values: np.ndarray, bits: int) -> float:
    """Symmetric scale s = max |w| / (2^(bits−1) − 1) (1.0 for all-zero weights)."""
    top = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return top / (2 ** (bits - 1) - 1) if top > 0 else 1.0


def quantize_values(x: np.ndarray, max_abs: float, bits: int, signed: bool = True) -> np.ndarray:
    """Round ``x`` to the grid of ``bits`` bits spanning [−max_abs, max_abs] (or [0, max_abs]).

    Values outside the range saturate.  ``max_abs == 0`` returns zeros.
    """
    x = np.asarray(x)
    if max_abs <= 0:
        return np.zeros_like(x)
    levels = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
    if levels < 1:  # 1-bit signed: sign only
        return np.sign(x) * max_abs
    low = -levels if signed else 0
    q = np.clip(np.rint(x * (levels / max_abs)), low, levels)
    return (q / levels * max_abs).astype(x.dtype, copy=False)


def quantize_network(network: Network, bits: int) -> tuple[Network, dict[str, float]]:
    """A copy of ``network`` whose weights are rounded to ``bits`` bits per projection.

    Returns
    -------
    network : Network
        Same populations (shared, they are not modified), new projections.
    scales : dict of str → float
        The scale of each projection.
    """
    projections, scales = [], {}
    for p in network.projections.values():
        fields = p.weights.to_dict()
        floats = [v for v in fields.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
        top = max((float(np.max(np.abs(v))) for v in floats if v.size), default=0.0)
        scale = top / (2 ** (bits - 1) - 1) if top > 0 else 1.0
        new = {
            k: (
                quantize_values(v, top, bits)
                if isinstance(v, np.ndarray) and v.dtype.kind == "f"
                else v
            )
            for k, v in fields.items()
        }
        weights = type(p.weights).from_dict(new)
        projections.append(
            Projection(p.name, p.pre, p.post, weights, p.port, p.delay, p.bias, p.role)
        )
        scales[p.name] = scale
    net = Network(
        network.populations.values(),
        projections,
        outputs=network._outputs,
        name=network.name,
        metadata=network.metadata,
    )
    return net, scales
