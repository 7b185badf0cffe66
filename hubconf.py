"""torch.hub entry points for googlenet (Inception v1).

    model = torch.hub.load("OWNER/googlenet", "googlenet", weights="IMAGENET1K_V1")   # from GitHub
    model = torch.hub.load("/path/to/checkout", "googlenet_bn", source="local", num_classes=10)

`googlenet` takes torchvision's arguments and builds torchvision's network (the `torchvision` flavour),
so code written for `torch.hub.load("pytorch/vision", "googlenet", ...)` works unchanged;
`googlenet_bn` and `googlenet_paper` build the other flavours; `from_pretrained` loads a model directory
or a Hugging Face Hub repository ("hf-hub:user/repo"). The code comes from this checkout (its `src/`), not from an installed
googlenet.
"""

import os as _os
import sys as _sys

dependencies = ["torch", "torchvision", "safetensors"]

_SOURCE = _os.path.join(_os.path.dirname(_os.path.abspath(__file__)), "src")
if _os.path.isdir(_SOURCE) and "googlenet" not in _sys.modules:
    # This checkout's package, whatever version is installed; subpackages are found through the package's
    # own path afterwards, so the entry is taken out again.
    _sys.path.insert(0, _SOURCE)
    try:
        import googlenet as _googlenet
    finally:
        _sys.path.remove(_SOURCE)
else:
    import googlenet as _googlenet


def googlenet(weights=None, progress=True, **kwargs):
    """GoogLeNet as torchvision builds it (the `torchvision` flavour; its state_dicts load unchanged).

    Args:
        weights: None (random initialisation) or torchvision's ImageNet weights ("IMAGENET1K_V1",
            "DEFAULT", `googlenet.GoogLeNet_Weights.IMAGENET1K_V1` or torchvision's own member; 69.778%
            top-1). The file is downloaded once into the torch hub cache
            (`$TORCH_HOME/hub/checkpoints/googlenet-1378be20.pth`, where torchvision keeps it too).
        progress: show a progress bar while downloading.
        **kwargs: torchvision's options: `num_classes`, `aux_logits`, `transform_input`, `init_weights`,
            `dropout`, `dropout_aux`, and this library's `in_chans`.

    With weights, as in torchvision: `transform_input` defaults to True, the aux heads are left out unless
    `aux_logits=True` (they were never trained), and the class count is ImageNet's 1,000. The model comes
    in training mode, as torchvision returns it, with `class_names` and `preprocessing` attached.
    """
    return _googlenet.googlenet("torchvision", weights=weights, progress=progress, **kwargs)


def _flavour_entry(flavour):
    def build(weights=None, progress=True, **kwargs):
        if weights is not None:
            raise ValueError(f"weights={weights!r}: there are no published weights for the {flavour!r} flavour; "
                             "load a model directory or a Hugging Face Hub repository with the 'from_pretrained' "
                             "entry point")
        return _googlenet.googlenet(flavour, **kwargs)

    build.__name__ = f"googlenet_{flavour}"
    build.__doc__ = (
        f"GoogLeNet of the {flavour!r} flavour, randomly initialised ({_googlenet.FLAVOURS[flavour].description}).\n\n"
        "Keyword options as for `googlenet.googlenet`: num_classes, in_chans, aux_logits, dropout, aux_dropout\n"
        "(or torchvision's dropout_aux), naive, transform_input, init_weights. `weights` must be None."
    )
    return build


googlenet_bn = _flavour_entry("bn")
googlenet_paper = _flavour_entry("paper")
googlenet_torchvision = googlenet


def from_pretrained(name_or_path, revision=None, map_location="cpu"):
    """A saved GoogLeNet in eval mode, with its class names and preprocessing: a model directory, a training
    run directory (its `model/`), or a Hugging Face Hub repository ("hf-hub:user/repo", at `revision`; needs
    `pip install huggingface_hub`). Any other name is a local path."""
    from googlenet.weights.model_dir import from_pretrained as load

    return load(name_or_path, revision=revision, map_location=map_location)
