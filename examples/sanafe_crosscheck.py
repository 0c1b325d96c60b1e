"""neuro's Loihi cost model beside SANA-FE 2.2.9, term by term (the table of docs/hardware.md).

For binary-spike MLPs (integer weights, FATReLU thresholds at a half integer, 10 %
input spike rate, delay-1 projections), runs the ``cores`` backend on the calibrated
``loihi`` profile and on ``loihi-davies2018``, writes the same network and placement
with :func:`neuro.hardware.export_sanafe`, runs SANA-FE (simple and, with
``--detailed``, detailed timing) and prints counts, energy per term and latency.

    python examples/sanafe_crosscheck.py --sizes 256,128,10 1024,1024,10 --steps 20

Needs ``pip install neuro[sanafe]`` (Python >= 3.11).
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

import neuro
from neuro.hardware import export_sanafe, run_sanafe


def mlp(sizes, seed=0, density=1.0):
    """Binary-spike MLP with integer weights and delay-1 projections."""
    rng = np.random.default_rng(seed)
    net = neuro.Network(name="mlp_" + "_".join(map(str, sizes)))
    net.add_population("x", (sizes[0],), neuro.Input())
    names = ["x"]
    for i, n in enumerate(sizes[1:-1]):
        net.add_population(f"h{i}", (n,), neuro.FATReLU(threshold=2.5))
        names.append(f"h{i}")
    net.add_population("y", (sizes[-1],), neuro.Readout())
    names.append("y")
    for a, b in zip(names[:-1], names[1:]):
        na, nb = net.populations[a].size, net.populations[b].size
        w = rng.integers(-1, 3, (na, nb)).astype(float) * (rng.random((na, nb)) < density)
        net.connect(a, b, neuro.Dense(w), delay=1)
    return net


def _sides(breakdown):
    synapse = sum(v for k, v in breakdown.items() if k.startswith("synaptic event"))
    synapse += breakdown["dendrite update"]
    soma = sum(breakdown[k] for k in ("neuron access", "neuron update (no spike)",
                                      "neuron update (spike)", "spike generation"))  # fmt: skip
    network = sum(breakdown[k] for k in ("message send", "message receive", "hop east-west",
                                         "hop north-south", "spike within tile",
                                         "chip crossing"))  # fmt: skip
    return {"synapse": synapse, "soma": soma, "network": network}


def compare(sizes, steps, rate, placement, detailed):
    net = mlp(sizes)
    x = (np.random.default_rng(1).random((steps, sizes[0])) < rate).astype(float)
    rows = {}
    for profile in ("loihi", "loihi-davies2018"):
        hw = neuro.run(
            net, x[:, None, :], backend="cores", hardware=profile, placement=placement
        ).info["hardware"]
        rows[profile] = hw
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_sanafe(net, x, tmp, placement=placement)
        ref = run_sanafe(exported, timing="simple")
        det = run_sanafe(exported, timing="detailed") if detailed else None
    cal, dav = rows["loihi"], rows["loihi-davies2018"]
    events = sum(cal["totals"][k] for k in ("syn_dense", "syn_sparse", "syn_conv"))
    print(f"\n{net.name}: {steps} steps, {placement} placement, {cal['cores_used']} cores, "
          f"{cal['tiles_used']} tiles")  # fmt: skip
    print(
        f"  counts  neuro: synaptic events {events}, messages {cal['totals']['messages_sent']}"
        f", hops {cal['totals']['hops_east_west'] + cal['totals']['hops_north_south']}"
    )
    print(
        f"  counts SANA-FE: synaptic events {ref['counts']['synaptic_events']}, messages "
        f"{ref['counts']['messages']}, hops {ref['counts']['hops']}"
    )
    s_cal, s_dav = _sides(cal["energy_pj"]["breakdown"]), _sides(dav["energy_pj"]["breakdown"])
    print("  energy per step (nJ)   loihi   loihi-davies2018   SANA-FE")
    for k in ("synapse", "soma", "network"):
        print(f"    {k:9s} {s_cal[k] / steps / 1e3:14.2f} {s_dav[k] / steps / 1e3:18.2f} "
              f"{ref['energy_pj'][k] / steps / 1e3:9.2f}")  # fmt: skip
    print(f"    {'total':9s} {cal['energy_pj']['per_step'] / 1e3:14.2f} "
          f"{dav['energy_pj']['per_step'] / 1e3:18.2f} "
          f"{ref['energy_pj']['total'] / steps / 1e3:9.2f}")  # fmt: skip
    line = (f"  latency per step (us): loihi {cal['latency_ns']['mean_per_step'] / 1e3:.3f}, "
            f"loihi-davies2018 {dav['latency_ns']['mean_per_step'] / 1e3:.3f}, SANA-FE simple "
            f"{ref['latency_ns']['total'] / steps / 1e3:.3f}")  # fmt: skip
    if det is not None:
        line += f", SANA-FE detailed {det['latency_ns']['total'] / steps / 1e3:.3f}"
    print(line)
    print(
        "  energy by term, loihi (nJ/step): "
        + ", ".join(
            f"{k} {v / steps / 1e3:.2f}" for k, v in cal["energy_pj"]["breakdown"].items() if v
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256,128,10", "1024,1024,10"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.1)
    parser.add_argument("--placement", default="neurons", choices=("neurons", "memory"))
    parser.add_argument("--detailed", action="store_true", help="also SANA-FE detailed timing")
    args = parser.parse_args()
    for text in args.sizes:
        compare([int(v) for v in text.split(",")], args.steps, args.rate, args.placement,
                args.detailed)  # fmt: skip


if __name__ == "__main__":
    main()
