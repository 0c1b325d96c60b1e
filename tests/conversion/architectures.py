"""Public CNN architectures written from their papers, at small widths and input sizes.

Each builder returns ``(model, input_shape)``; the structure (layer kinds, order,
pooling, shortcuts, concatenations, channel shuffles) follows the paper or the common
reference implementation, only widths and depths are reduced so the tests stay fast.
"""

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(c_in, c_out, k, stride=1, padding=None, groups=1, act=nn.ReLU):
    padding = (k - 1) // 2 if padding is None else padding
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        act(),
    )


# -- LeNet-5 (LeCun et al. 1998), with max pooling as in the common tutorial -----------------
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


# -- M5 raw-audio CNN (Dai et al. 2017) -----------------------------------------------------
class M5(nn.Module):
    def __init__(self, n_input=1, n_output=5, stride=16, n_channel=8):
        super().__init__()
        self.conv1 = nn.Conv1d(n_input, n_channel, kernel_size=80, stride=stride)
        self.bn1 = nn.BatchNorm1d(n_channel)
        self.pool1 = nn.MaxPool1d(4)
        self.conv2 = nn.Conv1d(n_channel, n_channel, kernel_size=3)
        self.bn2 = nn.BatchNorm1d(n_channel)
        self.pool2 = nn.MaxPool1d(4)
        self.conv3 = nn.Conv1d(n_channel, 2 * n_channel, kernel_size=3)
        self.bn3 = nn.BatchNorm1d(2 * n_channel)
        self.pool3 = nn.MaxPool1d(4)
        self.fc1 = nn.Linear(2 * n_channel, n_output)

    def forward(self, x):
        x = self.pool1(F.relu(self.bn1(self.conv1(x))))
        x = self.pool2(F.relu(self.bn2(self.conv2(x))))
        x = self.pool3(F.relu(self.bn3(self.conv3(x))))
        x = F.avg_pool1d(x, x.shape[-1])
        x = x.permute(0, 2, 1)
        return self.fc1(x)


# -- VGG-11 with BatchNorm (Simonyan & Zisserman 2015, configuration A) ----------------------
class VGG11(nn.Module):
    def __init__(self, widths=(8, 16, 32, 32, 32), classes=10):
        super().__init__()
        cfg = [widths[0], "M", widths[1], "M", widths[2], widths[2], "M"]
        cfg += [widths[3], widths[3], "M", widths[4], widths[4], "M"]
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(True)]
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Linear(c, 64), nn.ReLU(True), nn.Dropout(),
            nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(),
            nn.Linear(64, classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# -- AlexNet (Krizhevsky et al. 2012; torchvision layout) ------------------------------------
class AlexNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(16, 24, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(24, 32, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(32, 24, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(24, 24, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(24, 48), nn.ReLU(inplace=True),
            nn.Dropout(0.5), nn.Linear(48, 48), nn.ReLU(inplace=True), nn.Linear(48, classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# -- ResNet-18 (He et al. 2016) ------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, widths=(8, 16, 24, 32), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, c = [], widths[0]
        for k, w in enumerate(widths):
            stride = 1 if k == 0 else 2
            layers.append(nn.Sequential(BasicBlock(c, w, stride), BasicBlock(w, w, 1)))
            c = w
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Bottleneck(nn.Module):
    """ResNet-50's bottleneck block: 1x1 reduce, 3x3, 1x1 expand (x4)."""

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = 4 * width
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """ResNet-50's layout (stem, four stages of bottlenecks) with fewer blocks per stage."""

    def __init__(self, widths=(4, 8, 8, 16), blocks=(2, 1, 1, 1), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, c = [], 8
        for k, (w, n) in enumerate(zip(widths, blocks)):
            stage = []
            for i in range(n):
                stage.append(Bottleneck(c, w, 2 if (k and i == 0) else 1))
                c = 4 * w
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -- MobileNetV2 (Sandler et al. 2018) -------------------------------------------------------
class InvertedResidual(nn.Module):
    def __init__(self, c_in, c_out, stride, expand):
        super().__init__()
        hidden = c_in * expand
        self.use_res_connect = stride == 1 and c_in == c_out
        layers = [] if expand == 1 else [conv_bn_relu(c_in, hidden, 1, act=nn.ReLU6)]
        layers += [
            conv_bn_relu(hidden, hidden, 3, stride, groups=hidden, act=nn.ReLU6),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        settings = [(1, 8, 1, 1), (6, 12, 2, 2), (6, 16, 2, 2)]  # t, c, n, s
        layers, c = [conv_bn_relu(3, 8, 3, 2, act=nn.ReLU6)], 8
        for t, w, n, s in settings:
            for i in range(n):
                layers.append(InvertedResidual(c, w, s if i == 0 else 1, t))
                c = w
        layers.append(conv_bn_relu(c, 32, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(32, classes))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# -- SqueezeNet 1.0 (Iandola et al. 2016) ----------------------------------------------------
class Fire(nn.Module):
    def __init__(self, c_in, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(c_in, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat(
            [self.expand1x1_activation(self.expand1x1(x)),
             self.expand3x3_activation(self.expand3x3(x))], 1
        )  # fmt: skip


class SqueezeNet10(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 7, 2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 4, 8, 8), Fire(16, 4, 8, 8),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(16, 8, 16, 16),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 8, 16, 16),
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Conv2d(32, classes, 1), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d((1, 1)),
        )  # fmt: skip

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


# -- ShuffleNetV2 (Ma et al. 2018) -----------------------------------------------------------
def channel_shuffle(x, groups: int):
    b, c, h, w = x.size()
    x = x.view(b, groups, c // groups, h, w)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(b, -1, h, w)


class ShuffleUnit(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.stride = stride
        half = c_out // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
                nn.BatchNorm2d(c_in),
                nn.Conv2d(c_in, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            )  # fmt: skip
        else:
            self.branch1 = nn.Sequential()
        c2 = c_in if stride > 1 else half
        self.branch2 = nn.Sequential(
            nn.Conv2d(c2, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        )  # fmt: skip

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = conv_bn_relu(3, 8, 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.stage2 = nn.Sequential(ShuffleUnit(8, 16, 2), ShuffleUnit(16, 16, 1))
        self.stage3 = nn.Sequential(ShuffleUnit(16, 32, 2), ShuffleUnit(32, 32, 1))
        self.conv5 = conv_bn_relu(32, 64, 1)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.stage3(self.stage2(self.maxpool(self.conv1(x))))
        return self.fc(self.conv5(x).mean([2, 3]))


# -- DenseNet (Huang et al. 2017) ------------------------------------------------------------
class DenseLayer(nn.Module):
    def __init__(self, c_in, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = torch.cat(features, 1)
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, layers, c_in, growth, bn_size):
        super().__init__()
        self.layers = nn.ModuleList(
            [DenseLayer(c_in + k * growth, growth, bn_size) for k in range(layers)]
        )

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, growth=4, classes=10):
        super().__init__()
        self.conv0 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm0 = nn.BatchNorm2d(8)
        self.pool0 = nn.MaxPool2d(3, 2, 1)
        self.block1 = DenseBlock(2, 8, growth, 2)
        c = 8 + 2 * growth
        self.transition = nn.Sequential(
            nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False),
            nn.AvgPool2d(2, 2),
        )  # fmt: skip
        self.block2 = DenseBlock(2, c // 2, growth, 2)
        c = c // 2 + 2 * growth
        self.norm5 = nn.BatchNorm2d(c)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        x = self.pool0(F.relu(self.norm0(self.conv0(x))))
        x = self.block2(self.transition(self.block1(x)))
        x = F.adaptive_avg_pool2d(F.relu(self.norm5(x)), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# -- U-Net (Ronneberger et al. 2015) ---------------------------------------------------------
def double_conv(c_in, c_out):
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True),
    )  # fmt: skip


class UNet(nn.Module):
    def __init__(self, c_in=1, classes=2, w=4):
        super().__init__()
        self.enc1, self.enc2 = double_conv(c_in, w), double_conv(w, 2 * w)
        self.bottleneck = double_conv(2 * w, 4 * w)
        self.up2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec2 = double_conv(4 * w, 2 * w)
        self.up1 = nn.ConvTranspose2d(2 * w, w, 2, stride=2)
        self.dec1 = double_conv(2 * w, w)
        self.out = nn.Conv2d(w, classes, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottleneck(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return self.out(d1)


# -- EfficientNet-B0's MBConv block (Tan & Le 2019): SiLU and a sigmoid gate ---------------
class MBConvSE(nn.Module):
    """Not convertible by policy (SiLU and the squeeze-excitation sigmoid are not
    zero-preserving): the converter must refuse it and say why."""

    def __init__(self, c=8):
        super().__init__()
        self.expand = conv_bn_relu(c, 4 * c, 1, act=nn.SiLU)
        self.depthwise = conv_bn_relu(4 * c, 4 * c, 3, groups=4 * c, act=nn.SiLU)
        self.se_reduce = nn.Conv2d(4 * c, 2, 1)
        self.se_expand = nn.Conv2d(2, 4 * c, 1)
        self.project = nn.Sequential(nn.Conv2d(4 * c, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        y = self.depthwise(self.expand(x))
        s = torch.sigmoid(self.se_expand(F.silu(self.se_reduce(y.mean((2, 3), keepdim=True)))))
        return x + self.project(y * s)


ARCHITECTURES = {
    "lenet5": (LeNet5, (1, 28, 28)),
    "m5": (M5, (1, 2000)),
    "vgg11": (VGG11, (3, 32, 32)),
    "alexnet": (AlexNet, (3, 67, 67)),
    "resnet18": (ResNet18, (3, 32, 32)),
    "resnet50": (ResNet50, (3, 32, 32)),
    "mobilenet_v2": (MobileNetV2, (3, 16, 16)),
    "squeezenet1_0": (SqueezeNet10, (3, 39, 39)),
    "shufflenet_v2": (ShuffleNetV2, (3, 32, 32)),
    "densenet": (DenseNet, (3, 16, 16)),
    "unet": (UNet, (1, 16, 16)),
}
