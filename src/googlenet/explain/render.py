"""Pictures of an Explanation: the Grad-CAM overlay, the branch-share chart, small PNGs for the page.

Everything draws on `matplotlib.figure.Figure` objects or plain arrays: the caller's matplotlib backend
is never switched.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

import numpy as np
from PIL import Image

from googlenet.atomic_files import write_with
from googlenet.explain.attribution import Explanation

# One colour per branch, in branch order (1x1, 3x3, 5x5, pool): the page's stylesheet uses the same.
BRANCH_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1")
HEATMAP_COLOURMAP = "jet"
# The heatmap's opacity where Grad-CAM is at its maximum; it fades linearly to transparent where Grad-CAM
# is zero, so the image shows through wherever there is no evidence.
HEATMAP_OPACITY = 0.7


def heatmap_rgba(cam: np.ndarray) -> np.ndarray:
    """[H, W] values in [0, 1] as [H, W, 4] uint8 colours whose opacity follows the value."""
    from matplotlib import colormaps

    values = np.clip(cam.astype(np.float64), 0.0, 1.0)
    colours = colormaps[HEATMAP_COLOURMAP](values)
    colours[..., 3] = HEATMAP_OPACITY * values
    return (colours * 255).round().astype(np.uint8)


def overlay(view: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """The heatmap blended over the image, [H, W, 3] uint8."""
    colours = heatmap_rgba(cam).astype(np.float64) / 255
    alpha = colours[..., 3:4]
    blended = view.astype(np.float64) / 255 * (1 - alpha) + colours[..., :3] * alpha
    return (blended * 255).round().astype(np.uint8)


def png_data_url(pixels: np.ndarray) -> str:
    """An [H, W] (gray, floats in [0, 1] or uint8), [H, W, 3] or [H, W, 4] uint8 array as a PNG data URL."""
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0.0, 1.0) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def explanation_figure(explanation: Explanation):  # -> matplotlib.figure.Figure
    """The image, its Grad-CAM overlay, and the nine modules' branch shares as stacked bars."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 4.6), layout="constrained")
    image_axes, overlay_axes, chart_axes = figure.subplots(1, 3, width_ratios=(1, 1, 1.7))
    image_axes.imshow(explanation.view, interpolation="nearest")
    image_axes.set_title("what the model read")
    overlay_axes.imshow(overlay(explanation.view, explanation.gradcam_upsampled), interpolation="nearest")
    overlay_axes.set_title(f"Grad-CAM on {explanation.gradcam_layer}")
    for axes in (image_axes, overlay_axes):
        axes.set_xticks([])
        axes.set_yticks([])
    _draw_shares(chart_axes, explanation)
    figure.suptitle(f"{explanation.class_name} ({explanation.probability:.1%}): "
                    "where the network looked, and which branches carried the evidence")
    return figure


def _draw_shares(axes, explanation: Explanation) -> None:
    names = [module.name.removeprefix("inception") for module in explanation.modules]
    positions = np.arange(len(names))
    left = np.zeros(len(names))
    labels = [branch.label for branch in explanation.modules[0].branches] if explanation.modules else []
    for index, label in enumerate(labels):
        shares = np.array([module.branches[index].share for module in explanation.modules])
        axes.barh(positions, shares, left=left, color=BRANCH_COLOURS[index], label=label)
        left += shares
    axes.set_yticks(positions, names)
    axes.invert_yaxis()  # 3a at the top, as in Table 1
    axes.set_xlim(0, 1)
    axes.set_xlabel("share of the class evidence (|gradient x activation| per branch)")
    axes.set_title("Inside the Inception modules")
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.06), ncol=4, frameon=False)


def save_explanation_png(explanation: Explanation, path: str | os.PathLike) -> Path:
    """Write `explanation_figure` as a PNG (atomically) and return its path."""
    figure = explanation_figure(explanation)
    write_with(path, lambda file: figure.savefig(file, format="png", dpi=100))
    return Path(path)
