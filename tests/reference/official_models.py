"""PyTorch reference networks written from /work/shared/paper/CHECKPOINT_FORMAT.md.

They reproduce the authors' released state-dict layout (module dicts of
nn.Sequential, "gammas"/"running_sd" batch-norm tensors, no biases) so tests
can write such checkpoint files and compare forward passes with the
converted Keras models. The forward returns the residual (the noise
estimate), like the authors' networks. Importing this module needs torch.
"""

import torch
from torch import nn


class BFBatchNorm2d(nn.Module):
    """Scale-only batch norm: x / sd * gammas (eval: sd = running_sd, no epsilon)."""

    def __init__(self, channels, epsilon=1e-5, momentum=0.1):
        super().__init__()
        self.epsilon = epsilon
        self.momentum = momentum
        gammas = (torch.randn(1, channels, 1, 1) * (2.0 / 9.0 / 64.0)).clamp(-0.025, 0.025)
        self.gammas = nn.Parameter(gammas)
        self.register_buffer("running_sd", torch.ones(1, channels, 1, 1))

    def forward(self, x):
        if self.training:
            sd = torch.sqrt(x.var(dim=(0, 2, 3), keepdim=True, unbiased=False) + self.epsilon)
            with torch.no_grad():
                self.running_sd.mul_(1 - self.momentum).add_(self.momentum * sd)
        else:
            sd = self.running_sd
        return x / sd * self.gammas


def _conv(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


def _double(cin, cout):
    return nn.Sequential(
        _conv(cin, cout), BFBatchNorm2d(cout), nn.ReLU(), _conv(cout, cout), BFBatchNorm2d(cout), nn.ReLU()
    )


class ReferenceUNet(nn.Module):
    """The authors' bias-free UNet layout with `num_blocks` poolings and k kernels."""

    def __init__(self, num_blocks=3, num_kernels=64, num_channels=1):
        super().__init__()
        k, c = num_kernels, num_channels
        self.num_blocks = num_blocks
        self.pool = nn.AvgPool2d(2, 2)
        self.encoder = nn.ModuleDict()
        self.encoder["0"] = nn.Sequential(_conv(c, k), nn.ReLU(), _conv(k, k), BFBatchNorm2d(k), nn.ReLU())
        for b in range(1, num_blocks):
            self.encoder[str(b)] = _double(k * 2 ** (b - 1), k * 2**b)
        self.mid_block = _double(k * 2 ** (num_blocks - 1), k * 2**num_blocks)
        self.upsample = nn.ModuleDict()
        self.decoder = nn.ModuleDict()
        for b in range(num_blocks - 1, -1, -1):
            self.upsample[str(b)] = nn.ConvTranspose2d(k * 2 ** (b + 1), k * 2**b, 2, stride=2, bias=False)
            if b >= 1:
                self.decoder[str(b)] = _double(k * 2 ** (b + 1), k * 2**b)
            else:
                self.decoder["0"] = nn.Sequential(
                    _conv(2 * k, k), BFBatchNorm2d(k), nn.ReLU(), _conv(k, c)
                )

    def forward(self, x):
        skips = []
        for b in range(self.num_blocks):
            x = self.encoder[str(b)](x)
            skips.append(x)
            x = self.pool(x)
        x = self.mid_block(x)
        for b in range(self.num_blocks - 1, -1, -1):
            x = self.upsample[str(b)](x)
            x = torch.cat([x, skips[b]], dim=1)
            x = self.decoder[str(b)](x)
        return x


class ReferenceBFCNN(nn.Module):
    """The authors' BF-CNN layout: `num_layers` convs, BN on the hidden ones."""

    def __init__(self, num_layers=20, num_kernels=64, num_channels=1, first_layer_linear=True):
        super().__init__()
        self.num_layers = num_layers
        self.first_layer_linear = first_layer_linear
        self.conv_layers = nn.ModuleList([_conv(num_channels, num_kernels)])
        self.conv_layers.extend(_conv(num_kernels, num_kernels) for _ in range(1, num_layers - 1))
        self.conv_layers.append(_conv(num_kernels, num_channels))
        self.BN_layers = nn.ModuleList(BFBatchNorm2d(num_kernels) for _ in range(num_layers - 2))

    def forward(self, x):
        x = self.conv_layers[0](x)
        if not self.first_layer_linear:
            x = torch.relu(x)
        for i in range(1, self.num_layers - 1):
            x = torch.relu(self.BN_layers[i - 1](self.conv_layers[i](x)))
        return self.conv_layers[-1](x)


def randomize_batch_norms(model, seed=0):
    """Give every gammas / running_sd non-trivial values, as a trained network has."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, BFBatchNorm2d):
                shape = module.gammas.shape
                module.gammas.copy_(0.5 + torch.rand(shape, generator=generator))
                module.running_sd.copy_(0.5 + torch.rand(shape, generator=generator))
    return model
