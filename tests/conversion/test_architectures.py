"""Public architectures convert unchanged and match torch, with independent op counts.

Random weights, BatchNorm with non-trivial statistics and affine parameters.  Outputs
are compared with the torch forward (relative error <= 1e-9 in float64, <= 1e-4 in
float32); synops and max-pooling comparisons are counted here from the torch
activations with forward hooks:

* a weight layer (Linear, Conv1d/2d, ConvTranspose2d) costs, per non-zero input unit,
  the non-zero taps it reaches (convolutions of indicator tensors);
* an average pool costs, per non-zero input unit, the windows it enters, as ``pool_ops``
  (not synops); a max pool likewise as comparisons;
* a tensor forwarded unchanged into a population (a residual shortcut, a concatenated
  feature map, a selected half of a channel split, a value read by several layers)
  costs one synop per non-zero unit.  Which tensors are forwarded so follows from the
  architecture and is listed per model below.
"""

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402
from architectures import ARCHITECTURES, MBConvSE  # noqa: E402
from torch import nn  # noqa: E402

import neuro  # noqa: E402
from converters import convert  # noqa: E402
from converters.verify import relative_error  # noqa: E402
from neuro.exceptions import ConversionError  # noqa: E402


def _randomise(model, seed):
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=gen, dtype=torch.float64) * 0.6 - 0.3)
            m.running_var.copy_(torch.rand(c, generator=gen, dtype=torch.float64) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen, dtype=torch.float64) + 0.5)
            m.bias.data.copy_(torch.rand(c, generator=gen, dtype=torch.float64) * 0.4 - 0.2)
    return model.eval()


def _nz(t) -> int:
    return int((t != 0).sum())


def _window_count(x, kernel, stride, padding, dilation, out_len):
    """Σ over non-zero units of the windows containing them (1-d or 2-d)."""
    ind = (x != 0).double()
    nd = ind.dim() - 2
    k = (kernel,) * nd if isinstance(kernel, int) else tuple(kernel)
    s = (stride,) * nd if isinstance(stride, int) else tuple(stride)
    p = (padding,) * nd if isinstance(padding, int) else tuple(padding)
    d = (dilation,) * nd if isinstance(dilation, int) else tuple(dilation)
    extra = []
    for n, kk, ss, pp, dd, o in zip(ind.shape[2:], k, s, p, d, out_len):
        need = (o - 1) * ss + dd * (kk - 1) + 1 - (n + 2 * pp)  # ceil_mode: extra zeros
        extra.append(max(0, need))
    pads = []
    for pp, e in reversed(list(zip(p, extra))):
        pads += [pp, pp + e]
    ind = F.pad(ind, pads)
    ones = torch.ones(ind.shape[1], 1, *k, dtype=torch.float64)
    conv = F.conv1d if nd == 1 else F.conv2d
    out = conv(ind, ones, None, s, 0, d, ind.shape[1])
    out = out[(..., *[slice(0, o) for o in out_len])]
    return int(out.sum())


class Counter:
    """Synops and comparisons of a torch forward (see the module docstring)."""

    def __init__(self, model, forwarded=()):
        self.synops = 0
        self.comparisons = 0
        self.pool_ops = 0  # average pooling: one addition per window an event enters
        self.handles = []
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
                self.handles.append(m.register_forward_hook(self._weights))
            elif isinstance(m, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
                self.handles.append(m.register_forward_hook(self._avg))
            elif isinstance(m, (nn.MaxPool1d, nn.MaxPool2d)):
                self.handles.append(m.register_forward_hook(self._max))
        for module, pick, *kind in forwarded:
            hook = self._forward_hook(pick, kind[0] if kind else "synops")
            self.handles.append(module.register_forward_hook(hook))

    def _forward_hook(self, pick, kind):
        def hook(module, inputs, output):
            for t in pick(inputs, output):
                setattr(self, kind, getattr(self, kind) + _nz(t))

        return hook

    def _weights(self, m, inputs, output):
        x = (inputs[0] != 0).double()
        if isinstance(m, nn.Linear):
            self.synops += int((x @ (m.weight != 0).double().T).sum())
            return
        w = (m.weight != 0).double()
        if isinstance(m, nn.Conv1d):
            out = F.conv1d(x, w, None, m.stride, m.padding, m.dilation, m.groups)
        elif isinstance(m, nn.Conv2d):
            out = F.conv2d(x, w, None, m.stride, m.padding, m.dilation, m.groups)
        else:
            out = F.conv_transpose2d(x, w, None, m.stride, m.padding, m.output_padding,
                                     m.groups, m.dilation)  # fmt: skip
        self.synops += int(out.sum())

    def _avg(self, m, inputs, output):
        x = (inputs[0] != 0).double()
        if isinstance(m, nn.AdaptiveAvgPool2d):
            k = (x.shape[2] // output.shape[2], x.shape[3] // output.shape[3])
            stride, pad = k, 0
        else:
            k, stride, pad = m.kernel_size, m.stride, m.padding
            k = (k, k) if isinstance(k, int) else k
        w = torch.ones(x.shape[1], 1, *k, dtype=torch.float64)
        self.pool_ops += int(F.conv2d(x, w, None, stride, pad, 1, x.shape[1]).sum())

    def _max(self, m, inputs, output):
        self.comparisons += _window_count(inputs[0], m.kernel_size, m.stride, m.padding,
                                          m.dilation, output.shape[2:])  # fmt: skip

    def run(self, model, x):
        with torch.no_grad():
            out = model(x)
        for h in self.handles:
            h.remove()
        return out


def _first(inputs, output):
    return [inputs[0]]


def _out(inputs, output):
    return [output]


def _extra_counts(name, model):
    """(module, pick) pairs of tensors forwarded unchanged, and functional counts."""
    fw, extra = [], []
    if name == "lenet5":  # F.max_pool2d(relu(conv), 2): every unit in one window

        def relu_out(m, inputs, output):
            extra.append(("comparisons", _nz(F.relu(output))))

        fw_hooks = [model.conv1.register_forward_hook(relu_out),
                    model.conv2.register_forward_hook(relu_out)]  # fmt: skip
        return fw, extra, fw_hooks
    if name in ("resnet18", "resnet50"):
        for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
            fw += [(b, _first) for b in layer if b.downsample is None]
    if name == "mobilenet_v2":
        fw += [(b, _first) for b in model.features if getattr(b, "use_res_connect", False)]
        fw.append((model.features, _out, "pool_ops"))  # F.adaptive_avg_pool2d to 1x1
    if name == "shufflenet_v2":
        for unit in (model.stage2[1], model.stage3[1]):
            fw.append((unit.branch2, _first))  # the selected half x2 becomes a population
        # unit outputs read by convolutions (next stride-2 unit, conv5) become populations
        fw += [(model.stage2[1], _out), (model.stage3[1], _out)]
        fw.append((model.conv5, _out, "pool_ops"))  # mean over H, W: one tap per unit
    if name == "densenet":
        for block in (model.block1, model.block2):
            n = len(block.layers)
            for layer in block.layers:  # parts read by norm1: every earlier feature map
                fw.append((layer, lambda inputs, output: list(inputs[0])))
            # the block's concatenation (read by the next BatchNorm-ReLU) forwards every
            # feature map but the last one, whose convolution folds in directly
            fw.append((block.layers[n - 1], lambda inputs, output: list(inputs[0])))
        fw.append((model.norm5, lambda inputs, output: [F.relu(output)], "pool_ops"))  # pool
    if name == "unet":

        def pooled(m, inputs, output):
            extra.append(("comparisons", _nz(output)))

        return fw, extra, [model.enc1.register_forward_hook(pooled),
                           model.enc2.register_forward_hook(pooled)]  # fmt: skip
    return fw, extra, []


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_converts_unchanged_and_counts(name):
    cls, shape = ARCHITECTURES[name]
    torch.manual_seed(sum(map(ord, name)))
    model = _randomise(cls().double(), 1)
    x = torch.randn(2, *shape, dtype=torch.float64)
    fw, extra, hooks = _extra_counts(name, model)
    counter = Counter(model, fw)
    want = counter.run(model, x).numpy()
    for h in hooks:
        h.remove()
    result = neuro.convert_and_run(model, x, backend="cpu")  # verified against torch
    assert relative_error(result.outputs, want) <= 1e-9
    synops = counter.synops + sum(v for k, v in extra if k == "synops")
    comparisons = counter.comparisons + sum(v for k, v in extra if k == "comparisons")
    assert result.counts.synops == synops
    assert result.counts.comparisons == comparisons
    assert result.counts.pool_ops == counter.pool_ops
    if name in ("lenet5", "resnet18", "squeezenet1_0", "unet"):
        ref = neuro.run(result.network, x.numpy(), backend="reference")
        assert ref.counts == result.counts
        assert relative_error(ref.outputs, want) <= 1e-9


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_in_float32(name):
    cls, shape = ARCHITECTURES[name]
    torch.manual_seed(3)
    model = _randomise(cls().double(), 2).float()
    x = torch.randn(3, *shape)
    result = neuro.convert_and_run(model, x)
    assert result.info["dtype"] == "float32"
    with torch.no_grad():
        assert relative_error(result.outputs, model(x).numpy()) <= 1e-4


def test_efficientnet_block_is_refused_by_the_activation_policy():
    """EfficientNet-B0's MBConv (SiLU, sigmoid squeeze-excitation) does not convert: the
    error lists every offending operation at once and says why."""
    with pytest.raises(ConversionError) as err:
        convert(MBConvSE().eval(), example_input=torch.zeros(2, 8, 6, 6))
    first = str(err.value).splitlines()[0]
    for what in ("expand.2", "depthwise.2", "F.silu", "torch.sigmoid", "not zero-preserving"):
        assert what in first
    assert "calibrate_thresholds" in str(err.value)
