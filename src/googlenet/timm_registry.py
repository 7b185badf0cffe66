"""The three flavours in timm's model registry: `googlenet_bn`, `googlenet_paper`, `googlenet_torchvision`.

    import googlenet.timm_registry  # registers them (timm finds models only in modules that were imported)
    model = timm.create_model("googlenet_bn", num_classes=10, in_chans=1)

timm has no plugin discovery: a model family is known to `timm.create_model` once the module that calls
`register_model` has been imported, as for timm's own families. So this module is imported by the user,
once, anywhere before `create_model`; googlenet never imports timm otherwise (it is not a dependency).

What timm's scripts pass is taken in timm's meaning, with or without `pretrained`: `num_classes` (0:
headless), `in_chans`, `drop_rate` (the classifier's dropout), `global_pool` ("avg", "max", "avgmax",
"catavgmax"; "" with num_classes=0 for the unpooled map), `features_only` with `out_indices` (a backbone of
feature maps at strides 2-32, with `feature_info`), `pretrained_cfg_overlay`. `drop_path_rate` is refused
above 0 (no residual connections to drop). A timm model returns logits in training mode too, so the aux
heads are left out unless `aux_logits=True`. `pretrained=True` loads torchvision's ImageNet weights for
`googlenet_torchvision` (`googlenet.GoogLeNet_Weights`, from the torch hub cache), a model directory pushed
to the Hub for `timm.create_model("hf-hub:user/repo", pretrained=True)` (its config.json holds timm's fields),
or the file `pretrained_cfg_overlay=dict(file=...)` names; a new classifier for another `num_classes`, the
first convolution adapted to another `in_chans`. Any other keyword goes to `googlenet.googlenet`.
"""

from __future__ import annotations

from typing import Any

try:
    from timm.models import register_model
except ImportError:
    raise ImportError("googlenet.timm_registry registers GoogLeNet with timm, which is not installed: "
                      "pip install timm") from None

from dataclasses import replace

from timm.models import resolve_pretrained_cfg

import googlenet
from googlenet.models import GoogLeNet, GoogLeNet_Weights, GoogLeNetFeatures, Preprocessing
from googlenet.models.features import backbone_of
from googlenet.models.metadata import attach_metadata
from googlenet.models.network import uninitialised_googlenet
from googlenet.weights import imagenet
from googlenet.weights.hf_hub import HUB_PREFIX
from googlenet.weights.init import load_initial_weights, read_initial_weights

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

# timm's factory passes these to every builder; what they say is read from the resolved pretrained cfg.
_TIMM_ONLY = ("cache_dir", "pretrained_model_args")
# Stochastic depth drops a residual branch and keeps its identity path; an Inception module concatenates its
# branches and has no identity path to keep, so there is nothing for drop_path_rate to drop.
_NO_DROP_PATH = "GoogLeNet has no residual connections for stochastic depth (or DropBlock) to drop: leave it 0"


def _create(flavour: str, pretrained: bool, kwargs: dict[str, Any]) -> GoogLeNet | GoogLeNetFeatures:
    overlay = kwargs.pop("pretrained_cfg_overlay", None) or {}
    cfg = resolve_pretrained_cfg(f"googlenet_{flavour}", pretrained_cfg=kwargs.pop("pretrained_cfg", None),
                                 pretrained_cfg_overlay=overlay).to_dict()
    for option in _TIMM_ONLY:
        kwargs.pop(option, None)
    for option in ("drop_path_rate", "drop_block_rate"):
        if kwargs.pop(option, None):
            raise ValueError(f"{option}: {_NO_DROP_PATH}")
    if "drop_rate" in kwargs:
        kwargs["dropout"] = kwargs.pop("drop_rate")
    kwargs.setdefault("aux_logits", False)
    features_only, out_indices = kwargs.pop("features_only", False), kwargs.pop("out_indices", (0, 1, 2, 3, 4))
    if pretrained:
        model = _pretrained(flavour, cfg, kwargs)
    else:  # timm's defaults: what the cfg says (a hf-hub: name's config.json)
        kwargs.setdefault("num_classes", cfg.get("num_classes") or 1000)
        model = googlenet.googlenet(flavour, **kwargs)
    if overlay or cfg.get("hf_hub_id"):  # the model describes itself; what the caller or the Hub said on top
        hub = {key: cfg[key] for key in ("hf_hub_id", "source") if cfg.get(key)}
        model.pretrained_cfg = {**model.pretrained_cfg, **hub, **overlay}
    return backbone_of(model, out_indices) if features_only else model


def _weights_source(name: str, cfg: dict[str, Any]) -> str:
    """What `pretrained=True` loads for this cfg: a file the overlay names, a Hub repository, or torchvision's."""
    if cfg.get("file"):
        return str(cfg["file"])
    if cfg.get("hf_hub_id"):
        return HUB_PREFIX + cfg["hf_hub_id"]  # "user/repo" or "user/repo@revision", as timm passes it
    if cfg.get("url") == _IMAGENET.url:
        return imagenet.SOURCE_NAME
    raise ValueError(f"{name} has no published weights (pretrained=True exists for googlenet_torchvision, a "
                     "hf-hub: name, or pretrained_cfg_overlay=dict(file=...)); load your own with "
                     "googlenet.from_pretrained(directory)")


def _pretrained(flavour: str, cfg: dict[str, Any], kwargs: dict[str, Any]) -> GoogLeNet:
    """The weights `cfg` points at, fitted to the classes and channels asked for; drop_rate and global_pool
    set on the result. The classifier is kept when the classes are the weights' own."""
    source = _weights_source(f"googlenet_{flavour}", cfg)
    weights = read_initial_weights(source, flavour)
    num_classes = kwargs.pop("num_classes", weights.config.num_classes)
    in_chans = kwargs.pop("in_chans", weights.config.in_chans)
    aux_logits = kwargs.pop("aux_logits")
    global_pool = kwargs.pop("global_pool", "avg")
    dropout = kwargs.pop("dropout", None)
    if kwargs:
        raise ValueError(f"options {sorted(kwargs)} do not apply to pretrained=True; these do: num_classes, in_chans, "
                         "aux_logits, drop_rate, global_pool, features_only, out_indices, pretrained_cfg_overlay")
    same = num_classes == weights.config.num_classes and in_chans == weights.config.in_chans
    if same and source == imagenet.SOURCE_NAME:  # with its class names, as torchvision builds it
        model = googlenet.googlenet(flavour, weights=_IMAGENET, aux_logits=aux_logits).train()
    elif same and (not aux_logits or (weights.trained_aux and weights.config.aux_logits)):
        model = uninitialised_googlenet(weights.config)
        model.load_state_dict(weights.state_dict)
        attach_metadata(model, weights.metadata)
        if not aux_logits and model.aux1 is not None:
            model.drop_aux_heads()
        model.train()
    else:
        model = load_initial_weights(weights, num_classes=num_classes, in_chans=in_chans, aux_logits=aux_logits).model
    if dropout is not None:
        model.config = replace(model.config, dropout=dropout)
        model.dropout.p = model.config.dropout
    if global_pool != model.global_pool:
        if same:
            model.set_global_pool(global_pool)  # the weights' classifier stays, if it fits the pool
        else:
            model.reset_classifier(num_classes, global_pool)  # new anyway: sized for the pool
    return model


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
