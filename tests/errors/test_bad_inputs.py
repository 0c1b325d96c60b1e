"""Every bad input raises a typed neuro error whose message names the object, the value and
the rule; none raises numpy's, h5py's or Python's own error, none runs silently."""

import os

import h5py
import numpy as np
import pytest

import neuro
from neuro import (
    EGRU,
    KWTA,
    SAS,
    Conv2d,
    Dense,
    FATReLU,
    Input,
    Network,
    Population,
    Projection,
    Readout,
    Sparse,
    TokenInput,
)
from neuro.exceptions import (
    BackendError,
    CycleError,
    FileFormatError,
    InputError,
    NeuroError,
    ParameterError,
    PathError,
    PortError,
    ResourceError,
    ShapeError,
    ValidationError,
)


def mlp(threshold=0.1, hidden=None):
    net = Network(name="mlp")
    net.add_population("x", (4,), Input())
    net.add_population("h", (3,), hidden if hidden is not None else FATReLU(threshold))
    net.add_population("y", (2,), Readout())
    net.connect("x", "h", Dense(np.ones((4, 3))))
    net.connect("h", "y", Dense(np.ones((3, 2))))
    return net


def single(model, size=4, shape=None):
    net = Network(name="single")
    shape = shape or (size,)
    n = int(np.prod(shape))
    net.add_population("x", (n,), Input())
    net.add_population("k", shape, model)
    net.connect("x", "k", Dense(np.eye(n)))
    return net


def recurrent():
    net = mlp()
    net.populations["y"] = Population("y", (2,), Readout(accumulate=True))
    net.connect("y", "h", Dense(np.ones((2, 3))), delay=1, name="back")
    return net


def two_inputs():
    net = Network(name="two")
    net.add_population("a", (2,), Input())
    net.add_population("b", (2,), Input())
    net.add_population("y", (2,), Readout())
    net.connect("a", "y", Dense(np.eye(2)))
    net.connect("b", "y", Dense(np.eye(2)))
    return net


def tokens():
    net = Network(name="tok")
    net.add_population("t", (5,), TokenInput())
    net.add_population("y", (2,), Readout())
    net.connect("t", "y", Dense(np.ones((5, 2))))
    return net


def run_ref(net, x, **kw):
    return neuro.run(net, x, backend="reference", **kw)


def _set(net, key, value):
    net.metadata[key] = value


def _mutated_metadata():
    net = mlp()
    net.metadata["a"] = [1]
    net.metadata["a"].append(np.ones(2))  # changed in place: caught by validate()
    net.validate()


def _net_without_inputs():
    net = Network(name="noin")
    net.add_population("h", (2,), FATReLU(0.0))
    net.validate()


def _with(net, fn):
    fn(net)
    return net


X = np.ones((1, 4))

# (id, action, exception type, substrings the message must contain)
CASES = [
    # -- neuron model parameters ------------------------------------------------------------
    (
        "fatrelu threshold str",
        lambda: FATReLU("abc"),
        ParameterError,
        ["fatrelu threshold", "'abc'", "number"],
    ),
    (
        "fatrelu threshold list of str",
        lambda: FATReLU([0.1, "x"]),
        ParameterError,
        ["fatrelu threshold", "number"],
    ),
    (
        "fatrelu threshold dict",
        lambda: FATReLU({"a": 1}),
        ParameterError,
        ["fatrelu threshold", "dict"],
    ),
    (
        "fatrelu threshold negative",
        lambda: mlp(-0.5).validate(),
        ParameterError,
        ["'h'", "threshold == -0.5", ">= 0"],
    ),
    (
        "fatrelu threshold nan",
        lambda: mlp(np.nan).validate(),
        ParameterError,
        ["'h'", "threshold", "non-finite"],
    ),
    (
        "fatrelu threshold inf",
        lambda: mlp(np.inf).validate(),
        ParameterError,
        ["'h'", "non-finite"],
    ),
    (
        "fatrelu per-channel length",
        lambda: mlp(np.array([0.1, 0.2])).validate(),
        ShapeError,
        ["'h'", "shape (2,)", "(3,)"],
    ),
    (
        "fatrelu threshold 2-D",
        lambda: mlp(np.zeros((3, 1))).validate(),
        ShapeError,
        ["'h'", "(3, 1)"],
    ),
    ("egru threshold str", lambda: EGRU("abc"), ParameterError, ["egru threshold", "'abc'"]),
    (
        "egru threshold negative",
        lambda: single(EGRU(-np.ones(4))).validate(),
        ParameterError,
        ["'k'", "egru threshold", ">= 0"],
    ),
    (
        "egru threshold size",
        lambda: single(EGRU(np.ones(3))).validate(),
        ShapeError,
        ["'k'", "(3,)", "(4,)"],
    ),
    ("kwta k 0", lambda: KWTA(0), ParameterError, ["kwta k == 0", ">= 1"]),
    ("kwta k negative", lambda: KWTA(-1), ParameterError, ["kwta k == -1", ">= 1"]),
    ("kwta k fraction", lambda: KWTA(2.5), ParameterError, ["kwta k == 2.5", "int"]),
    ("kwta k str", lambda: KWTA("3"), ParameterError, ["kwta k == '3'", "int"]),
    ("kwta k bool", lambda: KWTA(True), ParameterError, ["kwta k == True", "int"]),
    (
        "kwta k > units",
        lambda: single(KWTA(5), 4).validate(),
        ParameterError,
        ["'k'", "k == 5", "only 4 units", "<= 4"],
    ),
    (
        "kwta k > units at run",
        lambda: run_ref(single(KWTA(9), 4), X),
        ParameterError,
        ["k == 9", "<= 4"],
    ),
    ("kwta ties", lambda: KWTA(1, ties="random"), ParameterError, ["ties == 'random'", "'index'"]),
    (
        "kwta relu str",
        lambda: KWTA(1, relu="yes"),
        ParameterError,
        ["relu == 'yes'", "True or False"],
    ),
    (
        "kwta local 1-D",
        lambda: single(KWTA(1, local=True, channels=4), 4).validate(),
        ShapeError,
        ["'k'", "local=True", "(C, H, W)"],
    ),
    (
        "kwta local channels",
        lambda: single(KWTA(1, local=True, channels=3), shape=(2, 2, 2)).validate(),
        ParameterError,
        ["channels == 3", "2"],
    ),
    (
        "kwta local k > channels",
        lambda: single(KWTA(3, local=True, channels=2), shape=(2, 2, 2)).validate(),
        ParameterError,
        ["k == 3", "only 2 channels"],
    ),
    (
        "kwta boost zero",
        lambda: single(KWTA(1, boost=np.zeros(4))).validate(),
        ParameterError,
        ["boost == 0.0", "> 0"],
    ),
    (
        "kwta boost shape",
        lambda: single(KWTA(1, boost=np.ones(3))).validate(),
        ShapeError,
        ["boost has shape (3,)"],
    ),
    (
        "kwta boost nan",
        lambda: single(KWTA(1, boost=np.full(4, np.nan))).validate(),
        ParameterError,
        ["boost", "non-finite"],
    ),
    ("kwta boost str", lambda: KWTA(1, boost="big"), ParameterError, ["kwta boost", "'big'"]),
    ("sas m 3", lambda: SAS(3), ParameterError, ["sas m == 3", "power of two"]),
    ("sas m 0", lambda: SAS(0), ParameterError, ["sas m == 0", "power of two"]),
    ("sas m str", lambda: SAS("x"), ParameterError, ["sas m == 'x'", "power of two"]),
    ("sas channels str", lambda: SAS(2, channels="c"), ParameterError, ["sas channels == 'c'"]),
    (
        "readout accumulate str",
        lambda: Readout(accumulate="no"),
        ParameterError,
        ["readout accumulate == 'no'", "True or False"],
    ),
    # -- populations, projections, weights --------------------------------------------------
    (
        "population name empty",
        lambda: Population("", (3,), FATReLU()),
        ValidationError,
        ["population name ''", "non-empty"],
    ),
    (
        "population name slash",
        lambda: Population("a/b", (3,), FATReLU()),
        ValidationError,
        ["'a/b'", "'/'"],
    ),
    (
        "population name int",
        lambda: Population(3, (3,), FATReLU()),
        ValidationError,
        ["population name 3"],
    ),
    (
        "population shape zero",
        lambda: Population("p", (0, 3), FATReLU()),
        ShapeError,
        ["'p'", "(0, 3)", "positive ints"],
    ),
    (
        "population shape float",
        lambda: Population("p", (2.5,), FATReLU()),
        ShapeError,
        ["'p'", "2.5", "positive ints"],
    ),
    (
        "population model",
        lambda: Population("p", (3,), "relu"),
        ValidationError,
        ["'p'", "str", "NeuronModel"],
    ),
    (
        "projection delay negative",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), delay=-1),
        ParameterError,
        ["'x->y'", "delay == -1", ">= 0"],
    ),
    (
        "projection delay fraction",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), delay=1.5),
        ParameterError,
        ["delay == 1.5", "int"],
    ),
    (
        "projection delay str",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), delay="1"),
        ParameterError,
        ["delay == '1'", "int"],
    ),
    (
        "projection delay bool",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), delay=True),
        ParameterError,
        ["delay == True"],
    ),
    (
        "projection delay 1e9",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), delay=10**9),
        ParameterError,
        ["'x->y'", "delay == 1000000000", "<= 65535", "MAX_DELAY"],
    ),
    (
        "projection delay 1e6",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), delay=10**6),
        ParameterError,
        ["delay == 1000000", "<= 65535"],
    ),
    (
        "projection weights type",
        lambda: mlp().connect("x", "y", np.ones((4, 2))),
        ValidationError,
        ["'x->y'", "ndarray", "operator"],
    ),
    (
        "projection pre not str",
        lambda: Projection("p", 0, "y", Dense(np.ones((4, 2)))),
        ValidationError,
        ["'p'", "pre == 0", "str"],
    ),
    (
        "projection port not str",
        lambda: Projection("p", "x", "y", Dense(np.ones((4, 2))), port=None),
        ValidationError,
        ["port == None"],
    ),
    (
        "projection bias str",
        lambda: mlp().connect("x", "y", Dense(np.ones((4, 2))), bias="abc"),
        ParameterError,
        ["'x->y': bias", "'abc'"],
    ),
    (
        "projection bias nan",
        lambda: _with(
            mlp(), lambda n: n.connect("x", "y", Dense(np.ones((4, 2))), bias=[0, np.nan])
        ).validate(),
        ParameterError,
        ["'x->y': bias", "non-finite"],
    ),
    (
        "projection bias length",
        lambda: _with(
            mlp(), lambda n: n.connect("x", "y", Dense(np.ones((4, 2))), bias=np.ones(3))
        ).validate(),
        ShapeError,
        ["'x->y'", "3 values", "2 entries"],
    ),
    ("dense str", lambda: Dense("abc"), ParameterError, ["dense weight", "dtype", "numeric"]),
    ("dense 1-D", lambda: Dense(np.ones(3)), ShapeError, ["dense weight", "(3,)", "2 dimensions"]),
    (
        "dense ragged",
        lambda: Dense([[1.0, 2.0], [1.0]]),
        ParameterError,
        ["dense weight", "list", "ragged"],
    ),
    (
        "dense nan",
        lambda: _with(
            mlp(),
            lambda n: setattr(n.projections["h->y"], "weights", Dense(np.full((3, 2), np.nan))),
        ).validate(),
        ParameterError,
        ["'h->y'", "non-finite", "nan"],
    ),
    (
        "dense inf",
        lambda: _with(
            mlp(),
            lambda n: setattr(n.projections["h->y"], "weights", Dense(np.full((3, 2), -np.inf))),
        ).validate(),
        ParameterError,
        ["'h->y'", "non-finite"],
    ),
    (
        "sparse indptr decreasing",
        lambda: Sparse([0, 3, 1, 4], [0, 1, 2, 0], np.ones(4), 3),
        ShapeError,
        ["non-decreasing", "indptr[1] == 3", "indptr[2] == 1"],
    ),
    (
        "sparse indptr end",
        lambda: Sparse([0, 1, 3], [0, 1, 2, 0], np.ones(4), 3),
        ShapeError,
        ["ends at 3", "nnz == 4"],
    ),
    (
        "sparse indptr start",
        lambda: Sparse([1, 2], [0], np.ones(1), 3),
        ShapeError,
        ["starts at 1", "start at 0"],
    ),
    (
        "sparse indices range",
        lambda: Sparse([0, 1, 2], [0, 3], np.ones(2), 3),
        ShapeError,
        ["[0, 3)", "[0, 3]"],
    ),
    (
        "sparse data length",
        lambda: Sparse([0, 1, 2], [0, 1], np.ones(3), 3),
        ShapeError,
        ["indices (2)", "data (3)"],
    ),
    (
        "sparse indptr str",
        lambda: Sparse(["a", "b"], [0], np.ones(1), 3),
        ParameterError,
        ["sparse indptr", "integers"],
    ),
    (
        "sparse indices fraction",
        lambda: Sparse([0, 1], [0.5], np.ones(1), 3),
        ParameterError,
        ["sparse indices", "integers"],
    ),
    (
        "sparse width str",
        lambda: Sparse([0, 1], [0], np.ones(1), "w"),
        ParameterError,
        ["sparse width == 'w'"],
    ),
    (
        "conv groups",
        lambda: Conv2d(np.ones((3, 1, 3, 3)), (2, 5, 5), groups=2),
        ShapeError,
        ["groups == 2", "C_out == 3"],
    ),
    (
        "conv kernel too big",
        lambda: Conv2d(np.ones((1, 1, 7, 7)), (1, 5, 5)),
        ShapeError,
        ["7x7", "does not fit"],
    ),
    (
        "conv stride 0",
        lambda: Conv2d(np.ones((1, 1, 3, 3)), (1, 5, 5), stride=0),
        ParameterError,
        ["stride == (0, 0)", ">= 1"],
    ),
    (
        "conv stride str",
        lambda: Conv2d(np.ones((1, 1, 3, 3)), (1, 5, 5), stride="a"),
        ParameterError,
        ["conv2d stride == 'a'", "pair of ints"],
    ),
    (
        "conv in_shape str",
        lambda: Conv2d(np.ones((1, 1, 3, 3)), ("a", 5, 5)),
        ShapeError,
        ["in_shape", "'a'"],
    ),
    (
        "conv groups str",
        lambda: Conv2d(np.ones((1, 1, 3, 3)), (1, 5, 5), groups="g"),
        ParameterError,
        ["conv2d groups == 'g'"],
    ),
    (
        "conv weight 3-D",
        lambda: Conv2d(np.ones((1, 3, 3)), (1, 5, 5)),
        ShapeError,
        ["conv2d weight", "4 dimensions"],
    ),
    (
        "projection delay set after construction",
        lambda: _with(mlp(), lambda n: setattr(n.projections["h->y"], "delay", 10**9)).validate(),
        ParameterError,
        ["'h->y'", "delay == 1000000000", "<= 65535"],
    ),
    # -- networks --------------------------------------------------------------------------
    (
        "net weight shape",
        lambda: _with(
            mlp(), lambda n: n.connect("x", "y", Dense(np.ones((5, 2))), name="bad")
        ).validate(),
        ShapeError,
        ["'bad'", "5 pre-synaptic", "'x' has 4"],
    ),
    (
        "net port width",
        lambda: _with(
            mlp(), lambda n: n.connect("x", "y", Dense(np.ones((4, 3))), name="w")
        ).validate(),
        ShapeError,
        ["'w'", "3 values", "2 wide"],
    ),
    (
        "net unknown port",
        lambda: _with(
            mlp(), lambda n: n.connect("x", "h", Dense(np.ones((4, 3))), port="rec")
        ).validate(),
        PortError,
        ["no port 'rec'", "['input']"],
    ),
    (
        "net zero-delay cycle",
        lambda: _with(
            mlp(), lambda n: n.connect("y", "h", Dense(np.ones((2, 3))), name="back")
        ).validate(),
        CycleError,
        ["'back'", "delay >= 1"],
    ),
    (
        "net unknown population",
        lambda: _with(mlp(), lambda n: n.connect("x", "nope", Dense(np.ones((4, 2))))).validate(),
        ValidationError,
        ["'nope'", "does not exist"],
    ),
    (
        "net duplicate name",
        lambda: mlp().add_population("h", (3,), FATReLU()),
        ValidationError,
        ["'h'", "used twice"],
    ),
    ("net no inputs", _net_without_inputs, ValidationError, ["'noin'", "no input population"]),
    ("net empty", lambda: Network(name="e").validate(), ValidationError, ["'e'", "no populations"]),
    (
        "net output unknown",
        lambda: Network(mlp().populations.values(), outputs=["z"], name="o").validate(),
        ValidationError,
        ["output 'z'", "not a population"],
    ),
    (
        "metadata ndarray item",
        lambda: _set(mlp(), "a", np.ones(3)),
        ValidationError,
        ["'mlp'", "metadata['a']", "ndarray", "JSON"],
    ),
    (
        "metadata ndarray init",
        lambda: Network(name="m", metadata={"w": np.ones(2)}),
        ValidationError,
        ["'m'", "metadata['w']", "ndarray"],
    ),
    ("metadata key int", lambda: _set(mlp(), 1, "x"), ValidationError, ["metadata key 1", "str"]),
    (
        "metadata not dict",
        lambda: Network(name="m", metadata=[1, 2]),
        ValidationError,
        ["metadata is a list", "dict"],
    ),
    (
        "metadata update",
        lambda: mlp().metadata.update(b=object()),
        ValidationError,
        ["metadata['b']", "object"],
    ),
    ("metadata mutated in place", _mutated_metadata, ValidationError, ["metadata['a']", "list"]),
    # -- run inputs -------------------------------------------------------------------------
    (
        "input ragged",
        lambda: run_ref(mlp(), [[1, 2, 3, 4], [1, 2]]),
        InputError,
        ["input 'x'", "list", "rectangular"],
    ),
    (
        "input shape",
        lambda: run_ref(mlp(), np.ones((2, 5))),
        InputError,
        ["input 'x'", "(2, 5)", "expected"],
    ),
    (
        "input str dtype",
        lambda: run_ref(mlp(), np.array([["a"] * 4])),
        InputError,
        ["input 'x'", "dtype", "numeric"],
    ),
    (
        "input nan",
        lambda: run_ref(mlp(), np.full((1, 4), np.nan)),
        InputError,
        ["input 'x'", "non-finite"],
    ),
    (
        "input unknown name",
        lambda: run_ref(mlp(), {"x": X, "q": X}),
        InputError,
        ["unknown: ['q']"],
    ),
    (
        "input missing name",
        lambda: run_ref(two_inputs(), {"a": np.ones((1, 2))}),
        InputError,
        ["missing: ['b']"],
    ),
    (
        "input bare array, two inputs",
        lambda: run_ref(two_inputs(), np.ones((1, 2))),
        InputError,
        ["2 input populations", "dict"],
    ),
    (
        "input batch mismatch",
        lambda: run_ref(two_inputs(), {"a": np.ones((1, 2)), "b": np.ones((2, 2))}),
        InputError,
        ["batch size", "[1, 2]"],
    ),
    (
        "input zero batch",
        lambda: run_ref(mlp(), np.ones((0, 4))),
        InputError,
        ["batch size", "[0]"],
    ),
    ("steps 0", lambda: run_ref(mlp(), X, steps=0), InputError, ["steps == 0", ">= 1"]),
    ("steps fraction", lambda: run_ref(mlp(), X, steps=1.5), InputError, ["steps == 1.5"]),
    ("steps str", lambda: run_ref(mlp(), X, steps="abc"), InputError, ["steps == 'abc'"]),
    (
        "steps vs series",
        lambda: run_ref(mlp(), np.ones((3, 1, 4)), steps=2),
        InputError,
        ["steps == 2", "3 steps"],
    ),
    (
        "record unknown",
        lambda: run_ref(mlp(), X, record=["zz"]),
        InputError,
        ["cannot record 'zz'"],
    ),
    (
        "record_steps",
        lambda: run_ref(mlp(), X, record_steps="some"),
        InputError,
        ["record_steps == 'some'", "'last'"],
    ),
    (
        "token out of range",
        lambda: run_ref(tokens(), np.array([5])),
        InputError,
        ["'t'", "id 5", "[0, 5)"],
    ),
    (
        "token float",
        lambda: run_ref(tokens(), np.array([1.5])),
        InputError,
        ["'t'", "float64", "integer"],
    ),
    (
        "initial_state str",
        lambda: run_ref(mlp(), X, initial_state="abc"),
        InputError,
        ["initial_state is a str", "final_state"],
    ),
    (
        "initial_state unknown population",
        lambda: run_ref(mlp(), X, initial_state={"zz": {}}),
        InputError,
        ["['zz']", "'mlp'"],
    ),
    (
        "initial_state entry int",
        lambda: run_ref(mlp(), X, initial_state={"h": 3}),
        InputError,
        ["initial_state['h']", "int", "'history'"],
    ),
    (
        "initial_state history str",
        lambda: run_ref(recurrent(), X, initial_state={"y": {"history": "abc"}}),
        InputError,
        ["initial_state['y']['history']", "str"],
    ),
    (
        "initial_state history shape",
        lambda: run_ref(recurrent(), X, initial_state={"y": {"history": [np.ones((2, 2))]}}),
        InputError,
        ["'y'", "(1, 2)", "(2, 2)"],
    ),
    (
        "initial_state history object",
        lambda: run_ref(recurrent(), X, initial_state={"y": {"history": [None]}}),
        InputError,
        ["['history'][0]", "NoneType", "numeric"],
    ),
    (
        "initial_state state shape",
        lambda: run_ref(
            recurrent(),
            X,
            initial_state={"y": {"history": [np.zeros((1, 2))], "state": {"v": np.zeros(3)}}},
        ),
        InputError,
        ["['state']['v']", "(3,)", "(1, 2)"],
    ),
    (
        "initial_state state key",
        lambda: run_ref(
            recurrent(),
            X,
            initial_state={"y": {"history": [np.zeros((1, 2))], "state": {"c": np.zeros((1, 2))}}},
        ),
        InputError,
        ["['c']", "keeps ['v']"],
    ),
    (
        "initial_state state nan",
        lambda: run_ref(
            recurrent(),
            X,
            initial_state={
                "y": {"history": [np.zeros((1, 2))], "state": {"v": np.full((1, 2), np.nan)}}
            },
        ),
        InputError,
        ["['state']['v']", "non-finite"],
    ),
    (
        "initial_state extra key",
        lambda: run_ref(mlp(), X, initial_state={"h": {"hist": []}}),
        InputError,
        ["['hist']", "'state' and 'history'"],
    ),
    ("backend unknown", lambda: neuro.run(mlp(), X, backend="gpu"), BackendError, ["'gpu'"]),
    (
        "backend option unknown",
        lambda: neuro.run(mlp(), X, backend="reference", dtype="float32"),
        BackendError,
        ["'reference'", "['dtype']"],
    ),
    (
        "cpu dtype",
        lambda: neuro.run(mlp(), X, backend="cpu", dtype="int8"),
        BackendError,
        ["dtype == 'int8'", "float32"],
    ),
    (
        "cpu threads",
        lambda: neuro.run(mlp(), X, backend="cpu", threads=0),
        BackendError,
        ["threads == 0", ">= 1"],
    ),
    (
        "run a non-network",
        lambda: neuro.run("net.h5", X),
        InputError,
        ["neuro.run", "str", "Network"],
    ),
    (
        "save a non-network",
        lambda: neuro.save({"a": 1}, "/nonexistent/n.h5"),
        ValidationError,
        ["neuro.save", "dict", "Network"],
    ),
    (
        "complementary packed str",
        lambda: neuro.Complementary("abc", [0], 1, 2),
        ParameterError,
        ["complementary packed weights == 'abc'", "numeric"],
    ),
    (
        "complementary n_kernels str",
        lambda: neuro.Complementary(np.ones((2, 1)), np.zeros((2, 1)), "k", 2),
        ParameterError,
        ["complementary n_kernels == 'k'"],
    ),
    (
        "complementary kernel_ids fraction",
        lambda: neuro.Complementary(np.ones((2, 1)), np.full((2, 1), 0.5), 1, 2),
        ParameterError,
        ["complementary kernel_ids", "integers"],
    ),
    # -- resource limits --------------------------------------------------------------------
    (
        "steps 1e12 recorded",
        lambda: neuro.run(mlp(), X, steps=10**12),
        ResourceError,
        ["'mlp'", "TiB", "'y'", "1000000000000 steps", "record_steps='last'", "initial_state"],
    ),
    (
        "batch x steps over budget",
        lambda: run_ref(mlp(), np.ones((1000, 4)), steps=1000, memory_budget="1MB"),
        ResourceError,
        ["1000 steps × batch 1000", "memory_budget=", "record_steps='last'"],
    ),
    (
        "delay ring over budget",
        lambda: run_ref(
            _with(
                mlp(),
                lambda n: n.connect("x", "y", Dense(np.ones((4, 2))), delay=60000, name="slow"),
            ),
            np.ones((64, 4)),
            memory_budget="10MB",
        ),
        ResourceError,
        ["'x'", "delay ring buffer of 60001 steps", "batch 64", "shorten the delay"],
    ),
    (
        "memory budget str",
        lambda: run_ref(mlp(), X, memory_budget="lots"),
        ParameterError,
        ["memory_budget == 'lots'", "4GB"],
    ),
    (
        "memory budget negative",
        lambda: run_ref(mlp(), X, memory_budget=-5),
        ParameterError,
        ["memory_budget == -5", "> 0"],
    ),
    (
        "memory budget unit",
        lambda: run_ref(mlp(), X, memory_budget="3 parsecs"),
        ParameterError,
        ["'3 parsecs'"],
    ),
]


@pytest.mark.parametrize("action, error, parts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_typed_error(action, error, parts):
    with pytest.raises(NeuroError) as info:
        action()
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_case_count():
    assert len(CASES) + len(FILE_CASES) + len(ENV_CASES) >= 80


def test_indptr_message_does_not_contradict_itself():
    with pytest.raises(ShapeError) as info:
        Sparse([0, 3, 1, 4], [0, 1, 2, 0], np.ones(4), 3)
    assert "ends at 4" not in str(info.value)


def test_kwta_k_equal_units_runs():
    x = np.array([[1.0, -2.0, 3.0, 0.5]])
    out = run_ref(single(KWTA(4), 4), x).outputs
    np.testing.assert_array_equal(out, x)


# -- environment ---------------------------------------------------------------------------


def _env_budget_bad(monkeypatch):
    monkeypatch.setenv("NEURO_MEMORY_BUDGET", "abc")
    run_ref(mlp(), X)


def _env_budget_small(monkeypatch):
    monkeypatch.setenv("NEURO_MEMORY_BUDGET", "100")
    run_ref(mlp(), np.ones((10, 4)), steps=10)


def _mapping_budget(monkeypatch):
    pytest.importorskip("scipy")
    net = Network(name="wide")
    net.add_population("x", (64,), Input())
    net.add_population("y", (64,), Readout())
    net.connect("x", "y", Dense(np.ones((64, 64))))
    monkeypatch.setenv("NEURO_MEMORY_BUDGET", "2KB")
    neuro.run(net, np.ones((1, 64)), backend="cores", hardware="loihi")


ENV_CASES = [
    ("env budget not a size", _env_budget_bad, ParameterError, ["NEURO_MEMORY_BUDGET", "'abc'"]),
    ("env budget too small", _env_budget_small, ResourceError, ["$NEURO_MEMORY_BUDGET", "100 B"]),
    (
        "mapping tables over budget",
        _mapping_budget,
        ResourceError,
        ["mapping onto cores", "4096 synapses", "'x->y'"],
    ),
]


@pytest.mark.parametrize(
    "action, error, parts", [c[1:] for c in ENV_CASES], ids=[c[0] for c in ENV_CASES]
)
def test_environment_limits(monkeypatch, action, error, parts):
    with pytest.raises(NeuroError) as info:
        action(monkeypatch)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    for part in parts:
        assert part in str(info.value), f"{part!r} not in {str(info.value)!r}"


def test_delay_within_limit_and_budget_runs():
    net = mlp()
    net.connect("x", "y", Dense(np.ones((4, 2))), delay=3, name="slow")
    out = run_ref(net, np.ones((5, 1, 4)), memory_budget="1GB").outputs
    assert out.shape == (5, 1, 2)


# -- files ---------------------------------------------------------------------------------


def _saved(tmp_path):
    return neuro.save(mlp(), tmp_path / "net.h5")


def _attr(path, key, value):
    with h5py.File(path, "r+") as f:
        f.attrs[key] = value
    return path


def _change_weight(path):
    with h5py.File(path, "r+") as f:
        f["projections/000000/weights/weight"][0, 0] = 7.0
    return path


def _temp_left(tmp_path):
    path = _saved(tmp_path)
    tmp = tmp_path / ".net.h5.tmp"
    tmp.write_bytes(path.read_bytes()[:100])
    path.unlink()
    return path


FILE_CASES = [
    (
        "save into missing directory",
        lambda p: neuro.save(mlp(), p / "nope" / "n.h5"),
        PathError,
        ["n.h5", "'{p}/nope' does not exist"],
    ),
    (
        "save onto a directory",
        lambda p: neuro.save(mlp(), p),
        PathError,
        ["'{p}'", "is a directory"],
    ),
    (
        "save under a file",
        lambda p: neuro.save(mlp(), _saved(p) / "n.h5"),
        PathError,
        ["net.h5", "is a file"],
    ),
    (
        "save metadata mutated",
        lambda p: neuro.save(_bad_meta(), p / "n.h5"),
        ValidationError,
        ["metadata['a']"],
    ),
    (
        "save to a non-path",
        lambda p: neuro.save(mlp(), None),
        PathError,
        ["network file == None", "file path"],
    ),
    (
        "load a non-path",
        lambda p: neuro.load(3),
        FileFormatError,
        ["network file == 3", "file path"],
    ),
    (
        "load missing",
        lambda p: neuro.load(p / "absent.h5"),
        FileFormatError,
        ["absent.h5", "no such file"],
    ),
    ("load directory", lambda p: neuro.load(p), FileFormatError, ["is a directory"]),
    (
        "load text file",
        lambda p: neuro.load(_text(p)),
        FileFormatError,
        ["t.h5", "not a readable HDF5 file"],
    ),
    (
        "load empty file",
        lambda p: neuro.load(_empty(p)),
        FileFormatError,
        ["e.h5", "not a readable HDF5 file"],
    ),
    (
        "load foreign hdf5",
        lambda p: neuro.load(_foreign(p)),
        FileFormatError,
        ["not a neuro network"],
    ),
    (
        "schema_version str",
        lambda p: neuro.load(_attr(_saved(p), "schema_version", "abc")),
        FileFormatError,
        ["schema_version attribute == 'abc'", "integer"],
    ),
    (
        "schema_version float",
        lambda p: neuro.load(_attr(_saved(p), "schema_version", 1.5)),
        FileFormatError,
        ["schema_version attribute == 1.5", "integer"],
    ),
    (
        "schema_version array",
        lambda p: neuro.load(_attr(_saved(p), "schema_version", [1, 2])),
        FileFormatError,
        ["schema_version attribute", "integer"],
    ),
    (
        "schema_version newer",
        lambda p: neuro.load(_attr(_saved(p), "schema_version", 99)),
        FileFormatError,
        ["schema version 99", "upgrade neuro"],
    ),
    (
        "unknown root attribute",
        lambda p: neuro.load(_attr(_saved(p), "chacksum", "x")),
        FileFormatError,
        ["unknown attributes ['chacksum']"],
    ),
    (
        "checksum mismatch",
        lambda p: neuro.load(_change_weight(_saved(p))),
        FileFormatError,
        ["net.h5", "do not match the checksum"],
    ),
    (
        "load interrupted temp file",
        lambda p: neuro.load(_temp_left(p).with_name(".net.h5.tmp")),
        FileFormatError,
        [".net.h5.tmp", "interrupted", "net.h5"],
    ),
    (
        "load target of interrupted save",
        lambda p: neuro.load(_temp_left(p)),
        FileFormatError,
        ["no such file", "interrupted", ".net.h5.tmp"],
    ),
]


def _bad_meta():
    net = mlp()
    net.metadata["a"] = []
    net.metadata["a"].append(np.ones(1))
    return net


def _text(p):
    (p / "t.h5").write_text("hello")
    return p / "t.h5"


def _empty(p):
    (p / "e.h5").write_bytes(b"")
    return p / "e.h5"


def _foreign(p):
    with h5py.File(p / "f.h5", "w") as f:
        f["w"] = np.ones(2)
    return p / "f.h5"


@pytest.mark.parametrize(
    "action, error, parts", [c[1:] for c in FILE_CASES], ids=[c[0] for c in FILE_CASES]
)
def test_bad_file(tmp_path, action, error, parts):
    with pytest.raises(NeuroError) as info:
        action(tmp_path)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    message = str(info.value)
    for part in parts:
        part = part.replace("{p}", str(tmp_path))
        assert part in message, f"{part!r} not in {message!r}"
    if error is PathError:
        assert ".tmp" not in message  # the user's path, not the hidden temporary file
    assert not list(tmp_path.glob(".*.tmp*")) or "interrupted" in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_save_into_read_only_directory(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(PathError, match=r"ro/n\.h5'.*not writable"):
            neuro.save(mlp(), locked / "n.h5")
    finally:
        locked.chmod(0o755)


def test_save_failure_names_the_users_path(tmp_path, monkeypatch):
    """An OS error while writing (a full disk) is reported against the target path."""
    import neuro.io.hdf5 as hdf5

    def full(path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hdf5, "fsync_file", full)
    with pytest.raises(PathError, match=r"net\.h5'.*No space left"):
        neuro.save(mlp(), tmp_path / "net.h5")
    assert list(tmp_path.iterdir()) == []
