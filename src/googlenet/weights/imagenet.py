"""torchvision's ImageNet GoogLeNet (69.778% top-1) for `--init` and as a model directory.

What the file is, where it comes from, how it is checked and what it expects are defined once, with the
weights' name (`googlenet.models.pretrained.GoogLeNet_Weights.IMAGENET1K_V1`, whose `checked_file` is the
one way to the file); this module gives that definition the name `--init` reads (`SOURCE_NAME`) and turns
any torchvision googlenet checkpoint into a model directory (`import_torchvision`).
"""

from __future__ import annotations

from pathlib import Path

from googlenet.models.metadata import attach_metadata
from googlenet.models.network import GoogLeNetConfig, uninitialised_googlenet
from googlenet.models.pretrained import GoogLeNet_Weights
from googlenet.weights.loading import load_checkpoint_file, load_state_dict_checked, state_dict_from_checkpoint
from googlenet.weights.model_dir import save_pretrained
from googlenet.weights.sources import check_model_destination

WEIGHTS = GoogLeNet_Weights.IMAGENET1K_V1
SOURCE_NAME = "torchvision-imagenet"
FILE_NAME = WEIGHTS.file_name
URL = WEIGHTS.url
TOP1 = WEIGHTS.value.accuracy["acc@1"]  # torchvision's published ImageNet-1k validation top-1
PREPROCESSING = WEIGHTS.preprocessing  # torchvision's eval transform for these weights
CONFIG = WEIGHTS.config  # the network the file holds (transform_input on, the untrained aux heads left out)


def imagenet_checkpoint(progress: bool = True) -> Path:
    """The checked file in the torch hub cache, downloaded first if it is not there yet."""
    return WEIGHTS.checked_file(progress)


def is_imagenet_file(path: Path) -> bool:
    """Whether a local file is torchvision's ImageNet release, by its content (any name)."""
    return WEIGHTS.is_this_file(path)


def import_torchvision(
    checkpoint: str | Path, directory: str | Path, *, aux_logits: bool = False, transform_input: bool = True
) -> Path:
    """Turn a torchvision googlenet checkpoint into a model directory of the `torchvision` flavour.

    Made for torchvision's ImageNet file (googlenet-1378be20.pth, 69.778% top-1), and works for any
    torchvision googlenet state_dict. Those ImageNet weights expect inputs on a [-1, 1] scale but are
    documented with ImageNet mean/std; torchvision's `googlenet(weights=...)` silently adds the
    conversion (`transform_input=True`, pytorch/vision#4136). Here it is written into config.json as
    `transform_input: true`, and the preprocessing recorded is torchvision's for these weights, so the
    directory reproduces `torchvision.models.googlenet(weights="IMAGENET1K_V1")`. Pass
    `transform_input=False` for a torchvision googlenet you trained yourself without it.

    The released file holds aux heads that were never trained (torchvision warns so); they are
    dropped unless `aux_logits=True`. A 1000-class checkpoint gets the ImageNet class names. `directory`
    is written as `save_pretrained` writes: never into a training run directory.
    """
    check_model_destination(directory)  # before the checkpoint is read: a refusal costs nothing
    checkpoint = Path(checkpoint)
    state_dict = state_dict_from_checkpoint(load_checkpoint_file(checkpoint), checkpoint)
    if "fc.weight" not in state_dict:
        raise ValueError(f"{checkpoint}: not a GoogLeNet state_dict (no 'fc.weight'); keys: {sorted(state_dict)[:5]}...")
    if not aux_logits:
        state_dict = {key: value for key, value in state_dict.items() if not key.startswith(("aux1.", "aux2."))}
    num_classes = state_dict["fc.weight"].shape[0]
    config = GoogLeNetConfig("torchvision", num_classes=num_classes, aux_logits=aux_logits,
                             transform_input=transform_input)
    model = uninitialised_googlenet(config)  # every weight comes from the checkpoint: the load below is strict
    load_state_dict_checked(model, state_dict, checkpoint)

    categories = WEIGHTS.meta["categories"]  # what these weights expect: their preprocessing, class names
    attach_metadata(model, class_names=list(categories) if num_classes == len(categories) else None,
                    preprocessing=WEIGHTS.preprocessing)
    return save_pretrained(model, directory)
