"""The feature maps a backbone user asks for (timm's `features_only`, `feature_info`): the output of the
stage that ends each stride, 2 to 32, the maps detection and segmentation necks read."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from googlenet.models.config import GoogLeNetConfig
from googlenet.models.shapes import check_input_batch, is_being_traced, smallest_input_side

# The last stage at each total stride (Table 1: 112, 56, 28, 14 and 7 at a 224x224 input).
FEATURE_STAGES: tuple[tuple[str, int], ...] = (
    ("conv1", 2), ("conv3", 4), ("inception3b", 8), ("inception4e", 16), ("inception5b", 32),
)


class FeatureInfo(list):
    """timm's `feature_info`: one dict per feature map (`num_chs`, `reduction`, `module`), in stride order,
    with timm's accessors."""

    def channels(self, index: int | None = None) -> list[int] | int:
        return self._get("num_chs", index)

    def reduction(self, index: int | None = None) -> list[int] | int:
        return self._get("reduction", index)

    def module_name(self, index: int | None = None) -> list[str] | str:
        return self._get("module", index)

    def _get(self, key: str, index: int | None) -> list | int | str:
        return [entry[key] for entry in self] if index is None else self[index][key]


def feature_info_for(channels_at: dict[str, int]) -> FeatureInfo:
    """`feature_info` of a trunk whose stages have these channel counts."""
    return FeatureInfo({"num_chs": channels_at[name], "reduction": stride, "module": name}
                       for name, stride in FEATURE_STAGES)


def check_out_indices(out_indices: Sequence[int]) -> tuple[int, ...]:
    indices = tuple(index % len(FEATURE_STAGES) if isinstance(index, int) and -len(FEATURE_STAGES) <= index
                    < len(FEATURE_STAGES) else None for index in out_indices)
    if not indices or None in indices:
        raise ValueError(f"out_indices must be indices of the {len(FEATURE_STAGES)} feature maps (strides "
                         f"{[stride for _, stride in FEATURE_STAGES]}), got {tuple(out_indices)!r}")
    return indices


def intermediates(
    stages: list[tuple[str, nn.Module]], feature_info: FeatureInfo, x: Tensor, indices: int | Sequence[int] | None,
    stop_early: bool, output_fmt: str, intermediates_only: bool,
) -> list[Tensor] | tuple[Tensor, list[Tensor]]:
    """timm's `forward_intermediates` over the trunk's stages, from the transformed input `x`."""
    if output_fmt != "NCHW":
        raise ValueError(f"output_fmt={output_fmt!r}: GoogLeNet's maps are NCHW only")
    count = len(feature_info)
    wanted = check_out_indices(range(count - indices, count) if isinstance(indices, int)
                               else range(count) if indices is None else indices)
    names = [feature_info[index]["module"] for index in wanted]
    maps: dict[str, Tensor] = {}
    for name, stage in stages:
        x = stage(x)
        if name in names:
            maps[name] = x
            if (stop_early or intermediates_only) and len(maps) == len(names):
                break
    found = [maps[name] for name in names]
    return found if intermediates_only else (x, found)


def backbone_of(model: nn.Module, out_indices: Sequence[int] = (0, 1, 2, 3, 4)) -> GoogLeNetFeatures:
    """timm's `features_only=True` made from a built GoogLeNet: its own stages (the same modules, weights shared)
    and its `pretrained_cfg` (the input size and normalisation timm's data config reads)."""
    backbone = GoogLeNetFeatures(model.config, model.stages(), model.input_transform, model.feature_info, out_indices)
    backbone.pretrained_cfg = backbone.default_cfg = model.pretrained_cfg
    return backbone


class GoogLeNetFeatures(nn.Module):
    """GoogLeNet's trunk up to the deepest map asked for, returning the maps at `out_indices` as a list
    (timm's `features_only=True`). Module names are the network's, so its state_dict loads here as it is
    (the head's keys left out)."""

    def __init__(self, config: GoogLeNetConfig, stages: list[tuple[str, nn.Module]], input_transform: nn.Module,
                 feature_info: FeatureInfo, out_indices: Sequence[int] = (0, 1, 2, 3, 4)) -> None:
        super().__init__()
        self.config = config
        self.out_indices = check_out_indices(out_indices)
        wanted = {feature_info[index]["module"] for index in self.out_indices}
        last = max(index for index, (name, _) in enumerate(stages) if name in wanted)
        self.input_transform = input_transform
        self._stage_names = tuple(name for name, _ in stages[: last + 1])
        for name, module in stages[: last + 1]:
            self.add_module(name, module)
        self.feature_info = FeatureInfo(feature_info[index] for index in self.out_indices)
        self.pretrained_cfg: dict | None = None  # timm's description of the input (`backbone_of` sets it)
        self.default_cfg: dict | None = None  # timm's older name
        self._returned = [entry["module"] for entry in self.feature_info]

    def forward(self, x: Tensor) -> list[Tensor]:
        if not is_being_traced():
            check_input_batch(x, self.config.in_chans, smallest_input_side(self.config.flavour, self.config.naive),
                              self.config.flavour)
        x = self.input_transform(x)
        maps: dict[str, Tensor] = {}
        for name in self._stage_names:
            x = getattr(self, name)(x)
            if name in self._returned:
                maps[name] = x
        return [maps[name] for name in self._returned]
