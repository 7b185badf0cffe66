"""Grad-CAM and per-branch evidence for one image and one class, with captum's layer attributions.

Where the network looked: captum's `LayerGradCam` on one Inception module (by default the deepest whose
map is at least 4x4 at the model's input size: at a 32x32 input 5b's map is 1x1 and 3b's 4x4, so 3b).

Which branches carried the evidence: for each of the nine Inception modules, captum's
`LayerGradientXActivation` on the module's output (the four branches concatenated), summed over each
branch's channels and positions. That sum is the first-order share of the class score that flowed
through the branch; a branch whose output is zero gets exactly zero. A branch's `share` is its sum's size
over the sum of the four sizes, so the four shares of a module add up to 1 (`attribution` keeps the sign).
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from googlenet.evaluation.placement import in_eval_mode, placement
from googlenet.explain.inputs import ImageLike, as_model, model_input
from googlenet.models.layers import InceptionModule, NaiveInceptionModule
from googlenet.models.network import GoogLeNet
from googlenet.models.table import paper_table

BRANCHES = ("branch1", "branch2", "branch3", "branch4")
# Grad-CAM's default module: the deepest whose map is at least this many positions a side.
MIN_GRADCAM_SIDE = 4
# Activation maps shown per branch: its channels with the highest mean activation.
STRONGEST_MAPS = 3


@dataclass
class ChannelMap:
    channel: int  # index within the branch's output channels
    mean_activation: float
    map: np.ndarray  # [h, w] float32 in [0, 1]: the channel's activation over its maximum


@dataclass
class BranchShare:
    name: str  # branch1 ... branch4
    label: str  # "1x1", "3x3", "5x5" (or the flavour's "5x5"), "pool proj"
    channels: int
    attribution: float  # gradient x activation summed over the branch's channels and positions
    share: float  # |attribution| over the module's total of |attribution|; the four add up to 1
    strongest: list[ChannelMap] = field(default_factory=list)


@dataclass
class ModuleShares:
    name: str  # inception3a ... inception5b
    map_size: tuple[int, int]
    branches: list[BranchShare]


@dataclass
class Explanation:
    class_index: int
    class_name: str
    probability: float
    top_k: list[dict[str, Any]]  # [{"class_index", "class_name", "probability"}], best first
    gradcam_layer: str
    gradcam: np.ndarray  # [h, w] at the layer's map size, in [0, 1] (ReLU, over its maximum)
    gradcam_upsampled: np.ndarray  # [S, S] bilinear to the input size, in [0, 1]
    modules: list[ModuleShares]
    map_sizes: dict[str, tuple[int, int]]  # every Inception module's map at this input size
    view: np.ndarray  # [S, S, 3] uint8: the image as the model read it
    warnings: list[str] = field(default_factory=list)  # as googlenet predict says them: converted or resized to fit

    def to_dict(self, maps: bool = False) -> dict[str, Any]:
        """The numbers as JSON-ready values; `maps` adds the activation maps and the upsampled heatmap."""
        modules = []
        for module in self.modules:
            branches = []
            for branch in module.branches:
                entry = {key: value for key, value in asdict(branch).items() if key != "strongest"}
                entry["strongest"] = [
                    {"channel": item.channel, "mean_activation": round(item.mean_activation, 6),
                     **({"map": _rounded(item.map)} if maps else {})}
                    for item in branch.strongest
                ]
                branches.append(entry)
            modules.append({"name": module.name, "map_size": list(module.map_size), "branches": branches})
        return {
            "class_index": self.class_index,
            "class_name": self.class_name,
            "probability": round(self.probability, 6),
            "top_k": self.top_k,
            "gradcam_layer": self.gradcam_layer,
            "gradcam": _rounded(self.gradcam),
            **({"gradcam_upsampled": _rounded(self.gradcam_upsampled)} if maps else {}),
            "map_sizes": {name: list(size) for name, size in self.map_sizes.items()},
            "modules": modules,
            "warnings": list(self.warnings),
        }


def _rounded(array: np.ndarray) -> list:
    return np.round(array.astype(np.float64), 4).tolist()


def inception_stages(model: GoogLeNet) -> list[tuple[str, nn.Module]]:
    """The nine Inception modules of `model`, in forward order, with their names (3a ... 5b)."""
    if hasattr(model, "stages"):
        stages = list(model.stages())
    else:  # before the models layer offered stages(): Table 1's module names
        stages = [(name, getattr(model, name)) for row in paper_table for name in row.module_names
                  if hasattr(model, name)]
    return [(name, module) for name, module in stages if isinstance(module, (InceptionModule, NaiveInceptionModule))]


@functools.lru_cache(maxsize=64)
def _map_sizes(flavour: str, naive: bool, input_size: int) -> tuple[tuple[str, tuple[int, int]], ...]:
    from googlenet.models.shapes import stage_shapes

    return tuple((name, (height, width)) for name, (_, height, width) in stage_shapes(flavour, input_size, naive=naive).items()
                 if name.startswith("inception"))


def stage_map_sizes(model: GoogLeNet, input_size: int) -> dict[str, tuple[int, int]]:
    """Each Inception module's output map (height, width) for a square input (googlenet.models.shapes:
    one pass of an empty batch, once per flavour and size)."""
    return dict(_map_sizes(model.config.flavour, model.config.naive, input_size))


def default_gradcam_layer(map_sizes: dict[str, tuple[int, int]]) -> str:
    """The deepest module whose map is at least MIN_GRADCAM_SIDE a side (else the one with the largest map)."""
    fitting = [name for name, size in map_sizes.items() if min(size) >= MIN_GRADCAM_SIDE]
    if fitting:
        return fitting[-1]
    return max(map_sizes, key=lambda name: min(map_sizes[name]))


def branch_label(module: nn.Module, branch: str) -> str:
    if branch == "branch1":
        return "1x1"
    if branch == "branch2":
        return "3x3"
    if branch == "branch3":
        unit = module.branch3[-1] if isinstance(module.branch3, nn.Sequential) else module.branch3
        side = unit.conv.kernel_size[0]
        return "5x5" if side == 5 else f"'5x5' ({side}x{side})"  # torchvision's "5x5" branch is 3x3
    return "pool proj" if isinstance(module, InceptionModule) else "3x3 max pool"


def _resolve_target(model: GoogLeNet, class_name: str | None, class_index: int | None, predicted: int) -> int:
    names = model.class_names or [str(index) for index in range(model.num_classes)]
    if class_name is not None and class_index is not None:
        raise ValueError("give the class by name or by index, not both")
    if class_name is not None:
        if class_name not in names:
            raise ValueError(f"unknown class {class_name!r}; this model's classes: {', '.join(names)}")
        return names.index(class_name)
    if class_index is not None:
        if not 0 <= class_index < model.num_classes:
            raise ValueError(f"class index {class_index} is out of range: this model has {model.num_classes} classes")
        return class_index
    return predicted


def explain(
    model: GoogLeNet | str | os.PathLike,
    image: ImageLike,
    *,
    class_name: str | None = None,
    class_index: int | None = None,
    layer: str | None = None,
    top_k: int = 5,
    strongest: int = STRONGEST_MAPS,
) -> Explanation:
    """Grad-CAM and the branch shares of the nine Inception modules for `image` and one class.

    model: a GoogLeNet, a model directory or a training run directory.
    image: a file path, a file's bytes, or a PIL image; it goes through the model's eval preprocessing.
    class_name / class_index: the class explained (default: the predicted one).
    layer: Grad-CAM's Inception module (default: `default_gradcam_layer` at the model's input size).
    A GoogLeNet given runs where its weights are, in their dtype, and comes back in the mode it was given in.
    """
    model = as_model(model)
    with in_eval_mode(model):
        return _explained(model, image, class_name, class_index, layer, top_k, strongest)


def _explained(model: GoogLeNet, image: ImageLike, class_name: str | None, class_index: int | None,
               layer: str | None, top_k: int, strongest: int) -> Explanation:
    prepared = model_input(model, image)
    found = prepared.notes.warn() if prepared.notes is not None else []
    batch = prepared.batch.to(*placement(model))
    stages = dict(inception_stages(model))
    sizes = stage_map_sizes(model, batch.shape[-1])
    layer = layer or default_gradcam_layer(sizes)
    if layer not in stages:
        raise ValueError(f"unknown layer {layer!r}; choose an Inception module: {', '.join(stages)}")

    with torch.no_grad():
        probabilities = torch.softmax(model(batch).float(), dim=1)[0]
    names = model.class_names or [str(index) for index in range(model.num_classes)]
    target = _resolve_target(model, class_name, class_index, int(probabilities.argmax()))
    values, indices = probabilities.topk(min(top_k, model.num_classes))
    top = [{"class_index": int(i), "class_name": names[int(i)], "probability": round(float(v), 6)}
           for v, i in zip(values, indices)]

    modules = _branch_shares(model, stages, batch, target, strongest)
    cam, upsampled = _gradcam(model, stages[layer], batch, target)
    return Explanation(
        class_index=target, class_name=names[target], probability=float(probabilities[target]), top_k=top,
        gradcam_layer=layer, gradcam=cam, gradcam_upsampled=upsampled, modules=modules, map_sizes=sizes,
        view=prepared.view, warnings=found,
    )


def _branch_shares(
    model: GoogLeNet, stages: dict[str, nn.Module], batch: Tensor, target: int, strongest: int
) -> list[ModuleShares]:
    """Gradient x activation on each module's output (captum), split by branch; one forward and backward."""
    from captum.attr import LayerGradientXActivation

    outputs: dict[tuple[str, str], Tensor] = {}
    hooks = [
        getattr(module, branch).register_forward_hook(
            lambda _m, _i, out, key=(name, branch): outputs.__setitem__(key, out.detach()[0].clone()))
        for name, module in stages.items() for branch in BRANCHES
    ]
    try:
        attributions = LayerGradientXActivation(model, list(stages.values())).attribute(batch, target=target)
    finally:
        for hook in hooks:
            hook.remove()
    result = []
    for (name, module), attribution in zip(stages.items(), attributions):
        widths = [outputs[(name, branch)].shape[0] for branch in BRANCHES]
        sums = [float(part.sum()) for part in torch.split(attribution.detach()[0].double(), widths, dim=0)]
        total = sum(abs(value) for value in sums)
        branches = [
            BranchShare(branch, branch_label(module, branch), width, value, abs(value) / total if total else 0.0,
                        _strongest_maps(outputs[(name, branch)], strongest))
            for branch, width, value in zip(BRANCHES, widths, sums)
        ]
        result.append(ModuleShares(name, tuple(attribution.shape[2:]), branches))
    return result


def _strongest_maps(activations: Tensor, count: int) -> list[ChannelMap]:
    """The `count` channels of [C, h, w] with the highest mean activation, each map over its own maximum."""
    means = activations.float().mean(dim=(1, 2))
    chosen = means.topk(min(count, means.numel())).indices.tolist()
    maps = []
    for channel in chosen:
        values = activations[channel].float().clamp_min(0)
        peak = float(values.max())
        maps.append(ChannelMap(channel, float(means[channel]), (values / peak if peak > 0 else values).numpy()))
    return maps


def _gradcam(model: GoogLeNet, module: nn.Module, batch: Tensor, target: int) -> tuple[np.ndarray, np.ndarray]:
    """captum's LayerGradCam on `module` (ReLU'd), over its maximum; and bilinear at the input size."""
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(model, module).attribute(batch, target=target, relu_attributions=True).detach().float()
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else cam
    upsampled = LayerAttribution.interpolate(cam, tuple(batch.shape[2:]), "bilinear").clamp(0, 1)
    return cam[0, 0].cpu().numpy(), upsampled[0, 0].cpu().numpy()
