"""Each flavour's weight initialisation, as its source network starts: Kaiming (bn), Caffe's Xavier with
0.2 biases (paper), torchvision's truncated normal (torchvision)."""

from __future__ import annotations

from torch import nn


def initialise(root: nn.Module, scheme: str) -> None:
    """Weight initialisation per flavour: Kaiming (bn), Caffe's Xavier + 0.2 bias (paper), torchvision's."""
    for name, module in root.named_modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            fan_in = module.weight[0].numel()
            if scheme == "torchvision":
                nn.init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif scheme == "xavier":
                # Caffe's XavierFiller as BVLC's prototxt uses it (variance_norm FAN_IN, its default):
                # U(-sqrt(3 / fan_in), sqrt(3 / fan_in)); torch's xavier_uniform_ averages fan_in and fan_out.
                bound = (3.0 / fan_in) ** 0.5
                nn.init.uniform_(module.weight, -bound, bound)
            elif isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.normal_(module.weight, 0.0, 0.01)
            if module.bias is not None and scheme == "torchvision":
                # torchvision's googlenet leaves nn.Linear's own bias initialisation: U(+-1/sqrt(fan_in)).
                nn.init.uniform_(module.bias, -(fan_in**-0.5), fan_in**-0.5)
            elif module.bias is not None:
                # BVLC GoogLeNet's prototxt starts every convolution bias, and the aux heads' 1024-unit layers'
                # (fc1, before a ReLU), at 0.2: ReLU units stay alive. The classifiers start at 0.
                hidden = isinstance(module, nn.Conv2d) or name.rsplit(".", 1)[-1] == "fc1"
                nn.init.constant_(module.bias, 0.2 if scheme == "xavier" and hidden else 0.0)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()
