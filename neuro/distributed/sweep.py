"""Hardware-planning sweeps: a grid of network variants × backends × hardware profiles.

Every point of the grid (FATReLU threshold, weight sparsity, backend, hardware profile)
is one task: the worker derives the variant from the network it received once
(:mod:`~neuro.distributed.variants`), runs the whole batch and returns one row of
counts, reductions, the task metric and, on the ``cores`` backend, cores, latency and
energy.  Without a client the same rows are computed in this process.
"""

from __future__ import annotations

import itertools

from ..exceptions import ParameterError
from .cluster import check_client, ship, task_keys, wait_for

__all__ = ["grid", "evaluate_point", "sweep"]


def grid(thresholds=(None,), weight_sparsity=(0.0,), backends=("cpu",), hardware=(None,)):
    """The points of a sweep, in row order.

    Parameters
    ----------
    thresholds : sequence
        FATReLU thresholds (see :func:`~neuro.distributed.variants.set_thresholds`);
        None keeps the network's own.
    weight_sparsity : sequence of float
        Pruning levels in [0, 1) (see :func:`~neuro.distributed.variants.prune_weights`).
    backends : sequence of str
    hardware : sequence of str, path or HardwareProfile
        Profiles for the ``cores`` backend (other backends get one point with None).

    Returns
    -------
    list of dict
        Keys ``threshold``, ``weight_sparsity``, ``backend``, ``hardware``.
    """
    points = []
    for th, sp, backend in itertools.product(thresholds, weight_sparsity, backends):
        profiles = [h if h is not None else "loihi" for h in hardware]
        for hw in dict.fromkeys(profiles) if backend == "cores" else [None]:
            points.append(
                {"threshold": th, "weight_sparsity": float(sp), "backend": backend, "hardware": hw}
            )
    if not points:
        raise ParameterError("the sweep grid is empty: every axis needs at least one value.")
    return points


def _profile_name(hw):
    return hw if hw is None or isinstance(hw, str) else getattr(hw, "name", str(hw))


def evaluate_point(
    network, inputs, point, steps=None, labels=None, metric="accuracy", options=None
):
    """Run one point of a sweep and return its row.

    Parameters
    ----------
    network : Network
    inputs : ndarray or dict
    point : dict
        From :func:`grid`.
    steps : int, optional
    labels : ndarray of int, optional
        Adds the metric column.
    metric : str or callable
        See :func:`neuro.audit.metrics.evaluate`.
    options : dict, optional
        Backend options (``hardware`` is set from the point).

    Returns
    -------
    dict
        ``threshold``, ``weight_sparsity`` (requested), ``weight_sparsity_measured``,
        ``backend``, ``hardware``, ``samples``, ``steps``, the count totals, their
        values per sample, ``activity`` (events / neuron updates of non-input
        populations), ``reduction_weight|activity|both``, the metric, and on ``cores``
        ``cores_used``, ``chips_used``, ``latency_ns_per_step``, ``energy_pj_per_sample``;
        ``wall_time_s`` is the backend's seconds.
    """
    from ..audit.metrics import evaluate
    from ..backends.base import run
    from .variants import prune_weights, set_thresholds, weight_sparsity

    net = prune_weights(set_thresholds(network, point["threshold"]), point["weight_sparsity"])
    opts = dict(options or {})
    if point["backend"] == "cores":
        opts["hardware"] = point["hardware"]
    if point["backend"] == "cpu" and "dtype" not in opts and net.metadata.get("dtype") == "float64":
        opts["dtype"] = "float64"  # a float64 model runs in float64, as in convert_and_run
    res = run(net, inputs, backend=point["backend"], steps=steps, progress=False, **opts)
    c = res.counts
    totals = c.totals()
    active = [p for n, p in c.populations.items() if p.neuron_updates]
    updates = sum(p.neuron_updates for p in active)
    row = {
        "threshold": point["threshold"],
        "weight_sparsity": point["weight_sparsity"],
        "weight_sparsity_measured": weight_sparsity(net),
        "backend": point["backend"],
        "hardware": _profile_name(point["hardware"]),
        "samples": c.batch,
        "steps": c.steps,
        **totals,
        **{f"{k}_per_sample": v for k, v in c.per_sample().items()},
        "activity": sum(p.events for p in active) / updates if updates else 0.0,
        **{f"reduction_{k}": v for k, v in c.reductions().items()},
    }
    if labels is not None:
        outputs = res.outputs if not isinstance(res.outputs, dict) else res.outputs[net.outputs[0]]
        name, value = evaluate(metric, outputs, labels)
        row[name] = value
    hw = res.info.get("hardware")
    if hw:
        row.update(
            cores_used=hw["cores_used"],
            chips_used=hw["chips_used"],
            latency_ns_per_step=hw["latency_ns"]["mean_per_step"],
            energy_pj_per_sample=hw["energy_pj"]["per_sample"],
        )
    row["wall_time_s"] = res.wall_time_s
    return row


def _table(rows: list[dict], as_frame):
    if as_frame is False:
        return rows
    try:
        import pandas
    except ImportError:
        if as_frame:
            from ..exceptions import require

            require("pandas", "dask", "returning a sweep as a DataFrame")
        return rows
    return pandas.DataFrame(rows)


def sweep(
    model,
    inputs,
    client=None,
    thresholds=(None,),
    weight_sparsity=(0.0,),
    backends=("cpu",),
    hardware=(None,),
    labels=None,
    metric="accuracy",
    steps=None,
    as_frame=None,
    progress=None,
    convert_options=None,
    **options,
):
    """Evaluate a grid of network variants, backends and hardware profiles.

    Parameters
    ----------
    model : Network or torch.nn.Module
        A torch model is converted once, here (``convert_options`` go to
        :func:`converters.convert`); variants are derived from the converted network.
    inputs : ndarray or dict
        One batch, run whole at every point.
    client : distributed.Client, optional
        Run the points as tasks on this cluster (network, inputs and labels are sent
        to every worker once); None runs them here, one after the other.
    thresholds, weight_sparsity, backends, hardware
        Axes of the grid (see :func:`grid`).
    labels : ndarray of int, optional
        Class labels (B,) or targets; adds a column named after ``metric``.
    metric : str or callable
    steps : int, optional
        Steps for static inputs.
    as_frame : bool, optional
        Return a ``pandas.DataFrame`` (None: when pandas is installed) or a list of
        row dicts (False).
    progress : bool, optional
        Dask's progress bar (default: on a terminal).
    **options
        Backend options given to every point (e.g. ``dtype``).

    Returns
    -------
    pandas.DataFrame or list of dict
        One row per grid point (see :func:`evaluate_point`), in grid order; the same
        numbers with and without a client.
    """
    from ..ir.network import Network

    points = grid(thresholds, weight_sparsity, backends, hardware)
    if isinstance(model, Network):
        network = model.validate()
    else:
        from converters.api import convert

        if hasattr(inputs, "detach"):
            inputs = inputs.detach().cpu().numpy()
        network = convert(model, example_input=inputs, **(convert_options or {}))
    if client is None:
        rows = [evaluate_point(network, inputs, p, steps, labels, metric, options) for p in points]
        return _table(rows, as_frame)
    check_client(client)
    shipped = [None if v is None else ship(client, v) for v in (network, inputs, labels)]
    keys = task_keys("neuro-sweep", len(points))
    futures = [
        client.submit(
            evaluate_point,
            shipped[0],
            shipped[1],
            point,
            steps,
            shipped[2],
            metric,
            options,
            key=key,
            pure=False,
        )
        for point, key in zip(points, keys)
    ]
    rows = wait_for(client, futures, progress)
    return _table(rows, as_frame)
