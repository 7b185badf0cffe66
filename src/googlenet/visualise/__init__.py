"""What each channel of each Inception branch responds to: feature visualisation, dataset examples and
DeepDream.

    from googlenet.visualise import visualise, dataset_examples
    image = visualise(model, "inception4c.branch3", 37)        # [C, S, S] in [0, 1]
    examples = dataset_examples("runs/fashion-mnist", split="validation")
    examples.top("inception4c.branch3", 37)                    # the split's indices that excite it most

    units.py            modules, branches and channels by name, and the trunk run only as far as needed
    parameterisation.py the image in Fourier space with decorrelated colour (lucid's parameterisation)
    robustness.py       small random shifts, scales and turns at every step
    optimise.py         visualise(): gradient ascent on a channel's mean activation
    examples.py         dataset_examples(): one pass over a split, the top-k images per channel, cached
    dream.py            deep_dream(): the same ascent started from a photo, over octaves
    sheet.py            one PNG per module: each channel's visualisation beside its dataset examples

The commands `googlenet visualise` and `googlenet dream` (googlenet.cli) call these.

Layer: beside `googlenet.explain` (whose module and branch names it uses); may import models, data,
weights, evaluation and explain.
"""

from __future__ import annotations

from googlenet.lazy import lazy_attributes

_PUBLIC: dict[str, str] = {
    "visualise": "googlenet.visualise.optimise",
    "visualise_channels": "googlenet.visualise.optimise",
    "channel_means": "googlenet.visualise.optimise",
    "Robustness": "googlenet.visualise.robustness",
    "resolve_unit": "googlenet.visualise.units",
    "all_units": "googlenet.visualise.units",
    "Unit": "googlenet.visualise.units",
    "dataset_examples": "googlenet.visualise.examples",
    "DatasetExamples": "googlenet.visualise.examples",
    "deep_dream": "googlenet.visualise.dream",
    "save_sheet": "googlenet.visualise.sheet",
}

__all__ = sorted(_PUBLIC)


__getattr__, __dir__ = lazy_attributes(__name__, _PUBLIC)
