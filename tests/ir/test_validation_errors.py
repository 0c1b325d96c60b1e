"""Bad networks and bad inputs raise the documented, typed errors naming the culprit."""

import numpy as np
import pytest

import neuro
from neuro import Conv2d, Dense, FATReLU, Input, Network, Readout, Sparse
from neuro.exceptions import (
    BackendError,
    CycleError,
    InputError,
    ParameterError,
    PortError,
    ShapeError,
    ValidationError,
)


def mlp(threshold=0.1):
    net = Network(name="mlp")
    net.add_population("x", (4,), Input())
    net.add_population("h", (3,), FATReLU(threshold))
    net.add_population("y", (2,), Readout())
    net.connect("x", "h", Dense(np.ones((4, 3))))
    net.connect("h", "y", Dense(np.ones((3, 2))))
    return net


def test_weight_shape_mismatch_names_projection():
    net = mlp()
    net.connect("x", "y", Dense(np.ones((5, 2))), name="bad")
    with pytest.raises(ShapeError, match=r"'bad'.*5 pre-synaptic units.*'x' has 4"):
        net.validate()


def test_port_width_mismatch():
    net = mlp()
    net.connect("x", "y", Dense(np.ones((4, 3))), name="wide")
    with pytest.raises(ShapeError, match=r"'wide'.*produce 3 values.*2 wide"):
        net.validate()


def test_unknown_port():
    net = mlp()
    net.connect("x", "h", Dense(np.ones((4, 3))), port="recurrent")
    with pytest.raises(PortError, match=r"no port 'recurrent'.*\['input'\]"):
        net.validate()


def test_projection_into_input_population():
    net = mlp()
    net.connect("h", "x", Dense(np.ones((3, 4))), delay=1, name="into_input")
    with pytest.raises(PortError, match="into_input"):
        net.validate()


def test_zero_delay_cycle_names_projections():
    net = mlp()
    net.connect("y", "h", Dense(np.ones((2, 3))), name="back")
    with pytest.raises(CycleError, match=r"back.*delay >= 1"):
        net.validate()
    net.projections["back"].delay = 1
    net.validate()  # a delayed loop is fine


def test_nan_and_inf_weights():
    net = mlp()
    w = np.ones((3, 2))
    w[1, 1] = np.nan
    net.projections["h->y"].weights = Dense(w)
    with pytest.raises(ParameterError, match=r"'h->y'.*non-finite.*nan"):
        net.validate()
    net.projections["h->y"].weights = Dense(np.full((3, 2), np.inf))
    with pytest.raises(ParameterError, match="non-finite"):
        net.validate()


def test_nan_bias():
    net = mlp()
    net.projections["h->y"].bias = np.array([0.0, np.nan])
    with pytest.raises(ParameterError, match=r"'h->y': bias"):
        net.validate()


def test_negative_threshold():
    with pytest.raises(ParameterError, match=r"'h'.*threshold == -0.5, must be >= 0"):
        mlp(threshold=-0.5).validate()


def test_per_channel_threshold_of_wrong_length():
    with pytest.raises(ShapeError, match=r"'h'.*one value per channel \(3,\)"):
        mlp(threshold=np.array([0.1, 0.2])).validate()


def test_negative_delay_and_unknown_population():
    net = mlp()
    with pytest.raises(ParameterError, match=r"delay == -1"):
        net.connect("x", "y", Dense(np.ones((4, 2))), delay=-1)
    net.connect("x", "nope", Dense(np.ones((4, 2))))
    with pytest.raises(ValidationError, match=r"post population 'nope' does not exist"):
        net.validate()


def test_duplicate_names():
    net = mlp()
    with pytest.raises(ValidationError, match="used twice"):
        net.add_population("h", (3,), FATReLU(0.0))


def test_bad_population_shape_and_name():
    with pytest.raises(ShapeError, match="positive ints"):
        Network().add_population("z", (0, 3), FATReLU(0.0))
    with pytest.raises(ValidationError, match="without '/'"):
        Network().add_population("a/b", (3,), FATReLU(0.0))


def test_conv_geometry_errors():
    with pytest.raises(ShapeError, match="groups == 2 must divide"):
        Conv2d(np.ones((3, 1, 3, 3)), (2, 5, 5), groups=2)
    with pytest.raises(ShapeError, match="does not fit"):
        Conv2d(np.ones((1, 1, 7, 7)), (1, 5, 5))
    with pytest.raises(ParameterError, match="stride"):
        Conv2d(np.ones((1, 1, 3, 3)), (1, 5, 5), stride=0)


def test_sparse_index_out_of_range():
    with pytest.raises(ShapeError, match=r"indices must lie in \[0, 3\)"):
        Sparse(np.array([0, 1]), np.array([3]), np.array([1.0]), 3)


def test_input_errors():
    net = mlp()
    with pytest.raises(InputError, match=r"input 'x' has shape \(2, 5\)"):
        neuro.run(net, np.ones((2, 5)))
    with pytest.raises(InputError, match="non-finite"):
        neuro.run(net, np.full((1, 4), np.nan))
    with pytest.raises(InputError, match=r"unknown: \['q'\]"):
        neuro.run(net, {"x": np.ones((1, 4)), "q": np.ones((1, 4))})
    with pytest.raises(InputError, match="steps == 0"):
        neuro.run(net, np.ones((1, 4)), steps=0)
    with pytest.raises(InputError, match="cannot record 'zz'"):
        neuro.run(net, np.ones((1, 4)), record=["zz"])


def test_token_out_of_vocabulary():
    net = Network()
    net.add_population("tok", (5,), neuro.TokenInput())
    net.add_population("e", (2,), Readout())
    net.connect("tok", "e", Dense(np.ones((5, 2))))
    with pytest.raises(InputError, match=r"id 5, must lie in \[0, 5\)"):
        neuro.run(net, np.array([[1, 5]]))
    with pytest.raises(InputError, match="integer ids"):
        neuro.run(net, np.array([[1.0, 2.0]]))


def test_unknown_backend_and_option():
    with pytest.raises(BackendError, match=r"unknown backend 'gpu'.*cpu"):
        neuro.run(mlp(), np.ones((1, 4)), backend="gpu")
    with pytest.raises(BackendError, match=r"no option\(s\) \['precision'\]"):
        neuro.run(mlp(), np.ones((1, 4)), precision="half")


def test_errors_share_one_base_class():
    with pytest.raises(neuro.NeuroError):
        mlp(threshold=-1).validate()
