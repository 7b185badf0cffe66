"""The model card: README.md in every model directory, read by people and by the Hugging Face Hub.

The card is written from what the directory holds (config.json, and evaluation.json where a training run
left one) and, for a run's model/, from the run's config.json: the metadata block the Hub reads
(library_name, license, tags, datasets, metrics, pipeline_tag, and model-index results where a split was
measured), then what the model is, how it was trained, how to load it, what it is for, its limits and
the citation. It names data sets, never local paths: a card may be pushed to a public repository.

A README.md this module did not write (no `GENERATED_MARK` line) is the owner's and is left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from googlenet.atomic_files import write_text
from googlenet.models.pretrained import GoogLeNet_Weights
from googlenet.weights.hf_hub import HUB_PREFIX
from googlenet.weights.records import read_record

MODEL_CARD_NAME = "README.md"
GENERATED_MARK = ("<!-- Written by googlenet with the weights, and rewritten with them: "
                  "delete this line to keep your own card. -->")
LICENSE = "mit"  # the package's; the data's own terms apply to weights trained on it (see Limits)

# The built-in data sets and torchvision's ImageNet weights' data, with their ids on the Hub (None: none
# the Hub serves as the data set's own).
HUB_DATASETS: dict[str, str | None] = {
    "fashion-mnist": "zalando-datasets/fashion_mnist",
    "mnist": "ylecun/mnist",
    "kmnist": None,
    "cifar10": "uoft-cs/cifar10",
    "cifar100": "uoft-cs/cifar100",
    "imagenet": "ILSVRC/imagenet-1k",
}
# The run options a card lists as its recipe: what changes the weights, never where files are.
RECIPE_OPTIONS = ("flavour", "init", "freeze_to", "epochs", "batch_size", "input_size", "train_preset", "hflip",
                  "random_erase", "aux_logits", "aux_weight", "lr", "momentum", "nesterov", "weight_decay", "schedule",
                  "warmup_epochs", "label_smoothing", "ema_decay", "amp", "seed", "val_fraction")
PAPER_BIBTEX = """@inproceedings{szegedy2015going,
  title     = {Going deeper with convolutions},
  author    = {Szegedy, Christian and Liu, Wei and Jia, Yangqing and Sermanet, Pierre and Reed, Scott and
               Anguelov, Dragomir and Erhan, Dumitru and Vanhoucke, Vincent and Rabinovich, Andrew},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {1--9},
  year      = {2015},
  note      = {arXiv:1409.4842}
}"""


def write_model_card(directory: str | Path, *, run_dir: str | Path | None = None, repo_id: str | None = None,
                     ) -> Path | None:
    """Write `directory`/README.md from its config.json (and evaluation.json, and `run_dir`'s config.json);
    `repo_id`: the Hub repository it goes to, for the loading example. Returns the card's path, or None where
    the directory holds a README.md of its owner's, which is kept."""
    directory = Path(directory)
    card = directory / MODEL_CARD_NAME
    if card.is_file() and GENERATED_MARK not in card.read_text(errors="replace"):
        return None
    config = read_record(directory / "config.json")
    evaluation = read_record(directory / "evaluation.json")
    run_config = read_record(Path(run_dir) / "config.json") if run_dir is not None else {}
    write_text(card, model_card(config, evaluation=evaluation, run_config=run_config, repo_id=repo_id))
    return card


def model_card(config: dict[str, Any], *, evaluation: dict[str, Any] | None = None,
               run_config: dict[str, Any] | None = None, repo_id: str | None = None) -> str:
    """The card's text from a model directory's config.json, its evaluation.json and its run's config.json."""
    evaluation, run_config = evaluation or {}, run_config or {}
    model = config.get("model", {})
    data = _data_name(evaluation.get("data") or run_config.get("data"))
    if data is None and config.get("class_names") == list(GoogLeNet_Weights.IMAGENET1K_V1.meta["categories"]):
        data = "imagenet"  # torchvision's ImageNet weights (googlenet import-torchvision)
    results = {split: evaluation[split] for split in ("validation", "test")
               if isinstance(evaluation.get(split), dict) and _is_number(evaluation[split].get("top1"))}
    return "\n".join([
        "---", *_metadata(model, data, results), "---", GENERATED_MARK, "",
        f"# GoogLeNet ({model.get('flavour', '?')} flavour){f' on {data}' if data else ''}", "",
        *_what_it_is(config, model), "", *_how_trained(run_config, evaluation, results, data), "",
        *_how_to_use(repo_id), "", *_intended_use_and_limits(data, measured=bool(results)), "", "## Citation", "",
        "The network is the paper's (Szegedy et al., arXiv 1409.4842); the software that trained these weights has a "
        "CITATION.cff of its own.", "", "```bibtex", PAPER_BIBTEX, "```", "",
    ])


def _metadata(model: dict[str, Any], data: str | None, results: dict[str, dict[str, Any]]) -> list[str]:
    tags = ["image-classification", "googlenet", "inception-v1", "pytorch"]
    if model.get("flavour"):
        tags.append(f"googlenet-{model['flavour']}")
    lines = ["library_name: googlenet", f"license: {LICENSE}", f"tags: {json.dumps(tags)}"]
    hub_id = HUB_DATASETS.get(data or "")
    if hub_id:
        lines.append(f"datasets: {json.dumps([hub_id])}")
    lines += ["metrics: [\"accuracy\"]", "pipeline_tag: image-classification"]
    if results and data:
        name = f"googlenet-{model.get('flavour')}-{data.replace(' ', '-')}"
        lines += ["model-index:", f"  - name: {json.dumps(name)}",
                  "    results:", "      - task: {type: image-classification, name: Image classification}",
                  f"        dataset: {{name: {json.dumps(data)}, type: {json.dumps(hub_id or data)}}}",
                  "        metrics:"]
        for split, figures in results.items():
            lines += [f"          - {{type: accuracy, name: {json.dumps(f'top-1, {split} split')}, "
                      f"value: {round(float(figures['top1']), 2)}}}"]
    return lines


def _what_it_is(config: dict[str, Any], model: dict[str, Any]) -> list[str]:
    names = config.get("class_names") or []
    preprocessing = config.get("preprocessing") or {}
    shown = ", ".join(names[:10]) + (f", ... ({len(names)} in all)" if len(names) > 10 else "")
    lines = ["## What it is", "",
             f"GoogLeNet (Inception v1, the paper's Table 1), `{model.get('flavour')}` flavour, "
             f"{model.get('num_classes')} classes, {model.get('in_chans')} input channel(s), "
             f"{'with' if model.get('aux_logits') else 'without'} the auxiliary classifiers."]
    if names:
        lines.append(f"Classes, in output order: {shown}.")
    if preprocessing:
        lines.append(f"Input: the shorter side resized to {preprocessing.get('resize_size')} px, the centre "
                     f"{preprocessing.get('input_size')} px kept, scaled to [0, 1] and normalised with mean "
                     f"{preprocessing.get('mean')} and std {preprocessing.get('std')} "
                     f"({preprocessing.get('channel_order')}); config.json records it for every runtime.")
    return lines


def _how_trained(run_config: dict[str, Any], evaluation: dict[str, Any], results: dict[str, dict[str, Any]],
                 data: str | None) -> list[str]:
    lines = ["## How it was trained", ""]
    if not run_config and not evaluation:
        return lines + ["Not recorded: these weights were saved without the training run that made them."]
    if data:
        lines.append(f"On {data}, with `googlenet train`; the options that set the weights:")
        lines.append("")
    lines += [f"- `{name}`: {_shown(name, run_config[name])}" for name in RECIPE_OPTIONS if name in run_config]
    if evaluation.get("epoch") is not None:
        weights = "averaged (EMA)" if evaluation.get("weights") == "ema" else "raw"
        lines += ["", f"Kept: epoch {evaluation['epoch']}, {weights} weights, chosen by "
                      f"{evaluation.get('selected_by') or 'the run'}."]
    for split, figures in results.items():
        top5 = f", top-5 {figures['top5']:.2f}%" if _is_number(figures.get("top5")) else ""
        count = f" on {figures['count']} images" if _is_number(figures.get("count")) else ""
        lines.append(f"- {split} split: top-1 {figures['top1']:.2f}%{top5}{count}"
                     + (", never used to choose" if split == "test" else ""))
    return lines


def _how_to_use(repo_id: str | None) -> list[str]:
    where = HUB_PREFIX + repo_id.removeprefix(HUB_PREFIX) if repo_id else "path/to/this/directory"
    return ["## How to use it", "", "```python", "import googlenet", "",
            f"model = googlenet.from_pretrained({where!r})  # eval mode, class names and preprocessing attached",
            "```", "", f"or from the command line: `googlenet predict {where} image.png`."]


def _intended_use_and_limits(data: str | None, *, measured: bool) -> list[str]:
    figures = ("The figures above hold for the splits they name only" if measured
               else "No accuracy was recorded with these weights")
    return [
        "## Intended use", "",
        "Learning what an Inception module does, a baseline for research, and a small image classifier for the "
        "classes above, to run on a CPU.", "",
        "## Limits", "",
        f"The model knows the images it was trained on{f' ({data})' if data else ''}: anything else is out of its "
        f"distribution and its answers mean little. {figures}: measure it on data of your own before relying on "
        "it. The weights carry the biases of their data and the data set's terms of use.",
    ]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _shown(name: str, value: Any) -> str:
    named = isinstance(value, str) and (value.startswith(HUB_PREFIX) or value == "torchvision-imagenet")
    if name == "init" and isinstance(value, str) and not named:
        return "initial weights from a local file or directory"  # its path stays on this machine
    return json.dumps(value)


def _data_name(data: Any) -> str | None:
    """A built-in data set's name, or "an image folder" for a folder: its path stays on this machine."""
    if not isinstance(data, str) or not data:
        return None
    return data if data in HUB_DATASETS else "an image folder"
