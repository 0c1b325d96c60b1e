"""The ``cores`` backend: the event network run on simulated neuromorphic cores.

``neuro.run(network, x, backend="cores", hardware="loihi")`` maps the network onto the
profile's cores (:func:`~neuro.hardware.mapper.map_network`), runs it with the CPU
scheduler's semantics and counts, per core and step, synaptic ops, charged synaptic
events by connection kind, neuron updates (active: the unit sent an event; inactive: it
did not), spikes, messages sent and received (one per (emitted event, destination core)
pair, counted when the event is emitted), east-west and north-south mesh hops and chip
crossings.  From the counts and the profile it derives the latency of every step
(slowest core + barrier) and the energy (Σ over cost terms of count × price); see
:mod:`~neuro.backends.cores.energy` and :data:`~neuro.hardware.COST_TERMS`.

With ``quantize={"weight_bits": 8, "payload_bits": 8, "state_bits": 16}`` the network
is first run in floating point (the reference, and the calibration of payload and state
ranges), then in fixed point (:mod:`~neuro.backends.cores.quantize`); the result holds
the fixed-point outputs and counts and reports the difference to float.
"""

from __future__ import annotations

import numpy as np

from ...exceptions import BackendError
from ...hardware import load_profile
from ...hardware.mapper import Mapping, map_network
from ..base import BACKENDS, Backend
from .energy import TIMINGS
from .quantize import Quantization, quantize_network
from .routing import Routing
from .simulate import simulate
from .summary import hardware_section, output_difference

__all__ = ["CoresBackend"]


@BACKENDS.register("cores")
class CoresBackend(Backend):
    """Simulated neuromorphic cores.

    Options
    -------
    hardware : str, path or HardwareProfile
        Profile name (``"loihi"``, ``"loihi2"``, ...), JSON file or profile; default
        ``"loihi"``.
    quantize : dict or None
        ``weight_bits``, ``payload_bits``, ``state_bits`` (each None for float); None
        (default) runs in floating point with outputs identical to ``cpu``.
    dtype : {"float32", "float64"}
        Arithmetic precision of the simulation (default float32, as ``cpu``).
    max_chips : int or None
        Chips available to the mapper (default: as many as needed).
    max_units_per_core : int or None
        Spread layers over more cores (see :func:`~neuro.hardware.mapper.map_network`).
    mapping : Mapping, optional
        A placement to reuse instead of mapping again.
    placement : {"memory", "neurons"}
        Placement policy (see :func:`~neuro.hardware.mapper.map_network`): every core
        limit (default) or the neuron count only (SANA-FE's packing).
    zero_weights : {"skip", "store"}
        Store and charge only non-zero weights (default), or every connection of the
        network's operators, as SANA-FE does.
    timing : {"simple", "serial", "detailed"}
        Busy-time model of a core (see :mod:`~neuro.backends.cores.energy`): SANA-FE's
        simple model (default) or everything one after another, routes included.
        ``"detailed"`` runs the network, its placement and the profile in SANA-FE's
        detailed network-on-chip timing model (``pip install neuro[sanafe]``; binary
        inputs; input, FATReLU and readout populations) and reports its per-step
        latency; counts, energy and the critical core come from the simple model.
    """

    name = "cores"
    options = (
        "hardware",
        "quantize",
        "dtype",
        "max_chips",
        "max_units_per_core",
        "mapping",
        "placement",
        "zero_weights",
        "timing",
    )

    def prepare(self, network):
        """Quantise the weights (``quantize["weight_bits"]``) and map the network onto
        cores once; a program reuses the mapping for every run.

        Returns
        -------
        tuple
            (network run, mapping, profile, warnings of the mapping).
        """
        profile = load_profile(self.config.get("hardware", "loihi"))
        quant = Quantization.parse(self.config.get("quantize"))
        warnings = []
        run_net = network
        if quant is not None and quant.weight_bits is not None:
            run_net, _ = quantize_network(network, quant.weight_bits)
        mapping = self.config.get("mapping")
        if mapping is None:
            wbits = profile.weight_bits_max
            if quant is not None and quant.weight_bits is not None:
                wbits = min(max(quant.weight_bits, profile.weight_bits_min), wbits)
                if wbits != quant.weight_bits:
                    warnings.append(
                        f"weight_bits == {quant.weight_bits} is outside the range "
                        f"[{profile.weight_bits_min}, {profile.weight_bits_max}] of profile "
                        f"{profile.name!r}; synaptic memory is sized for {wbits}-bit weights."
                    )
            mapping = map_network(
                run_net,
                profile,
                weight_bits=wbits,
                max_chips=self.config.get("max_chips"),
                max_units_per_core=self.config.get("max_units_per_core"),
                placement=self.config.get("placement", "memory"),
                zero_weights=self.config.get("zero_weights", "skip"),
            )
        elif not isinstance(mapping, Mapping) or set(mapping.populations) != set(
            network.populations
        ):
            raise BackendError(
                "backend 'cores': option mapping must be a neuro.hardware.mapper.Mapping of "
                f"this network's populations {sorted(network.populations)}."
            )
        elif not mapping.synapses:
            raise BackendError(
                "backend 'cores': the mapping was read from a file and lacks its synapse "
                "tables; map the network again with neuro.hardware.mapper.map_network."
            )
        else:
            profile = mapping.profile
        return run_net, mapping, profile, warnings

    def execute(self, network, inputs, record, record_steps, initial_state, progress):
        profile = load_profile(self.config.get("hardware", "loihi"))
        timing = self.config.get("timing", "simple")
        if timing not in (*TIMINGS, "detailed"):
            raise BackendError(
                f"backend 'cores': timing == {timing!r}, must be one of {[*TIMINGS, 'detailed']}."
            )
        detailed = timing == "detailed"
        if detailed:
            timing = "simple"
        dtype = np.dtype(self.config.get("dtype", "float32"))
        quant = Quantization.parse(self.config.get("quantize"))
        warnings = []
        if profile.payload_bits == 1 and any(
            p.model.type not in ("token",) for p in network.populations.values()
        ):
            warnings.append(
                f"profile {profile.name!r} sends binary spikes (payload_bits == 1); graded "
                "events are counted as if each were one message."
            )
        args = (inputs, record, record_steps, initial_state, progress, dtype)
        reference = ranges = None
        if quant is not None:
            reference = simulate(network, *args, collect=True)
            ranges = reference.ranges
        prepared = self.prepared if self.prepared is not None else self.prepare(network)
        run_net, mapping, profile, map_warnings = prepared
        warnings.extend(map_warnings)
        routing = Routing(run_net, mapping)
        sim = simulate(
            run_net,
            *args,
            routing=routing,
            profile=profile,
            n_tiles=mapping.n_tiles,
            quant=quant,
            ranges=ranges,
            timing=timing,
        )
        if detailed:
            _detailed_latency(run_net, inputs, mapping, sim, warnings)
        info = {
            "dtype": str(dtype),
            "hardware": hardware_section(profile, mapping, sim, inputs, warnings, timing),
            "activity": {
                "value_fanout": sim.value_fanout,
                "nonbinary_events": sim.nonbinary,
                "unit_events": {n: v.tolist() for n, v in sim.unit_events.items()},
            },
        }
        if quant is not None:
            info["quantization"] = {
                **quant.to_dict(),
                "calibration": reference.ranges,
                "output_difference": output_difference(
                    network, sim.recordings, reference.recordings
                ),
                "float_counts": reference.counts.totals(),
            }
            info["_float_recordings"] = reference.recordings
        if detailed:
            info["hardware"]["timing"] = "detailed"
        return sim.recordings, sim.counts, sim.final_state, info


def _detailed_latency(network, inputs, mapping, sim, warnings) -> None:
    """Replace the simulated per-step latency by SANA-FE's detailed timing, per sample."""
    import tempfile

    from ...hardware.sanafe_export import export_sanafe, run_sanafe

    T = inputs.steps
    names = network.inputs
    for b in range(inputs.batch):
        trains = {
            n: np.stack([np.asarray(inputs.at(n, t))[b].reshape(-1) for t in range(T)])
            for n in names
        }
        with tempfile.TemporaryDirectory() as tmp:
            exported = export_sanafe(network, trains, tmp, mapping=mapping, steps=T)
            result = run_sanafe(exported, timing="detailed", steps=T)
        sim.latency_ns[:, b] = result["latency_ns"]["per_step"]
        if b == 0:
            warnings.extend(f"SANA-FE detailed timing: {note}" for note in exported["notes"])
    warnings.append(
        "latency from SANA-FE's detailed timing model; counts, energy and the critical core "
        "from the simple model"
    )
