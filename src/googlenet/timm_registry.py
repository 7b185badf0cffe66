"""The three flavours in timm's model registry: `googlenet_bn`, `googlenet_paper`, `googlenet_torchvision`.

    import googlenet.timm_registry  # registers them (timm finds models only in modules that were imported)
    model = timm.create_model("googlenet_bn", num_classes=10, in_chans=1)

timm has no plugin discovery: a model family is known to `timm.create_model` once the module that calls
`register_model` has been imported, as for timm's own families. So this module is imported by the user,
once, anywhere before `create_model`; googlenet never imports timm otherwise (it is not a dependency).

What timm's scripts pass is taken in timm's meaning: `num_classes` (0: headless), `in_chans`, `drop_rate`
(the classifier's dropout), `pretrained`, `features_only` with `out_indices` (a backbone of feature maps at
strides 2-32, with `feature_info`). A timm model returns logits in training mode too, so the aux
heads are left out unless `aux_logits=True`. `pretrained=True` exists for `googlenet_torchvision` only:
torchvision's ImageNet weights (`googlenet.GoogLeNet_Weights`, from the torch hub cache), a new classifier
for another `num_classes`, the first convolution adapted to another `in_chans`. Any other keyword goes to
`googlenet.googlenet`.
"""

from __future__ import annotations

from typing import Any

try:
    from timm.models import register_model
except ImportError:
    raise ImportError("googlenet.timm_registry registers GoogLeNet with timm, which is not installed: "
                      "pip install timm") from None

import googlenet
from googlenet.models import GoogLeNet, GoogLeNet_Weights, Preprocessing

# The registry's description of each name (timm's PretrainedCfg fields): ImageNet's preprocessing, the
# default of every flavour, and where the first convolution and the classifier are. A built model
# describes itself (`GoogLeNet.pretrained_cfg`, from its own preprocessing), which is what
# timm.data.resolve_data_config reads.
_IMAGENET = GoogLeNet_Weights.IMAGENET1K_V1


def _cfg(**overrides: Any) -> dict[str, Any]:
    preprocessing = Preprocessing()
    return {
        "num_classes": 1000,
        "input_size": (3, preprocessing.input_size, preprocessing.input_size),
        "pool_size": (7, 7),
        "crop_pct": preprocessing.input_size / preprocessing.resize_size,
        "interpolation": preprocessing.interpolation,
        "mean": preprocessing.mean,
        "std": preprocessing.std,
        "first_conv": "conv1.conv",
        "classifier": "fc",
        "paper_ids": "arXiv:1409.4842",
        **overrides,
    }


default_cfgs = {
    "googlenet_bn": _cfg(description="GoogLeNet with BatchNorm after every convolution (trains from scratch)"),
    "googlenet_paper": _cfg(description="GoogLeNet as the paper / BVLC Caffe built it (LRN, no BatchNorm)"),
    "googlenet_torchvision": _cfg(url=_IMAGENET.url, origin_url="https://github.com/pytorch/vision",
                                  description="torchvision's GoogLeNet; pretrained: its ImageNet weights "
                                              f"({_IMAGENET.value.accuracy['acc@1']}% top-1)"),
}

_TIMM_ONLY = ("pretrained_cfg", "pretrained_cfg_overlay", "cache_dir")


def _create(flavour: str, pretrained: bool, kwargs: dict[str, Any]) -> GoogLeNet:
    for name in _TIMM_ONLY:
        kwargs.pop(name, None)
    for name in ("drop_path_rate", "drop_block_rate"):
        if kwargs.pop(name, None):
            raise ValueError(f"{name}: GoogLeNet has no stochastic depth or DropBlock; leave it out")
    global_pool = kwargs.pop("global_pool", "avg")
    if global_pool != "avg":
        raise ValueError(f"global_pool={global_pool!r}: GoogLeNet pools by average only ('avg')")
    if "drop_rate" in kwargs:
        kwargs["dropout"] = kwargs.pop("drop_rate")
    kwargs.setdefault("aux_logits", False)
    if pretrained:
        return _pretrained(flavour, kwargs)
    return googlenet.googlenet(flavour, **kwargs)


def _pretrained(flavour: str, kwargs: dict[str, Any]) -> GoogLeNet:
    if flavour != "torchvision":
        raise ValueError(f"googlenet_{flavour} has no published weights (pretrained=True exists for "
                         "googlenet_torchvision only); load your own with googlenet.from_pretrained(directory)")
    num_classes = kwargs.pop("num_classes", 1000)
    in_chans = kwargs.pop("in_chans", 3)
    aux_logits = kwargs.pop("aux_logits")
    if kwargs:
        raise ValueError(f"options {sorted(kwargs)} do not apply to pretrained=True; these do: num_classes, "
                         "in_chans, aux_logits")
    if num_classes == 1000 and in_chans == 3:
        return googlenet.googlenet("torchvision", weights=_IMAGENET, aux_logits=aux_logits)
    from googlenet.weights.init import load_initial_weights

    return load_initial_weights("torchvision-imagenet", num_classes=num_classes, in_chans=in_chans,
                                aux_logits=aux_logits).model


@register_model
def googlenet_bn(pretrained: bool = False, **kwargs: Any) -> GoogLeNet:
    """GoogLeNet, BatchNorm flavour (conv-BN-ReLU, the true 5x5 branches)."""
    return _create("bn", pretrained, kwargs)


@register_model
def googlenet_paper(pretrained: bool = False, **kwargs: Any) -> GoogLeNet:
    """GoogLeNet as in the paper (BVLC Caffe: biased convolutions, LRN, no BatchNorm)."""
    return _create("paper", pretrained, kwargs)


@register_model
def googlenet_torchvision(pretrained: bool = False, **kwargs: Any) -> GoogLeNet:
    """torchvision's GoogLeNet (its state_dicts load unchanged); pretrained: its ImageNet weights."""
    return _create("torchvision", pretrained, kwargs)
