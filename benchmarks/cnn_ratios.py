"""CNNs beside torch: MobileNetV2, VGG-11, the digits CNN and the GSC complementary network.

Per call, the wall time a user waits for, of the ``cpu`` event backend beside the torch
forward of the same model at the same thread count (numba, BLAS and torch limited to
``--threads``), batch 1 unless stated:

* **MobileNetV2** (Sandler et al., 2018), the torchvision layout: width 1.0, 224x224
  input, a 3x3/2 stem, 17 inverted residual blocks (1x1 expansion, 3x3 depthwise, 1x1
  linear bottleneck, a shortcut where shape allows), a 1x1 conv to 1280 channels,
  global average pooling and a 1000-way classifier.  The published model uses ReLU6;
  here every ReLU6 is replaced by a FATReLU, as Kurtz et al. (2020) replace ReLU, with
  a per-layer threshold at the quantile that lets about ``--activity`` of the units fire
  on a random input.  The ReLU6 form (converted to a clipped FATReLU, which the compiled
  engine does not run: it falls back to the step-by-step engine) is timed once apart,
  informative, so its cost is visible.
* **VGG-11** (Simonyan & Zisserman, 2015, configuration A), the torchvision layout with
  BatchNorm: eight 3x3 convolutions (64-128-256-256-512-512-512-512 channels), five 2x2
  max poolings, adaptive average pooling to 7x7 and the 4096-4096-1000 classifier; same
  treatment (its published activation, ReLU, timed once apart: FATReLU with θ = 0).
* **the digits CNN of** ``neuro demo``: trained and calibrated as the demo does (its
  split, epochs and accuracy budget), at batch 1 and at the demo's batch (its test
  split).
* **the Complementary-Sparsity GSC network** of ``examples/gsc_complementary.py`` (its
  ``build``; packed complementary weights, k-WTA with 10 % winners), beside a torch
  forward of the same network: dense convolutions and matrix products with the same
  weights and a per-sample top-k over each layer, equal scores won by the lower unit
  index as the neuro KWTA model breaks them; the outputs are checked to agree first.

Both neuro calls are timed: ``program.run(x)`` of ``neuro.compile(network)`` and
``neuro.run(network, x)`` (which keeps a compiled program on the network).  Weights are
random (Kaiming-normal convolutions, BatchNorm statistics from random batches, folded
into the convolutions by the converter), except for the trained digits CNN.  Every figure
is the median with the min-max of ``--rounds`` (>= 5) calls after one untimed warm-up
call on each side (torch warm); the load average before and after is printed.  Each model
is checked against torch before timing: the largest logit difference in float64 (must be
within 1e-6 of the largest logit) and in float32 (printed beside torch's own float32 vs
float64 difference).  Also printed: the mean activity of the activation layers (the
unweighted mean of their fractions of units firing) and synops against dense MACs.

Usage::

    python benchmarks/cnn_ratios.py [--threads 1 2] [--rounds 5]
        [--models mobilenetv2 vgg11 digits gsc] [--no-published]
"""

from __future__ import annotations

import copy
import importlib.util
import time
from pathlib import Path

import numpy as np
import torch
from _bench import blas_threads, loadavg, parser, row, timings, write_rows
from resnet18_cpu import set_batchnorm_statistics, set_thresholds
from torch import nn

import neuro
from converters import convert
from neuro.torch import FATReLU

ROOT = Path(__file__).resolve().parent.parent
MODELS = ("mobilenetv2", "vgg11", "digits", "gsc")


# -- models ----------------------------------------------------------------------------
def conv_bn_act(c_in, c_out, kernel, stride, groups, act):
    """Conv (no bias), BatchNorm, activation: torchvision's ``Conv2dNormActivation``."""
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        act(),
    ]


class InvertedResidual(nn.Module):
    """1x1 expansion, 3x3 depthwise, 1x1 linear bottleneck; shortcut at stride 1, same width."""

    def __init__(self, c_in, c_out, stride, expand, act):
        super().__init__()
        hidden = c_in * expand
        layers = [] if expand == 1 else conv_bn_act(c_in, hidden, 1, 1, 1, act)
        layers += conv_bn_act(hidden, hidden, 3, stride, hidden, act)
        layers += [nn.Conv2d(hidden, c_out, 1, bias=False), nn.BatchNorm2d(c_out)]
        self.conv = nn.Sequential(*layers)
        self.shortcut = stride == 1 and c_in == c_out

    def forward(self, x):
        return x + self.conv(x) if self.shortcut else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2, width 1.0 (torchvision's layout); ``act`` is the activation module."""

    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
    SETTINGS += ((6, 160, 3, 2), (6, 320, 1, 1))  # (expansion t, channels c, repeats n, stride s)

    def __init__(self, act=FATReLU, classes: int = 1000):
        super().__init__()
        layers, c_in = conv_bn_act(3, 32, 3, 2, 1, act), 32
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, s if i == 0 else 1, t, act))
                c_in = c
        layers += conv_bn_act(c_in, 1280, 1, 1, 1, act)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class VGG11(nn.Module):
    """VGG-11 with BatchNorm (configuration A, torchvision's ``vgg11_bn`` layout)."""

    CONFIG = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

    def __init__(self, act=FATReLU, classes: int = 1000):
        super().__init__()
        layers, c_in = [], 3
        for v in self.CONFIG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c_in, v, 3, padding=1), nn.BatchNorm2d(v), act()]
                c_in = v
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            act(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            act(),
            nn.Dropout(),
            nn.Linear(4096, classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def imagenet_model(cls, activity: float, seed: int):
    """``cls`` with random weights, BatchNorm statistics and FATReLU thresholds; an input."""
    torch.manual_seed(seed)
    model = cls()
    set_batchnorm_statistics(model, 224)
    x = torch.randn(1, 3, 224, 224)
    set_thresholds(model, x, activity)
    return model, x


def load_example(name: str):
    """A script of ``examples/`` as a module (the examples are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class KWTANet(nn.Module):
    """The GSC network in torch: dense conv / matmul with its weights, per-sample top-k."""

    def __init__(self, ops: dict, k: dict):
        super().__init__()
        self.stride = {n: ops[n].stride for n in ("conv1", "conv2")}
        self.k = k
        for n, op in ops.items():
            self.register_buffer(n, torch.as_tensor(np.asarray(op.weight, np.float32)))

    @staticmethod
    def kwta(a: torch.Tensor, k: int) -> torch.Tensor:
        """Keep the k largest units of each sample; equal values: the lower index wins."""
        flat = a.reshape(a.shape[0], -1)
        kth = torch.topk(flat, k, dim=1, sorted=False).values.amin(1, keepdim=True)
        above, tied = flat > kth, flat == kth
        need = k - above.sum(1, keepdim=True)  # winners still to take among the tied units
        mask = above | (tied & (tied.cumsum(1) <= need))
        return torch.where(mask, flat, 0.0).reshape(a.shape)

    def forward(self, x):
        conv, k, s = nn.functional.conv2d, self.k, self.stride
        a = self.kwta(conv(x, self.conv1, stride=s["conv1"]), k["conv1"])
        a = self.kwta(conv(a, self.conv2, stride=s["conv2"]), k["conv2"])
        a = self.kwta(a.flatten(1) @ self.linear1, k["linear1"])
        return a @ self.output


# -- measuring -------------------------------------------------------------------------
def activity(counts) -> float:
    """Unweighted mean over the activation layers (FATReLU, k-WTA) of the fraction firing."""
    layers = [r for r in counts.per_layer().values() if r["model"] in ("fatrelu", "kwta")]
    return float(np.mean([r["activity"] for r in layers]))


def check(label, network, model, x, tol64: float = 1e-6) -> str:
    """Compare neuro with torch on ``x`` (a wrong answer raises).

    In float64 the logits must agree to ``tol64`` (relative to the largest); in float32
    the largest difference is printed beside torch's own float32-vs-float64 difference:
    summation order alone can move a pre-activation lying within rounding error of a
    threshold across it, in torch as in neuro.
    """
    with torch.no_grad():
        want32 = model(x).numpy()
        want64 = copy.deepcopy(model).double()(x.double()).numpy()
    got32 = neuro.run(network, x.numpy(), backend="cpu", dtype="float32").outputs
    got64 = neuro.run(network, x.double().numpy(), backend="cpu", dtype="float64").outputs
    scale = max(float(np.abs(want64).max()), 1e-30)
    diff64 = float(np.abs(got64 - want64).max()) / scale
    diff32 = float(np.abs(got32 - want32).max()) / scale
    noise = float(np.abs(want32 - want64).max()) / scale  # torch's own float32 rounding
    text = (
        f"max |logit - torch| / max |logit|: float64 {diff64:.1e}, float32 {diff32:.1e} "
        f"(torch float32 vs float64: {noise:.1e})"
    )
    print(f"  check {label}: {text}")
    if not diff64 <= tol64:
        raise AssertionError(f"{label}: neuro differs from torch in float64 ({text})")
    return text


def compare(label, network, xs, torch_forward, threads, rounds) -> dict:
    """Time torch, ``program.run`` and ``neuro.run`` at ``threads`` threads; one result row."""
    torch.set_num_threads(threads)
    with blas_threads(threads):
        t_torch = timings(torch_forward, rounds=rounds, warmup=1)
        program = neuro.compile(network, backend="cpu", dtype="float32", threads=threads)
        result = program.run(xs)  # warm-up: kernel compilation
        t_prog = timings(lambda: program.run(xs), rounds=rounds, warmup=0)
        t_run = timings(
            lambda: neuro.run(network, xs, backend="cpu", dtype="float32", threads=threads),
            rounds=rounds,
            warmup=1,
        )
        torch.set_num_threads(threads)  # numba's OpenMP layer shares torch's runtime
    c, info, b = result.counts, result.info, xs.shape[0]
    measured = (
        f"torch / program.run {t_torch.median / t_prog.median:.2f}x, torch / neuro.run "
        f"{t_torch.median / t_run.median:.2f}x (torch {t_torch.fmt('ms', 2)}, program.run "
        f"{t_prog.fmt('ms', 2)}, neuro.run {t_run.fmt('ms', 2)}; engine {info.get('engine')}, "
        f"schedule {info.get('schedule')}); mean activity {activity(c):.3f}; synops "
        f"{c.synops / b:,.0f} vs dense MACs {c.dense_macs / b:,.0f} per sample "
        f"({c.dense_macs / max(c.synops, 1):.1f}x fewer)"
    )
    print(f"  {label}, {threads} thread(s): {measured}")
    return row(f"{label}, {threads} thread(s)", "ratio to torch (reported)", measured, None)


def torch_call(model, x):
    def forward():
        with torch.no_grad():
            model(x)

    return forward


def imagenet_rows(name, cls, published, args) -> list[dict]:
    """Rows of a 224x224 model with FATReLU thresholds, and its ``published`` activation."""
    start = time.perf_counter()
    model, x = imagenet_model(cls, args.activity, args.seed)
    built = time.perf_counter()
    network = convert(model, example_input=x, verify=False)  # check() below verifies
    print(
        f"{name}: built in {built - start:.1f} s, converted in {time.perf_counter() - built:.1f} s"
    )
    check(name, network, model, x)
    label = f"{name} 224x224 FATReLU (~{args.activity:.0%} activity), batch 1"
    rows = [
        compare(label, network, x.numpy(), torch_call(model, x), n, args.rounds)
        for n in args.threads
    ]
    if not args.published:
        return rows
    # the published activation (ReLU6 → FATReLU(0, clip=6): step-by-step engine)
    kind = published.__name__
    torch.manual_seed(args.seed)
    model6 = cls(act=published)
    set_batchnorm_statistics(model6, 224)
    try:
        net6 = convert(model6, example_input=x, verify=False)
    except Exception as exc:  # a finding, printed as a row
        msg = f"does not convert: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        print(f"  {name} {kind}: {msg}")
        return [*rows, row(f"{name} with {kind}, batch 1", "informative", msg, None)]
    check(f"{name} {kind}", net6, model6, x)
    torch.set_num_threads(1)
    with blas_threads(1):
        t_torch = timings(torch_call(model6, x), rounds=args.rounds, warmup=1)
        run = lambda: neuro.run(net6, x.numpy(), backend="cpu", dtype="float32", threads=1)  # noqa: E731
        res = run()
        t_run = timings(run, rounds=1, warmup=0)
    msg = (
        f"torch / neuro.run {t_torch.median / t_run.median:.3f}x (torch {t_torch.fmt('ms', 1)}, "
        f"neuro.run {t_run.median * 1e3:.0f} ms, one call; engine {res.info.get('engine')}); "
        f"mean activity {activity(res.counts):.3f}"
    )
    print(f"  {name} {kind}, 1 thread: {msg}")
    return [
        *rows,
        row(f"{name} with {kind}, batch 1, 1 thread", "informative", msg, None),
    ]


def digits_rows(args) -> list[dict]:
    from converters.calibration import calibrate_thresholds
    from neuro.apps.demo import build_model, load_digits_split, train

    start = time.perf_counter()
    torch.manual_seed(args.seed)  # as run_demo does, with its defaults
    torch.set_num_threads(1)
    data = load_digits_split(args.seed)
    model = train(build_model(), *data["train"], epochs=15, seed=args.seed)
    cal = calibrate_thresholds(model, *data["calib"], budget=0.01 * 0.5)
    model = cal.model.float().eval()
    x_test = torch.as_tensor(data["test"][0])
    network = convert(model, example_input=x_test[:2])
    print(f"digits CNN: trained, calibrated and converted in {time.perf_counter() - start:.1f} s")
    check("digits CNN", network, model, x_test)
    rows = []
    for batch in (1, len(x_test)):
        x = x_test[:batch]
        label = f"digits CNN of `neuro demo` (calibrated), batch {batch}"
        rows += [
            compare(label, network, x.numpy(), torch_call(model, x), n, args.rounds)
            for n in args.threads
        ]
    return rows


def gsc_rows(args) -> list[dict]:
    gsc = load_example("gsc_complementary")
    network, ops = gsc.build(np.random.default_rng(args.seed), packed=True)
    k = {n: network.populations[n].model.k for n in ("conv1", "conv2", "linear1")}
    model = KWTANet(ops, k)
    rows = []
    for batch in (1, 64):
        x = torch.as_tensor(
            np.random.default_rng(args.seed + 1).normal(size=(batch, 1, 32, 32)).astype(np.float32)
        )
        if batch == 1:
            check("GSC complementary", network, model, x)
        label = f"GSC complementary (packed, k-WTA 10 %), batch {batch}"
        rows += [
            compare(label, network, x.numpy(), torch_call(model, x), n, args.rounds)
            for n in args.threads
        ]
    return rows


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts")
    p.add_argument("--rounds", type=int, default=5, help="timed calls per figure (>= 5)")
    p.add_argument("--activity", type=float, default=0.25, help="target fraction firing")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    p.add_argument(
        "--no-published",
        dest="published",
        action="store_false",
        help="skip the forms with the published activations (ReLU6, ReLU)",
    )
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.rounds < 5:
        p.error("--rounds must be at least 5 (median with min-max)")
    load = loadavg()
    torch.set_num_threads(1)  # building and checking (each timing sets its own count)
    rows = []
    for name in args.models:
        if name == "mobilenetv2":
            rows += imagenet_rows("MobileNetV2", MobileNetV2, nn.ReLU6, args)
        elif name == "vgg11":
            rows += imagenet_rows("VGG-11", VGG11, nn.ReLU, args)
        elif name == "digits":
            rows += digits_rows(args)
        else:
            rows += gsc_rows(args)
    write_rows(args.json, rows, load)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
