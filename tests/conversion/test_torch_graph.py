"""The torch graph converter: outputs equal the torch forward, synops equal an
independent count computed here from the torch activations."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from neuro.exceptions import ConversionError  # noqa: E402
from neuro.torch import FATReLU  # noqa: E402


class SparsemlLikeFATReLU(nn.Module):
    """Shaped like sparseml's FATReLU: a ``threshold`` parameter, channels on axis 1."""

    def __init__(self, threshold):
        super().__init__()
        self.threshold = nn.Parameter(torch.as_tensor(threshold, dtype=torch.float64))

    def forward(self, x):
        theta = self.threshold.reshape(-1, *([1] * (x.dim() - 2))) if self.threshold.dim() else 0
        theta = self.threshold if self.threshold.dim() == 0 else theta
        return x * (x >= theta).to(x.dtype)


def _randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen, dtype=torch.float64) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen, dtype=torch.float64) * 0.1)
    return model.eval()


class SynopCounter:
    """Independent synop count: Σ over non-zero inputs of the non-zero weights they reach.

    Forward hooks record the input of every weight-carrying module (these inputs are
    ReLU/FATReLU outputs or the model input); convolutions count with a convolution
    of indicator tensors.  Average pooling is not synaptic: its taps go to ``pool_ops``.
    """

    def __init__(self, model):
        self.total = 0
        self.pool_ops = 0
        self.handles = [
            m.register_forward_hook(self._hook)
            for m in model.modules()
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d))
        ]

    def _hook(self, module, inputs, output):
        x = (inputs[0] != 0).double()
        if isinstance(module, nn.Linear):
            self.total += int((x @ (module.weight != 0).double().T).sum())
        elif isinstance(module, nn.Conv2d):
            w = (module.weight != 0).double()
            ind = F.conv2d(x, w, None, module.stride, module.padding, 1, module.groups)
            self.total += int(ind.sum())
        else:  # average pooling: one addition per tap (pool_ops, not synops)
            if isinstance(module, nn.AdaptiveAvgPool2d):
                k = (x.shape[2], x.shape[3])
                stride, pad = k, 0
            else:
                k, stride, pad = module.kernel_size, module.stride, module.padding
            kh, kw = (k, k) if isinstance(k, int) else k
            w = torch.ones(x.shape[1], 1, kh, kw, dtype=torch.float64)
            self.pool_ops += int(F.conv2d(x, w, None, stride, pad, 1, x.shape[1]).sum())

    def count(self, model, x, identity_of=()):
        """Run ``model`` on ``x``; also count shortcut synops into ``identity_of`` blocks."""
        handles = [
            m.register_forward_hook(lambda m, inp, out: self.add_identity(inp[0]))
            for m in identity_of
        ]
        with torch.no_grad():
            model(x)
        for h in self.handles + handles:
            h.remove()
        return self.total

    def add_identity(self, x):
        """A shortcut projection: one synop per non-zero input."""
        self.total += int((x != 0).sum())


def _check(model, x, expected_synops, backend="cpu"):
    result = neuro.convert_and_run(model, x, backend=backend)
    with torch.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(result.outputs, want, atol=1e-5, rtol=0)
    assert result.counts.synops == expected_synops
    assert result.network is not None and result.audit().to_dict()["totals"]["synops"] > 0
    return result


def test_random_mlps_match_torch_and_counts():
    gen = torch.Generator().manual_seed(1)
    for trial in range(4):
        torch.manual_seed(trial)
        n_in, n_h1, n_h2 = 6 + trial, 12 + 3 * trial, 9
        model = nn.Sequential(
            nn.Linear(n_in, n_h1),
            nn.BatchNorm1d(n_h1),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(n_h1, n_h2, bias=bool(trial % 2)),
            FATReLU(torch.rand(n_h2, generator=gen) * 0.3),
            nn.Identity(),
            nn.Linear(n_h2, 4),
        ).double()
        with torch.no_grad():  # a weight-sparse middle layer: stored as CSR
            model[4].weight.mul_((torch.rand(model[4].weight.shape, generator=gen) < 0.3).double())
        _randomise_bn(model, gen)
        x = torch.randn(11, n_in, generator=gen, dtype=torch.float64)
        x[x.abs() < 0.4] = 0  # some silent inputs
        result = _check(model, x, SynopCounter(model).count(model, x))
        kinds = {p.weights.type for p in result.network.projections.values()}
        assert "sparse" in kinds and "dense" in kinds
        assert result.network.populations[result.network.outputs[0]].model.type == "readout"


class SmallCNN(nn.Module):
    def __init__(self, gen):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False),
            nn.BatchNorm2d(8),
            SparsemlLikeFATReLU(torch.rand(8, generator=gen) * 0.3),
            nn.Conv2d(8, 6, (3, 2), stride=(2, 1), padding=(1, 0)),
            FATReLU(0.05),
            nn.AvgPool2d(2),
        )
        self.flat = nn.Flatten()
        self.fc = nn.Linear(6 * 2 * 3, 5)

    def forward(self, x):
        return self.fc(self.flat(self.features(x)))


def test_cnn_stride_padding_groups_batchnorm():
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    model = _randomise_bn(SmallCNN(gen).double(), gen)
    x = torch.randn(3, 3, 16, 16, generator=gen, dtype=torch.float64)
    counter = SynopCounter(model)
    result = _check(model, x, counter.count(model, x))
    assert result.counts.pool_ops == counter.pool_ops > 0
    net = result.network
    # BatchNorm folded: no population for it; the pooling became a depthwise conv relay
    assert not any("BatchNorm" in n or n.startswith("features.1") for n in net.populations)
    assert net.populations["features.5"].model.threshold.shape == (8,)
    pool = net.projections["features.7->features.8"].weights
    assert pool.type == "conv2d" and pool.groups == 6


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, threshold):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = FATReLU(threshold)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        out += identity
        return F.relu(out)


class TinyResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(2, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block1 = BasicBlock(8, 8, 1, 0.1)
        self.block2 = BasicBlock(8, 12, 2, 0.2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.fc(torch.flatten(self.pool(x), 1))


def test_residual_blocks_identity_and_downsample():
    gen = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    model = _randomise_bn(TinyResNet().double(), gen)
    x = torch.randn(2, 2, 8, 8, generator=gen, dtype=torch.float64)
    expected = SynopCounter(model).count(model, x, identity_of=[model.block1])
    result = _check(model, x, expected)
    net = result.network
    # the residual sum is one population receiving the folded conv and the shortcut
    into_block1 = {p.pre: p.weights.type for p in net.incoming("block1")}
    assert into_block1 == {"block1.act1": "conv2d", "stem.2": "sparse"}
    into_block2 = sorted(p.weights.type for p in net.incoming("block2"))
    assert into_block2 == ["conv2d", "conv2d"]
    # the shortcut is an element-wise add, not a layer: one dense operation per unit
    (shortcut,) = [p for p in net.incoming("block1") if p.weights.type == "sparse"]
    assert shortcut.role == "shortcut"
    counted = result.counts.projections[shortcut.name]
    n_units = x.shape[0] * net.populations[shortcut.pre].size
    assert counted.dense_macs == counted.weight_sparse_macs == n_units  # not n_units * size
    pre_out = neuro.run(net, x.numpy(), record=[shortcut.pre]).recordings[shortcut.pre]
    assert counted.activity_sparse_macs == counted.synops == np.count_nonzero(pre_out)
    # the reference backend agrees on outputs and counts
    ref = neuro.run(net, x.numpy(), backend="reference")
    np.testing.assert_allclose(ref.outputs, result.outputs, atol=1e-9)
    assert ref.counts == result.counts


def test_float32_model_runs_in_float32():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 2)).eval()
    x = torch.randn(4, 5)
    result = neuro.convert_and_run(model, x)
    assert result.info["dtype"] == "float32"
    np.testing.assert_allclose(result.outputs, model(x).detach().numpy(), atol=1e-5)


def test_saved_network_round_trip(tmp_path):
    gen = torch.Generator().manual_seed(5)
    model = _randomise_bn(TinyResNet().double(), gen)
    x = torch.randn(2, 2, 8, 8, generator=gen, dtype=torch.float64)
    net = convert(model, example_input=x)
    path = neuro.save(net, tmp_path / "resnet.h5")
    loaded = neuro.load(path)
    assert {p.name: p.role for p in loaded.projections.values()} == {
        p.name: p.role for p in net.projections.values()
    }
    assert "shortcut" in {p.role for p in net.projections.values()}
    again = neuro.run(loaded, x.numpy(), dtype="float64")
    with torch.no_grad():
        np.testing.assert_allclose(again.outputs, model(x).numpy(), atol=1e-5)


def test_unsupported_module_names_path_type_and_supported_list():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.ReLU(), nn.Sigmoid())).eval()
    with pytest.raises(ConversionError) as err:
        convert(model, example_input=torch.zeros(2, 4))
    msg = str(err.value)
    assert "'1.1'" in msg and "Sigmoid" in msg
    for name in ("Linear", "Conv2d", "BatchNorm2d", "ReLU", "AvgPool2d", "FATReLU"):
        assert name in msg


def test_unsupported_function_and_training_mode():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return torch.sigmoid(self.fc(x))

    with pytest.raises(ConversionError, match="(?s)torch.sigmoid.*supported functions"):
        convert(Net().eval(), example_input=torch.zeros(2, 3))
    with pytest.raises(ConversionError, match="training mode"):
        convert(Net(), example_input=torch.zeros(2, 3))
    with pytest.raises(ConversionError, match="example_input"):
        convert(Net().eval())


def test_negative_threshold_is_a_conversion_error():
    model = nn.Sequential(nn.Linear(3, 3), nn.Threshold(-0.5, 0.0)).eval()
    with pytest.raises(ConversionError, match="'1'.*threshold"):
        convert(model, example_input=torch.zeros(2, 3))


class FunctionalNet(nn.Module):
    """Functional calls, BatchNorm on the input and a Linear after a Linear (relays)."""

    def __init__(self):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(2)
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.fc1 = nn.Linear(4 * 3 * 3, 6)
        self.fc2 = nn.Linear(6, 5)

    def forward(self, x):
        x = F.relu(self.conv(self.bn0(x)))
        x = F.avg_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        return self.fc2(self.fc1(x))


def test_functional_calls_and_relays():
    gen = torch.Generator().manual_seed(6)
    torch.manual_seed(6)
    model = _randomise_bn(FunctionalNet().double(), gen)
    x = torch.randn(3, 2, 6, 6, generator=gen, dtype=torch.float64)
    # the BatchNorm on the input folds into the convolution after it (its shift becomes
    # a per-unit bias; the input is non-zero everywhere, as is bn0(x)); pooling and fc1
    # feed relays
    expected = SynopCounter(model).count(model, x)
    with torch.no_grad():  # 2x2/2 pooling: each non-zero ReLU output reaches one tap
        pooled = int((F.relu(model.conv(model.bn0(x))) != 0).sum())
    result = _check(model, x, expected)
    assert result.counts.pool_ops == pooled  # pooling: additions, not synops
    net = result.network
    relays = {n for n, p in net.populations.items() if p.model.type == "readout"}
    assert relays == {"avg_pool2d", "fc1", "fc2"}
    assert [p.weights.type for p in net.outgoing("x")] == ["conv2d"]
    assert net.outputs == ["fc2"]
