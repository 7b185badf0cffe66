"""What an Inception network does with one image: where it looked, and which branches carried the evidence.

    from googlenet.explain import explain
    result = explain("runs/fashion-mnist", "shirt.png")     # a model/run directory or a GoogLeNet
    result.class_name, result.gradcam_layer                   # the class explained, Grad-CAM's module
    for module in result.modules:                              # the nine Inception modules, 3a ... 5b
        print(module.name, [round(branch.share, 2) for branch in module.branches])

    attribution.py  Grad-CAM (captum's LayerGradCam) and the branch shares (captum's gradient x activation)
    inputs.py       an image (path, bytes, PIL image) as the model's input, and the model's view of it
    render.py       the Grad-CAM overlay and the branch-share chart as one PNG (matplotlib Figure)

Layer: beside `googlenet.evaluation`; may import models, data, weights and evaluation, never training,
inference, serving or the command line (`googlenet explain` is cli/explain.py). captum and matplotlib are
imported here, never by `import googlenet`.
"""

from __future__ import annotations

from googlenet.lazy import lazy_attributes

_PUBLIC: dict[str, str] = {
    "explain": "googlenet.explain.attribution",
    "Explanation": "googlenet.explain.attribution",
    "ModuleShares": "googlenet.explain.attribution",
    "BranchShare": "googlenet.explain.attribution",
    "inception_stages": "googlenet.explain.attribution",
    "stage_map_sizes": "googlenet.explain.attribution",
    "default_gradcam_layer": "googlenet.explain.attribution",
    "explanation_figure": "googlenet.explain.render",
    "save_explanation_png": "googlenet.explain.render",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)
