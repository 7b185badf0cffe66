"""GoogLeNet (Inception v1), built row by row from `googlenet.models.table.paper_table`.

The constructor takes a `GoogLeNetConfig` (everything needed to build the same network again);
`googlenet(flavour, **options)` builds the config and calls it, and model directories rebuild through
the config too. Module names are torchvision's (`conv1`, `maxpool1`, ..., `inception5b`, `aux1`,
`aux2`, `fc`), so a torchvision state_dict loads into the `torchvision` flavour with `strict=True`.

Forward contract, torchvision's (the same eagerly, under torch.fx, torch.export and torch.jit.trace;
torch.jit.script compiles the eval-mode forward, models/scripting.py):
- training mode with aux heads and `aux_logits` on: `GoogLeNetOutputs(logits, aux_logits2, aux_logits1)`,
  aux_logits1 read from 4a, aux_logits2 from 4d (torchvision's names and order);
- otherwise the logits tensor ([N, 1024] pooled features for a headless model, num_classes=0).
timm's model interface: `forward_features` (the last map, [N, 1024, H/32, W/32]), `forward_head`,
`forward_intermediates`, `reset_classifier`, `num_features`, `feature_info`, `pretrained_cfg`.
"""

# No `from __future__ import annotations` here: torch.fx writes forward's annotations into the code it
# generates, and TorchScript cannot compile them as strings (a traced model scripted, as timm's checks do).
import contextlib
import warnings
from dataclasses import fields, replace
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from googlenet.models.allocation import allocate_uninitialised
from googlenet.models.config import GoogLeNetConfig
from googlenet.models.initialisation import initialise
from googlenet.models.features import FeatureInfo, GoogLeNetFeatures, backbone_of, feature_info_for, intermediates
from googlenet.models.head import check_global_pool, global_pool_module, pooled_features
from googlenet.models.layers import AuxClassifier, ImageNetToUnitRange
from googlenet.models.metadata import ModelMetadata, attach_metadata, timm_pretrained_cfg
from googlenet.models.preprocessing import Preprocessing
from googlenet.models.pretrained import GoogLeNet_Weights
from googlenet.models.scripting import scriptable
from googlenet.models.shapes import check_input_batch, is_being_traced, smallest_input_side
from googlenet.models.table import IMAGE_CHANNELS, Flavour, aux_attach_points
from googlenet.models.trunk import build_trunk, layer_groups

__all__ = ["GoogLeNet", "GoogLeNetConfig", "GoogLeNetOutputs", "googlenet", "uninitialised_googlenet"]


class GoogLeNetOutputs(NamedTuple):
    """What a training-mode GoogLeNet with aux heads returns: torchvision's names and order."""

    logits: Tensor
    aux_logits2: Tensor  # auxiliary classifier on inception4d
    aux_logits1: Tensor  # auxiliary classifier on inception4a


class GoogLeNet(nn.Module):
    """Inception v1 built from a `GoogLeNetConfig`. See `googlenet.googlenet` for the options and the
    module docstring for the outputs.

    What the model was trained for (class names, inference preprocessing) travels in `metadata`, a
    `ModelMetadata` record (`googlenet.models.metadata`); `class_names` and `preprocessing` read it.

    `init_weights=False` leaves every layer as torch initialises it (torchvision's meaning);
    `uninitialised_googlenet(config)` builds one whose weights are set next without computing any.
    """

    def __init__(self, config: GoogLeNetConfig | None = None, *, init_weights: bool = True, **options: object) -> None:
        super().__init__()
        if not isinstance(config, GoogLeNetConfig) or options:
            raise TypeError(_constructor_help(config, options))
        self.config = config.resolved()
        spec, config = self.config.spec, self.config
        self.metadata: ModelMetadata | None = None
        self._min_input_size: int | None = None  # None: measured on first use (see min_input_size)
        self._aux_logits = config.aux_logits  # whether training mode returns the aux outputs (settable)
        self._pretrained_cfg: dict[str, Any] | None = None  # None: computed from the config (pretrained_cfg)
        self.grad_checkpointing = False

        # With init_weights, _initialise sets every parameter and BatchNorm statistic: the layers are
        # built on the meta device and allocated uninitialised, so torch's own initialisation (most of
        # construction time) is never computed.
        device = torch.get_default_device()
        with torch.device("meta") if init_weights else contextlib.nullcontext():
            self.input_transform: nn.Module = ImageNetToUnitRange() if config.transform_input else nn.Identity()
            trunk, channels_at = build_trunk(spec, config.in_chans, config.naive)
            self._stage_names: tuple[str, ...] = tuple(name for name, _ in trunk)
            for name, module in trunk:
                self.add_module(name, module)

            # Attribute order is print order: put the aux heads where torchvision has them.
            self.aux1: AuxClassifier | None = None
            self.aux2: AuxClassifier | None = None
            if config.aux_logits:
                for aux_name, attach_point in zip(("aux1", "aux2"), aux_attach_points):
                    head = AuxClassifier(channels_at[attach_point], config.num_classes, config.aux_dropout,
                                         spec.batch_norm, spec.aux_pool)
                    setattr(self, aux_name, head)
            self._aux_after = dict(zip(aux_attach_points, ("aux1", "aux2")))

            self.num_features = channels_at[self._stage_names[-1]]
            self.feature_info: FeatureInfo = feature_info_for(channels_at)
            # Table 1's 7x7/1 average pool at 224x224, any size else. torchvision's name whatever the pool type
            # (`reset_classifier(..., global_pool)`, googlenet.models.head): its fx node names stay torchvision's.
            self.global_pool = "avg"
            self.avgpool: nn.Module = global_pool_module(self.global_pool)
            self.dropout = nn.Dropout(p=config.dropout)
            self.fc: nn.Module = nn.Linear(self.num_features, config.num_classes) if config.num_classes else nn.Identity()

        if init_weights:
            allocate_uninitialised(self, device)
            initialise(self, spec.init)

    # -- what the config says -------------------------------------------------------------------------

    @property
    def flavour(self) -> Flavour:
        return self.config.spec

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    @property
    def in_chans(self) -> int:
        return self.config.in_chans

    @property
    def aux_logits(self) -> bool:
        """Whether training mode returns the aux heads' outputs; `model.aux_logits = False` turns them off
        and keeps the heads (torchvision's recipe); `drop_aux_heads()` removes them."""
        return self._aux_logits

    @aux_logits.setter
    def aux_logits(self, on: bool) -> None:
        if on and self.aux1 is None:
            raise ValueError("this model has no aux heads to return: build it with aux_logits=True")
        self._aux_logits = bool(on)

    @property
    def head_hidden_size(self) -> int:
        """What the classifier reads (timm's name): the pooled features, 1024 (2048 pooled by "catavgmax")."""
        return pooled_features(self.global_pool, self.num_features)

    # -- what the model was trained for: its metadata record ---------------------------------------

    @property
    def class_names(self) -> list[str] | None:
        names = getattr(self.metadata, "class_names", None)
        return None if names is None else list(names)

    @class_names.setter
    def class_names(self, names: list[str] | None) -> None:
        attach_metadata(self, class_names=names)

    @property
    def preprocessing(self) -> Preprocessing | None:
        """The inference preprocessing (a `googlenet.models.preprocessing.Preprocessing`), or None."""
        return getattr(self.metadata, "preprocessing", None)

    @preprocessing.setter
    def preprocessing(self, preprocessing: Preprocessing | None) -> None:
        attach_metadata(self, preprocessing=preprocessing)

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm's description of the model's input and head (what `timm.data.resolve_data_config` reads):
        the attached preprocessing, or ImageNet's defaults (their channel average for in_chans=1)."""
        if self._pretrained_cfg is not None:
            return self._pretrained_cfg
        return timm_pretrained_cfg(self.config, self.preprocessing, self.min_input_size)

    @pretrained_cfg.setter
    def pretrained_cfg(self, cfg: dict[str, Any] | None) -> None:  # timm's builders set it
        self._pretrained_cfg = cfg

    default_cfg = pretrained_cfg  # timm's older name

    # -- the network ----------------------------------------------------------------------------------

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The trunk in forward order, conv1 ... inception5b (with lrn1/lrn2 in the paper flavour)."""
        return [(name, getattr(self, name)) for name in self._stage_names]

    @property
    def min_input_size(self) -> int:
        """The smallest square input side every layer has an output for (15 torchvision, 31 paper/bn),
        measured by forward passes of an empty batch (`googlenet.models.shapes`)."""
        if self._min_input_size is None:
            self._min_input_size = smallest_input_side(self.config.flavour, self.config.naive)
        return self._min_input_size

    @min_input_size.setter
    def min_input_size(self, side: int) -> None:
        self._min_input_size = side

    def _check_input(self, x: Tensor) -> None:
        # Not under tracing: a trace fixes the input's shape anyway, and torch.fx cannot branch on it.
        if not is_being_traced():
            check_input_batch(x, self.in_chans, self.min_input_size, self.flavour.name)

    def _trunk(self, x: Tensor, with_aux: bool) -> tuple[Tensor, list[Tensor]]:
        self._check_input(x)
        x = self.input_transform(x)
        aux_outputs: list[Tensor] = []
        for name in self._stage_names:
            stage = getattr(self, name)
            if self.grad_checkpointing and self.training and not is_being_traced():
                x = checkpoint(stage, x, use_reentrant=False)
            else:
                x = stage(x)
            if with_aux and name in self._aux_after:
                aux_outputs.append(getattr(self, self._aux_after[name])(x))
        return x, aux_outputs

    def forward_features(self, x: Tensor) -> Tensor:
        """The last map, before pooling: [N, 1024, H/32, W/32] (7x7 at 224x224)."""
        return self._trunk(x, with_aux=False)[0]

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool, dropout and the classifier on `forward_features`' map; the pooled features with pre_logits
        (the map itself when global_pool is '')."""
        x = self.avgpool(x)
        if self.global_pool:  # a constant under torch.fx: the traced graph keeps only the branch taken
            x = torch.flatten(x, 1)
        x = self.dropout(x)
        return x if pre_logits else self.fc(x)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        with_aux = self.training and self._aux_logits and self.aux1 is not None and self.aux2 is not None
        x, aux_outputs = self._trunk(x, with_aux)
        logits = self.forward_head(x)
        if with_aux:
            return GoogLeNetOutputs(logits, aux_outputs[1], aux_outputs[0])
        return logits

    def __prepare_scriptable__(self) -> nn.Module:  # torch.jit.script(model) compiles this (models/scripting.py)
        return scriptable(self)

    def forward_intermediates(
        self, x: Tensor, indices: int | list[int] | None = None, norm: bool = False, stop_early: bool = False,
        output_fmt: str = "NCHW", intermediates_only: bool = False,
    ) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
        """timm's: the maps of `feature_info` at `indices` (all five by default; an int n: the last n),
        and the final map unless intermediates_only. GoogLeNet has no final norm (`norm` changes nothing)."""
        self._check_input(x)
        return intermediates(self.stages(), self.feature_info, self.input_transform(x), indices, stop_early,
                             output_fmt, intermediates_only)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each stage's activations in the backward pass instead of keeping them (timm's name)."""
        self.grad_checkpointing = enable

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """timm's layer groups (timm.optim's layer-wise lr decay): the stem, then each Inception stage (coarse)
        or module, each aux head with the module it reads; the classifier last (`trunk.layer_groups`)."""
        return layer_groups(self._stage_names, self._aux_after, coarse)

    def no_weight_decay(self) -> set[str]:
        """Parameters timm's optimizer factory keeps out of weight decay beyond biases and norms (which it
        leaves out by their shape): GoogLeNet has no others (no embeddings, no learned scales)."""
        return set()

    def get_classifier(self) -> nn.Module:
        return self.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """New, freshly initialised classifiers (main and aux) for `num_classes` classes: fine-tuning.
        0 makes the model headless (forward returns the pooled features; the aux heads go); with
        global_pool='' the unpooled map. `global_pool`: timm's pool types (googlenet.models.head); None keeps
        the current one. The old class names no longer apply and are dropped; the preprocessing stays."""
        global_pool = check_global_pool(self.global_pool if global_pool is None else global_pool, num_classes)
        self.global_pool, self.avgpool = global_pool, global_pool_module(global_pool)
        if num_classes == 0 and self.aux1 is not None:
            self.drop_aux_heads()
        self.config = replace(self.config, num_classes=num_classes)  # checks the count
        if getattr(self.metadata, "class_names", None) is not None:
            self.metadata = replace(self.metadata, class_names=None)
        if num_classes == 0:
            self.fc = nn.Identity()
            return
        # The new layers take the trunk's device and dtype (a bf16 model stays bf16).
        like = {"device": self.conv1.conv.weight.device, "dtype": self.conv1.conv.weight.dtype}
        self.fc = nn.Linear(self.head_hidden_size, num_classes, **like)
        heads = [self.fc]
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                aux.fc2 = nn.Linear(aux.fc2.in_features, num_classes, **like)
                heads.append(aux.fc2)
        for head in heads:
            initialise(head, self.flavour.init)

    def set_global_pool(self, global_pool: str) -> None:
        """Pool the last map by `global_pool` (timm's pool types), keeping the classifier, which must read as
        many features as the pool gives (`reset_classifier(num_classes, global_pool)` makes a new one)."""
        check_global_pool(global_pool, self.num_classes, self.num_features, getattr(self.fc, "in_features", None))
        self.global_pool, self.avgpool = global_pool, global_pool_module(global_pool)

    def drop_aux_heads(self) -> None:
        """Remove the auxiliary classifiers (the paper discards them at inference)."""
        self.aux1 = None
        self.aux2 = None
        self._aux_logits = False
        self.config = replace(self.config, aux_logits=False)


def _constructor_help(config: object, options: dict[str, object]) -> str:
    """Why GoogLeNet(...) refused, and how to ask for the network meant."""
    given = f"the options {sorted(options)}" if options else "no config" if config is None else repr(config)
    return (
        f"GoogLeNet takes a GoogLeNetConfig (and init_weights), got {given}. torchvision's network with "
        "torchvision's keyword options is googlenet.googlenet('torchvision', num_classes=..., aux_logits=..., "
        "transform_input=..., init_weights=...); another flavour is googlenet.googlenet('bn' or 'paper', ...) "
        "or GoogLeNet(GoogLeNetConfig(flavour, ...))"
    )


def googlenet(
    flavour: str = "bn", num_classes: int | None = None, in_chans: int = IMAGE_CHANNELS,
    aux_logits: bool | None = None, *, weights: GoogLeNet_Weights | str | None = None, progress: bool = True,
    global_pool: str = "avg", features_only: bool = False, out_indices: tuple[int, ...] = (0, 1, 2, 3, 4),
    **options: Any,
) -> GoogLeNet | GoogLeNetFeatures:
    """Build GoogLeNet: makes the `GoogLeNetConfig` and calls `GoogLeNet(config)`.

    Args:
        flavour: "bn" (default; conv-BN-ReLU, true 5x5, trains from scratch), "paper" (the BVLC Caffe
            network: biased convolutions, LRN, no BatchNorm) or "torchvision" (exactly
            torchvision.models.googlenet, loads its state_dict with strict=True).
        num_classes: classifier outputs (1000); 0 builds a headless network (forward returns the pooled
            features).
        in_chans: image channels (1 for grayscale).
        aux_logits: build the two auxiliary classifiers (used in training mode only); default: unless
            headless, or loading weights (whose aux heads were never trained).
        weights: torchvision flavour only: `GoogLeNet_Weights.IMAGENET1K_V1` (or its name, or torchvision's
            own member) loads torchvision's ImageNet weights as `torchvision.models.googlenet(weights=...)`
            does: transform_input on unless given, 1,000 classes, the class names and preprocessing attached.
        progress: show a progress bar while the weights download.
        global_pool: timm's pool types, "avg" (Table 1), "max", "avgmax", "catavgmax", or "" (with
            num_classes=0: forward returns the unpooled map).
        features_only: timm's: a `GoogLeNetFeatures` backbone returning feature maps instead of logits.
        out_indices: with `features_only`, which maps: indices of `feature_info` (strides 2, 4, 8, 16, 32).
        **options: `dropout`, `aux_dropout` (or torchvision's `dropout_aux`), `naive` (naive Inception
            modules), `transform_input` (torchvision's ImageNet-normalisation conversion), `init_weights`
            (False: torch's own initialisation of each layer, as in torchvision).
    """
    if "dropout_aux" in options:  # torchvision's name
        if "aux_dropout" in options:
            raise TypeError("give the aux heads' dropout once: dropout_aux (torchvision's name) or aux_dropout")
        options["aux_dropout"] = options.pop("dropout_aux")
    init_weights = options.pop("init_weights", None)
    weights = GoogLeNet_Weights.verify(weights)
    wanted_aux = aux_logits
    if weights is not None:
        _check_weights_options(flavour, weights, num_classes, init_weights)
        num_classes, aux_logits = weights.config.num_classes, True  # the file holds aux heads: load them all
        options.setdefault("transform_input", weights.config.transform_input)
    num_classes = 1000 if num_classes is None else num_classes
    aux_logits = num_classes != 0 if aux_logits is None else aux_logits
    known = [field.name for field in fields(GoogLeNetConfig)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"googlenet() got unknown options {unknown}; known: {known}, init_weights, weights, "
                        "progress, dropout_aux, global_pool, features_only, out_indices")
    config = GoogLeNetConfig(flavour, num_classes, in_chans, aux_logits, **options)
    if weights is None:
        model = GoogLeNet(config, init_weights=True if init_weights is None else init_weights)
    else:
        model = uninitialised_googlenet(config)
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
        if not wanted_aux:
            model.drop_aux_heads()
        else:
            warnings.warn("the aux heads of torchvision's ImageNet weights were never trained: train them",
                          stacklevel=2)
        attach_metadata(model, class_names=weights.meta["categories"], preprocessing=weights.preprocessing)
    if global_pool != model.global_pool:
        if weights is None:  # the classifier is new anyway: sized for the pool
            model.reset_classifier(num_classes, global_pool)
        else:
            model.set_global_pool(global_pool)
    return backbone_of(model, out_indices) if features_only else model


def _check_weights_options(flavour: str, weights: GoogLeNet_Weights, num_classes: int | None,
                           init_weights: bool | None) -> None:
    """torchvision's rules for building with its weights: refused, never silently changed."""
    if flavour != weights.config.flavour:
        raise ValueError(f"weights={weights.name} are torchvision's network's: ask for "
                         f"googlenet('{weights.config.flavour}', weights='{weights.name}'), not the {flavour!r} flavour")
    if num_classes not in (None, weights.config.num_classes):
        raise ValueError(f"weights={weights.name} classify {weights.config.num_classes} classes, not {num_classes}: "
                         "load them, then model.reset_classifier(num_classes)")
    if init_weights:
        raise ValueError("init_weights=True would be overwritten by the weights: leave it out")


def uninitialised_googlenet(config: GoogLeNetConfig, device: torch.device | str | None = None) -> GoogLeNet:
    """`GoogLeNet(config)` with its parameters and buffers allocated on `device` but never set
    (torch.empty): for a network whose every weight is loaded next (`load_state_dict(strict=True)`)."""
    with torch.device("meta"):
        model = GoogLeNet(config, init_weights=False)
    allocate_uninitialised(model, device)
    return model
