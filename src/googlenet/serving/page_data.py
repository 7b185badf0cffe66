"""What the page shows besides predictions: example images from the model's own evaluation data, and the
network itself (Table 1 as measured by the summary report, and the naive-versus-reduced comparison)."""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from googlenet.evaluation.model_source import ModelSource, load_run_data
from googlenet.models.network import GoogLeNet

log = logging.getLogger("googlenet.serve")

# Examples: the first image of each class in the evaluation split, at most this many.
MAX_EXAMPLES = 12
# How far into the split to look for classes not yet shown (a folder sorted by class would need more).
EXAMPLE_SCAN = 5000


@dataclass
class Example:
    label: str  # the image's true class
    split: str  # "test" or "validation"
    index: int  # its position in that split
    png: bytes = field(repr=False)


@dataclass
class Examples:
    items: list[Example]
    note: str  # where they come from, or why there are none

    def to_dict(self) -> dict[str, Any]:
        return {"note": self.note, "examples": [
            {"id": number, "label": item.label, "split": item.split, "index": item.index,
             "url": f"/v1/examples/{number}.png"} for number, item in enumerate(self.items)]}


def load_examples(model: GoogLeNet, source: ModelSource | None) -> Examples:
    """A few images of the data set the model was evaluated on (split as its run split it), one per class;
    none if it is unknown."""
    data = source.data if source is not None else None
    if data is None:
        return Examples([], "no examples: the model directory does not record its data set (a run directory does)")
    try:
        input_size = model.preprocessing.input_size if model.preprocessing is not None else None
        splits = load_run_data(source, input_size=input_size)
    except Exception as error:  # a missing data set must not stop the server: the page says why instead
        log.warning("no examples: cannot load %s (%s)", data, error)
        return Examples([], f"no examples: cannot load the data set {data} ({error})")
    split, images = ("test", splits.test_images) if splits.test_images is not None else \
        ("validation", splits.validation_images)
    if images is None:
        return Examples([], f"no examples: {data} has no test or validation split")
    chosen: dict[int, Example] = {}
    for index in range(min(len(images), EXAMPLE_SCAN)):
        image, label = images[index]
        if label in chosen or not hasattr(image, "save"):  # a duplicate class, or an unreadable file
            continue
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        chosen[label] = Example(splits.classes[label], split, index, buffer.getvalue())
        if len(chosen) >= min(MAX_EXAMPLES, len(splits.classes)):
            break
    items = [chosen[label] for label in sorted(chosen)]
    return Examples(items, f"the first image of each class in the {split} split of {data}")


def architecture(model: GoogLeNet) -> dict[str, Any]:
    """Table 1 measured on this model's network at its input size, with the printed figures beside it, and
    the naive and the dimension-reduced module compared (googlenet.models.summary)."""
    from googlenet.models.summary import summarize
    from googlenet.models.table import row

    input_size = model.preprocessing.input_size if model.preprocessing is not None else 224
    config = model.config
    report = summarize(config.flavour, max(input_size, model.min_input_size), config.naive, config.in_chans)
    rows = []
    for measured in report.rows:
        entry = asdict(measured)
        printed = row(measured.name).output_size
        entry["paper_output_side"] = printed  # the side at 224x224, as printed
        rows.append(entry)
    comparison = report.module_comparison
    return {
        "flavour": report.flavour, "input_size": report.input_size, "naive": report.naive, "rows": rows,
        "total_params": report.total_params, "total_ops": report.total_ops,
        "module_comparison": asdict(comparison),
        "note": "params: every trainable parameter of the row's modules; ops: multiply-adds measured in one "
                f"forward pass at {report.input_size}x{report.input_size}; printed: Table 1 as printed (224x224, "
                "K = 1024 weights, M multiply-adds). The classifier row is measured with 1000 classes.",
    }
