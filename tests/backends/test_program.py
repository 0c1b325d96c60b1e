"""Compiled programs: cached and uncached runs agree bit for bit, a changed network is
never run stale, memory stays flat over many calls, non-finite values are reported."""

import copy
import gc
import tracemalloc
import warnings

import numba
import numpy as np
import pytest
from identity import assert_identical
from netgen import COMPILED_KINDS, cases, random_case

import neuro
from neuro.backends.cpu.scheduler import ThreadsWarning
from neuro.exceptions import InputError, NonFiniteWarning, NumericalError


def mlp(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    net = neuro.Network(name="mlp")
    net.add_population("x", (12,), neuro.Input())
    net.add_population("h", (9,), neuro.FATReLU(0.1))
    net.add_population("y", (4,), neuro.Readout())
    net.connect("x", "h", neuro.Dense(rng.normal(size=(12, 9)).astype(dtype)), bias=np.zeros(9))
    net.connect("h", "y", neuro.Dense(rng.normal(size=(9, 4)).astype(dtype)), bias=np.ones(4))
    return net


def fresh(net, x, **options):
    """The run of a network compiled for this call only."""
    return neuro.run(net, x, cache=False, **options)


@pytest.mark.parametrize("seed", range(0, 60, 6))
@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_cached_and_uncached_runs_are_bit_identical(seed, engine):
    net, x, _ = random_case(seed)
    pops = list(net.populations)
    uncached = fresh(net, x, record=pops, engine=engine)
    first = neuro.run(net, x, record=pops, engine=engine)
    again = neuro.run(net, x, record=pops, engine=engine)
    assert again.program is first.program and first.program.compiles == 1
    program = neuro.compile(net, engine=engine)
    explicit = program.run(x, record=pops)
    for result in (first, again, explicit):
        assert_identical(uncached, result, pops)
    # continuing from a final state, and a batch of another size, on the same program
    cont_a = program.run(x, record=pops, initial_state=explicit.final_state)
    cont_b = fresh(net, x, record=pops, engine=engine, initial_state=uncached.final_state)
    assert_identical(cont_a, cont_b, pops)
    half = x[:, : max(1, x.shape[1] // 2)]
    assert_identical(program.run(half, record=pops), fresh(net, half, record=pops), pops)


def test_result_program_runs_new_inputs():
    net = mlp()
    rng = np.random.default_rng(3)
    x1, x2 = rng.random((5, 12)), rng.random((7, 12))
    result = neuro.run(net, x1)
    assert isinstance(result.program, neuro.Program)
    again = result.program.run(x2)
    np.testing.assert_array_equal(again.outputs, fresh(net, x2).outputs)
    assert again.counts == fresh(net, x2).counts


def _outputs(net, x):
    cached = neuro.run(net, x).outputs
    np.testing.assert_array_equal(cached, fresh(net, x).outputs)
    return cached


def test_in_place_edits_raise_and_replacements_recompile():
    net = mlp()
    x = np.random.default_rng(1).random((6, 12))
    before = _outputs(net, x)
    program = neuro.run(net, x).program
    w = net.projections["x->h"].weights.weight
    with pytest.raises(ValueError, match="read-only"):
        w[0, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        w *= 2
    with pytest.raises(ValueError, match="read-only"):
        net.projections["h->y"].bias[0] = 3.0
    with pytest.raises(ValueError, match="read-only"):
        net.populations["h"].model.threshold[()] = 0.7
    np.testing.assert_array_equal(_outputs(net, x), before)
    assert program.compiles == 1  # unchanged: no new compile

    # writeable again and edited in place: the next run sees the edit
    w.flags.writeable = True
    w[:, :] *= -1.0
    flipped = _outputs(net, x)
    assert not np.array_equal(flipped, before)
    assert program.compiles == 2 and not w.flags.writeable  # locked again

    # a new array, a new model, a new bias, a new delay, new outputs
    net.projections["x->h"].weights.weight = np.ascontiguousarray(-w)
    np.testing.assert_array_equal(_outputs(net, x), before)
    net.populations["h"].model = neuro.FATReLU(0.5)
    raised = _outputs(net, x)
    assert not np.array_equal(raised, before)
    net.projections["h->y"].bias = np.full(4, -2.0)
    assert not np.array_equal(_outputs(net, x), raised)
    object.__setattr__(net.populations["h"].model, "threshold", np.asarray(0.1))
    net.projections["h->y"].bias = np.ones(4)
    np.testing.assert_array_equal(_outputs(net, x), before)
    net.outputs = ["h"]
    assert neuro.run(net, x).outputs.shape == (6, 9)
    net.outputs = None
    net.projections["h->y"].delay = 1
    delayed = neuro.run(net, x, steps=3)
    np.testing.assert_array_equal(delayed.outputs, fresh(net, x, steps=3).outputs)


def test_structural_edits_recompile():
    net = mlp()
    x = np.random.default_rng(2).random((3, 12))
    base = _outputs(net, x)
    rng = np.random.default_rng(9)
    net.connect("x", "y", neuro.Dense(rng.normal(size=(12, 4))), name="skip")
    skip = _outputs(net, x)
    assert not np.array_equal(skip, base)
    del net.projections["skip"]
    np.testing.assert_array_equal(_outputs(net, x), base)
    net.add_population("z", (2,), neuro.Readout())
    net.connect("h", "z", neuro.Dense(rng.normal(size=(9, 2))))
    out = neuro.run(net, x).outputs
    assert set(out) == {"y", "z"}
    np.testing.assert_array_equal(out["z"], fresh(net, x).outputs["z"])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_arrays_sharing_memory_are_copied_before_locking(dtype):
    big = np.random.default_rng(4).normal(size=(20, 9)).astype(dtype)
    net = mlp()
    net.projections["x->h"].weights = neuro.Dense(big[:12])  # a view of the caller's array
    x = np.random.default_rng(5).random((2, 12))
    before = neuro.run(net, x).outputs
    assert big.flags.writeable  # the caller's array is left alone...
    big[:12] = 0.0
    # ... and the network no longer shares its memory
    np.testing.assert_array_equal(neuro.run(net, x).outputs, before)
    assert not net.projections["x->h"].weights.weight.flags.writeable


def test_uncached_runs_leave_arrays_writeable():
    net = mlp()
    fresh(net, np.ones((1, 12)))
    assert net.projections["x->h"].weights.weight.flags.writeable


def test_copies_of_a_network_start_without_programs():
    net = mlp()
    x = np.random.default_rng(6).random((2, 12))
    first = neuro.run(net, x)
    twin = copy.deepcopy(net)
    result = neuro.run(twin, x)
    assert result.program is not first.program and result.program.network is twin
    np.testing.assert_array_equal(result.outputs, first.outputs)


def test_a_program_keeps_memory_flat_over_1000_calls():
    net = mlp(dtype=np.float32)
    program = neuro.compile(net, dtype="float32")
    xs = np.random.default_rng(7).random((4, 3, 12)).astype(np.float32)
    for i in range(50):
        program.run(xs[i % 4])
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(100):
            program.run(xs[i % 4])
        gc.collect()
        early, _ = tracemalloc.get_traced_memory()
        for i in range(1000):
            program.run(xs[i % 4])
        gc.collect()
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert late - early < 64 * 1024, (early, late)


def _huge_weights():
    net = mlp()
    w = net.projections["x->h"].weights.weight.copy()
    w[0, :] = 1e39  # finite in float64, inf in float32
    net.projections["x->h"].weights = neuro.Dense(w)
    return net


def test_weights_beyond_float32_raise_naming_the_projection():
    net = _huge_weights()
    x = np.zeros((1, 12))
    with pytest.raises(NumericalError, match=r"projection 'x->h'.*float64"):
        neuro.run(net, x)
    ok = neuro.run(net, x, dtype="float64")
    np.testing.assert_allclose(ok.outputs, neuro.run(net, x, backend="reference").outputs)
    with pytest.warns(NonFiniteWarning):
        neuro.run(net, x, nonfinite="warn")


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_float32_overflow_in_a_step_raises_naming_population_and_step(engine):
    net = mlp()
    w = np.zeros((12, 9))
    w[:2, 0] = 3e38  # each finite in float32; their sum is not
    net.projections["x->h"].weights = neuro.Dense(w)
    x = np.zeros((3, 2, 12))
    x[2, 1, :2] = 1.0  # step 2, sample 1
    with pytest.raises(NumericalError, match=r"population 'h'.*step 2.*dtype=\"float64\""):
        neuro.run(net, x, engine=engine)
    ref = neuro.run(net, x, backend="reference").outputs
    assert np.isfinite(ref).all()
    np.testing.assert_allclose(neuro.run(net, x, dtype="float64", engine=engine).outputs, ref)
    with pytest.warns(NonFiniteWarning, match="population 'h'"):
        neuro.run(net, x, engine=engine, nonfinite="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        neuro.run(net, x, engine=engine, nonfinite="ignore")


def test_inputs_beyond_float32_raise_naming_the_input():
    net = mlp()
    x = np.zeros((2, 1, 12))
    x[1, 0, 3] = 1e39
    with pytest.raises(NumericalError, match=r"population 'x'.*step 1"):
        neuro.run(net, x)
    assert np.isfinite(neuro.run(net, x, dtype="float64").outputs).all()


def test_threads_beyond_the_pool_warn_and_run():
    net, x, _ = random_case(3)
    pool = numba.config.NUMBA_NUM_THREADS
    with pytest.warns(ThreadsWarning, match=f"threads == {pool + 1}"):
        result = neuro.run(net, x, threads=pool + 1)
    assert result.info["threads"] == pool
    assert_identical(result, fresh(net, x), list(net.outputs))


def test_progress_bar_updates_per_chunk_with_the_same_result(capsys):
    pytest.importorskip("tqdm")
    net, x, _ = random_case(8)
    xs = np.repeat(x[:1], 250, axis=0)
    plain = neuro.run(net, xs, progress=False)
    shown = neuro.run(net, xs, progress=True)
    assert "250" in capsys.readouterr().err
    assert_identical(plain, shown, list(net.outputs))


def test_program_checks_its_arguments():
    net = mlp()
    program = neuro.compile(net)
    with pytest.raises(InputError, match="cannot record 'nope'"):
        program.run(np.ones((1, 12)), record=["nope"])
    with pytest.raises(InputError, match="compile expects a neuro.Network"):
        neuro.compile("not a network")
    assert "mlp" in repr(program)


def test_cores_program_maps_once_and_matches_uncached_runs(monkeypatch):
    from neuro.backends.cores import backend as cores_backend

    net = mlp()
    x = np.random.default_rng(10).random((3, 12))
    calls = []
    original = cores_backend.map_network
    monkeypatch.setattr(
        cores_backend, "map_network", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    program = neuro.compile(net, backend="cores", hardware="loihi")
    first, second = program.run(x), program.run(x[:1])
    assert len(calls) == 1
    uncached = fresh(net, x, backend="cores", hardware="loihi")
    np.testing.assert_array_equal(first.outputs, uncached.outputs)
    assert first.counts == uncached.counts
    assert first.info["hardware"] == uncached.info["hardware"]
    np.testing.assert_array_equal(second.outputs, uncached.outputs[:1])


def test_copies_of_a_result_compile_their_own_program():
    net = mlp()
    x = np.random.default_rng(11).random((2, 12))
    result = neuro.run(net, x)
    twin = copy.deepcopy(result)
    assert twin.program is not result.program and twin.program.network is twin.network
    np.testing.assert_array_equal(twin.program.run(x).outputs, result.outputs)


def test_program_of_an_uncached_run_compiles_again():
    net = mlp()
    x = np.random.default_rng(12).random((2, 12))
    result = fresh(net, x)
    net.projections["x->h"].weights.weight[:] *= -1  # still writeable: no cache, no lock
    np.testing.assert_array_equal(result.program.run(x).outputs, fresh(net, x).outputs)
    assert result.program.compiles == 2


def test_an_equal_new_model_is_compiled_and_locked_too():
    net = mlp()
    x = np.random.default_rng(13).random((2, 12))
    program = neuro.run(net, x).program
    model = neuro.FATReLU(np.float64(0.1))  # equal to the compiled one, but another object
    net.populations["h"].model = model
    neuro.run(net, x)
    assert program.compiles == 2 and not model.threshold.flags.writeable


def test_convert_and_run_result_runs_new_inputs():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).eval()
    x1, x2 = torch.randn(4, 6), torch.randn(5, 6)
    result = neuro.convert_and_run(model, x1)
    again = result.program.run(x2.numpy())
    with torch.no_grad():
        np.testing.assert_allclose(again.outputs, model(x2).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(again.outputs, neuro.convert_and_run(model, x2).outputs)


def test_the_guard_notices_each_kind_of_change_without_a_run():
    net = mlp()
    program = neuro.compile(net)
    assert program.current
    w = net.projections["x->h"].weights.weight
    w.flags.writeable = True  # could now be edited in place: no longer vouched for
    assert not program.current
    program.run(np.ones((1, 12)))  # compiles again and locks
    assert program.current and not w.flags.writeable and program.compiles == 2
    edits = [
        lambda: setattr(net.projections["x->h"].weights, "weight", w.copy()),
        lambda: setattr(net.projections["h->y"], "bias", np.ones(4)),
        lambda: setattr(net.projections["h->y"], "delay", 1),
        lambda: setattr(net.projections["h->y"], "port", "input"),  # equal value: still current
        lambda: setattr(net.populations["h"], "model", neuro.FATReLU(0.1)),
        lambda: setattr(net, "outputs", ["h"]),
        lambda: (
            net.add_population("z", (2,), neuro.Readout()),
            net.connect("h", "z", neuro.Dense(np.ones((9, 2)))),
        ),
        lambda: (net.projections.pop("h->z"), net.populations.pop("z")),
    ]
    for i, edit in enumerate(edits):
        edit()
        assert program.current == (i == 3), i
        program.run(np.ones((1, 12)))
        assert program.current, i


def test_memory_estimates_are_kept_and_explicit_budgets_still_checked(monkeypatch):
    from neuro.exceptions import ResourceError

    net = mlp()
    program = neuro.compile(net)
    x = np.ones((2, 12))
    program.run(x)
    program.run(x)  # the kept estimate
    with pytest.raises(ResourceError, match="recorded outputs of 'y'"):
        program.run(x, memory_budget=16)
    monkeypatch.setenv("NEURO_MEMORY_BUDGET", "16")
    with pytest.raises(ResourceError, match="NEURO_MEMORY_BUDGET"):
        program.run(x)
    monkeypatch.delenv("NEURO_MEMORY_BUDGET")
    for batch in range(1, 40):  # more shapes than estimates kept: older ones are dropped
        program.run(np.ones((batch, 12)))
    assert len(program._memory) <= 16


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64, np.float16, bool])
def test_inputs_checked_in_one_pass_match_the_models_check(dtype):
    net = mlp(dtype=np.float32)
    program = neuro.compile(net, dtype="float32")
    x = np.random.default_rng(4).random((3, 12)) * 3
    x = x.astype(dtype)
    np.testing.assert_array_equal(program.run(x).outputs, fresh(net, x, dtype="float32").outputs)
    strided = np.repeat(x, 2, axis=1)[:, ::2]  # not contiguous: the model's own check
    np.testing.assert_array_equal(program.run(strided).outputs, program.run(x).outputs)
    if np.dtype(dtype).kind == "f":
        bad = x.copy()
        bad[1, 5] = np.nan
        with pytest.raises(InputError, match=r"input 'x'.*non-finite"):
            program.run(bad)
        bad[1, 5] = -np.inf
        with pytest.raises(InputError, match=r"input 'x'.*non-finite"):
            program.run(bad)


def test_batch_sizes_alternating_on_one_program_match_fresh_runs():
    net, x, _ = random_case(11)
    pops = list(net.populations)
    program = neuro.compile(net)
    for size in (1, x.shape[1], 1, 2, x.shape[1], 1):
        part = x[:, :size]
        assert_identical(program.run(part, record=pops), fresh(net, part, record=pops), pops)
        assert_identical(program.run(part), fresh(net, part), list(net.outputs))


def test_an_edit_between_compile_and_the_first_run_is_run():
    net = mlp()
    x = np.random.default_rng(8).random((2, 12))
    program = neuro.compile(net)
    w = net.projections["x->h"].weights.weight
    w.flags.writeable = True
    w *= -1.0
    np.testing.assert_array_equal(program.run(x).outputs, fresh(net, x).outputs)
    assert program.compiles == 2


def test_outputs_of_earlier_calls_are_not_overwritten():
    net = mlp(dtype=np.float32)
    program = neuro.compile(net, dtype="float32")
    rng = np.random.default_rng(6)
    xs = [rng.random((1, 12)).astype(np.float32) for _ in range(3)]
    results = [program.run(x) for x in xs]
    for x, result in zip(xs, results):
        np.testing.assert_array_equal(result.outputs, fresh(net, x, dtype="float32").outputs)
        assert result.counts == fresh(net, x, dtype="float32").counts


@pytest.mark.parametrize("seed, kind", cases(COMPILED_KINDS, per_kind=3, start=300))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_plain_call_equals_the_general_path(seed, kind, dtype, monkeypatch):
    """One static batch with default options takes the plain call's one compiled entry;
    it gives the general path's outputs, counts (every kind), final state and info."""
    net, x, _ = random_case(seed, kind)
    static = np.ascontiguousarray(x[0], dtype=dtype)
    program = neuro.compile(net, dtype=dtype)
    taken = []
    plain_run = program._engine.plain_run
    monkeypatch.setattr(program._engine, "plain_run", lambda *a: taken.append(1) or plain_run(*a))
    plain = program.run(static)
    general = program.run(static, steps=1)  # an explicit argument: the general path
    assert taken == [1]
    outputs = list(net.outputs)
    assert_identical(plain, general, outputs)
    assert plain.counts.populations == general.counts.populations
    assert plain.counts.projections == general.counts.projections
    assert plain.counts.ac == general.counts.ac
    assert plain.info == general.info and plain.program is program
    np.testing.assert_array_equal(plain.outputs, general.outputs)
    assert plain.outputs.shape == general.outputs.shape


@pytest.mark.parametrize("general", [False, True])
def test_the_ac_split_is_that_of_the_input_during_the_call(general):
    """NeuroBench's rule (a projection's synops are ACs when its input lies in
    {-1, 0, 1}) is decided from the input as the call saw it: editing the caller's
    array afterwards, before the counts are read, changes nothing."""
    net = mlp(dtype=np.float32)
    program = neuro.compile(net, dtype="float32")
    options = {"steps": 1} if general else {}
    spikes = (np.random.default_rng(3).random((2, 12)) < 0.5).astype(np.float32)
    spikes[0, 0] = -1.0
    graded = np.random.default_rng(4).random((2, 12)).astype(np.float32)
    on_spikes, on_graded = program.run(spikes, **options), program.run(graded, **options)
    spikes[:] = 0.5  # the caller reuses its arrays before reading the counts
    graded[:] = 1.0
    assert on_spikes.counts.ac == {"x->h"}
    assert on_graded.counts.ac == set()
    assert on_spikes.counts.synops_ac == on_spikes.counts.projections["x->h"].synops > 0


def test_the_plain_call_reports_non_finite_inputs_and_values_as_the_general_path():
    net = mlp(dtype=np.float32)
    program = neuro.compile(net, dtype="float32")
    x = np.ones((2, 12), np.float32)
    x[1, 3] = np.inf
    with pytest.raises(InputError, match=r"input 'x'.*non-finite"):
        program.run(x)
    big = np.full((2, 12), 3e38, np.float32)  # finite inputs, a port overflows float32
    with pytest.raises(NumericalError, match="'h'"):
        program.run(big)
    with pytest.raises(NumericalError, match="'h'"):
        program.run(big, steps=1)
