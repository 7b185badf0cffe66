"""int8 inference: post-training static quantization, calibrated on real images, on every CPU.

    data = googlenet.data.load_data("fashion-mnist")
    int8 = googlenet.inference.quantize(model, calibration_images(data))   # backend="auto": measured here
    logits = int8(images)
    print(int8.describe())      # which int8 path, why, and the timings behind the choice

Two int8 paths (`INT8_BACKENDS`), each fed the network rebuilt as `googlenet.inference.optimize` does
(BatchNorms folded; for ONNX Runtime the 1x1 reductions of each Inception module fused), every
convolution in int8 and the classifier left in float (`CLASSIFIER_OPS`):

- "onnxruntime-int8": ONNX exported, quantized by `onnxruntime.quantization.quantize_static` (QDQ, weights
  int8 per output channel, activations uint8 per tensor, ranges measured on the calibration images);
- "openvino-int8": OpenVINO's model quantized by NNCF's post-training quantization (`nncf.quantize`).

Why the machine matters. uint8 x int8 products are what VNNI's VPDPBUSD sums straight into 32 bits. CPUs
without VNNI (AVX2, and AVX-512 before Cascade Lake) use VPMADDUBSW instead, which adds two products into
a *saturating* 16-bit integer: 2 x 255 x 127 = 64,770 does not fit in 32,767, and a trained GoogLeNet on
Fashion-MNIST lost 2.68 points of test accuracy that way in ONNX Runtime (91.19% -> 88.51%, AVX2 EPYC).
The remedy both libraries document is 7-bit weights (ONNX Runtime's `reduce_range`, NNCF's `overflow_fix`):
2 x 255 x 63 = 32,130 always fits. So where `googlenet.machine` finds no VNNI, weights are quantized to 7
bits (`saturation_safe`); with VNNI the full 8 bits are kept. Weight-only or dynamic quantization would
leave the convolutions, nearly all of GoogLeNet's work, in float.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from googlenet.inference.optimize import (
    AUTO_BATCH,
    InferenceModel,
    OnnxRuntimeNetwork,
    OpenVinoNetwork,
    backend_problem,
    fastest,
    inference_network,
    openvino_model,
)
from googlenet.machine import describe_machine
from googlenet.models.network import GoogLeNet
from googlenet.weights.export import onnx_bytes

INT8_BACKEND = "onnxruntime-int8"
OPENVINO_INT8_BACKEND = "openvino-int8"
INT8_BACKENDS = (INT8_BACKEND, OPENVINO_INT8_BACKEND)
# Calibration images: a few hundred cover the activation ranges of a CNN; more only costs time.
CALIBRATION_IMAGES = 512
CALIBRATION_BATCH = 32
# "minmax": the observed range of each activation. "percentile": clip the range to the 99.999th
# percentile of |activation|, which ignores rare outliers (better resolution for everything else).
# "entropy": the range minimising the KL divergence between the float and quantized histograms.
# ONNX Runtime's calibrators; NNCF chooses its own ranges (min-max statistics), so "openvino-int8" takes
# "minmax" only.
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
# The classifier stays in float: its int8 output would be the logits on 256 levels, and classes whose
# logits fall on the same level are then told apart by chance. That cost 1.0 point of Fashion-MNIST
# validation accuracy (79.18% -> 78.18%) on a briefly trained model, and nothing with the classifier in
# float (79.20%); it is 0.07% of GoogLeNet's multiply-adds at 224x224. (The ONNX and OpenVINO op names.)
CLASSIFIER_OPS = ("Gemm", "MatMul")
# Whether each backend gets the Inception modules' 1x1 reductions fused (optimize.FUSE_BY_DEFAULT's reason:
# OpenVINO's blocked layout gains nothing from it).
FUSE_INT8 = {INT8_BACKEND: True, OPENVINO_INT8_BACKEND: False}


def int8_problem(backend: str = INT8_BACKEND) -> str | None:
    """Why the int8 path `backend` cannot run here (naming what to install), or None when it can."""
    if backend not in INT8_BACKENDS:
        return f"unknown int8 backend {backend!r}; choose one of: auto, {', '.join(INT8_BACKENDS)}"
    if backend == INT8_BACKEND:
        problem = backend_problem("onnxruntime")
        return None if problem is None else problem.replace("onnxruntime backend", "int8 quantization")
    missing = [name for name in ("openvino", "nncf") if importlib.util.find_spec(name) is None]
    return f"the openvino-int8 backend needs {' and '.join(missing)}: pip install {' '.join(missing)}" if missing else None


def quantization_problem() -> str | None:
    """Why no int8 path at all can run here, or None when one can."""
    problems = [int8_problem(backend) for backend in INT8_BACKENDS]
    return None if any(problem is None for problem in problems) else problems[0]


def saturation_safe(machine: Any = None) -> bool:
    """Whether int8 weights must keep to 7 bits on `machine` (default: this one): True without VNNI."""
    return not (machine or describe_machine()).has_vnni


def quantize(
    model: GoogLeNet,
    calibration: Tensor | Iterable[Tensor],
    *,
    backend: str = "auto",
    method: str = "minmax",
    threads: int | None = None,
    fuse: bool | None = None,
    seven_bit_weights: bool | None = None,
    example_input: Tensor | None = None,
) -> InferenceModel:
    """`model` quantized to int8 for the CPU, activation ranges taken from `calibration`.

    calibration: preprocessed images as the model sees them, [N, C, H, W] (split here into batches of
        CALIBRATION_BATCH), or an iterable of such batches. Real images from the training set
        (`calibration_images`): random ones give ranges that real inputs then overflow.
    backend: one of `INT8_BACKENDS`, or "auto": build each installed one and keep the fastest on
        `example_input` (default: the first AUTO_BATCH calibration images), as `optimize` does for fp32.
    method: how an activation's range is chosen (CALIBRATION_METHODS; anything but "minmax" is ONNX
        Runtime's only, and "auto" then measures that one alone).
    threads: the runtime's threads (default: torch.get_num_threads()).
    fuse: fuse the 1x1 convolutions of the Inception modules (default: per backend, FUSE_INT8).
    seven_bit_weights: quantize weights to 7 bits so that 16-bit intermediate sums cannot saturate
        (default: `saturation_safe()`, i.e. where the CPU has no VNNI). False on such a CPU is the old,
        inaccurate behaviour: for measuring it only.
    """
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose one of: {', '.join(CALIBRATION_METHODS)}")
    if backend != "auto" and backend not in INT8_BACKENDS:
        raise ValueError(int8_problem(backend))
    if backend == OPENVINO_INT8_BACKEND and method != "minmax":
        raise ValueError(f"calibration method {method!r} is ONNX Runtime's; {OPENVINO_INT8_BACKEND} takes minmax")
    candidates = [backend] if backend != "auto" else [
        name for name in INT8_BACKENDS if name == INT8_BACKEND or method == "minmax"]
    available = [name for name in candidates if int8_problem(name) is None]
    if not available:
        raise ImportError(int8_problem(candidates[0]))
    batches = list(calibration.split(CALIBRATION_BATCH) if isinstance(calibration, Tensor) else calibration)
    if not batches or any(batch.dim() != 4 or batch.shape[1] != model.in_chans for batch in batches):
        raise ValueError(f"calibration must be image batches [N, {model.in_chans}, H, W], at least one image")
    batches = [batch.detach().float().cpu().contiguous() for batch in batches]
    seven_bit = saturation_safe() if seven_bit_weights is None else seven_bit_weights

    def build(name: str) -> nn.Module:
        network = inference_network(model, FUSE_INT8[name] if fuse is None else fuse).cpu()
        if name == INT8_BACKEND:
            return OnnxRuntimeNetwork(_onnxruntime_int8(network, batches, method, seven_bit), threads)
        return OpenVinoNetwork(_openvino_int8(network, batches, seven_bit), threads)

    weights = "7-bit weights (no VNNI: 16-bit sums would saturate)" if seven_bit else "8-bit weights"
    if backend != "auto" or len(available) == 1:
        return InferenceModel(build(available[0]), available[0], model, note=weights)
    example = example_input if example_input is not None else torch.cat(batches)[:AUTO_BATCH]
    name, network, timings, failures = fastest({name: (lambda name=name: build(name)) for name in available}, example)
    return InferenceModel(network, name, model, timings, note=weights, failures=failures)


def _onnxruntime_int8(network: nn.Module, batches: list[Tensor], method: str, seven_bit: bool) -> bytes:
    """The ONNX file of `network`, statically quantized by ONNX Runtime (QDQ), as bytes."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix="googlenet-int8-") as folder:
        exported, float_path, int8_path = (Path(folder) / name for name in ("export.onnx", "float.onnx", "int8.onnx"))
        exported.write_bytes(onnx_bytes(network, batches[0]))
        # ONNX Runtime's recipe: shape inference and its basic graph optimisations before quantizing.
        quant_pre_process(str(exported), str(float_path))
        import onnx

        classifier = [node.name for node in onnx.load(str(float_path)).graph.node if node.op_type in CLASSIFIER_OPS]
        quantize_static(
            float_path, int8_path, _CalibrationBatches(batches),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=seven_bit,
            nodes_to_exclude=classifier,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "percentile": CalibrationMethod.Percentile,
                "entropy": CalibrationMethod.Entropy,
            }[method],
        )
        return int8_path.read_bytes()


def _openvino_int8(network: nn.Module, batches: list[Tensor], seven_bit: bool) -> Any:
    """`network` as an OpenVINO model quantized by NNCF (int8 weights per channel, uint8 activations)."""
    import nncf
    from nncf.common.logging import nncf_logger
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    converted = openvino_model(network, batches[0])
    # NNCF draws its progress bars and logs on stdout, which is for `--json` answers: the bars go to
    # stderr here, and only its errors are logged.
    level = nncf_logger.level
    nncf_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            return nncf.quantize(
                converted,
                nncf.Dataset([batch.numpy() for batch in batches]),
                preset=nncf.QuantizationPreset.PERFORMANCE,  # symmetric activations: the CPU plugin's fast kernels
                subset_size=len(batches),  # NNCF counts the data set's items: here, batches
                ignored_scope=nncf.IgnoredScope(types=list(CLASSIFIER_OPS), validate=False),
                advanced_parameters=AdvancedQuantizationParameters(
                    overflow_fix=OverflowFix.ENABLE if seven_bit else OverflowFix.DISABLE),
            )
    finally:
        nncf_logger.setLevel(level)


class _CalibrationBatches:
    """onnxruntime.quantization's CalibrationDataReader protocol over torch batches."""

    def __init__(self, batches: list[Tensor]) -> None:
        self.batches = batches
        self.iterator: Iterator[Tensor] = iter(batches)

    def get_next(self) -> dict[str, Any] | None:
        from googlenet.weights.export import INPUT_NAME

        batch = next(self.iterator, None)
        return None if batch is None else {INPUT_NAME: batch.numpy()}

    def rewind(self) -> None:
        self.iterator = iter(self.batches)


def calibration_images(data: Any, count: int = CALIBRATION_IMAGES, seed: int = 0, preprocessing: Any = None) -> Tensor:
    """`count` images of a data set's training split, chosen at random (with `seed`), as the model sees them
    at evaluation: [count, C, S, S]. `data` is a `googlenet.data.DataSplits` (`load_data`'s result);
    `preprocessing` the model's (default: the data set's).

    Training images, never the evaluation ones, so that the accuracy measured after quantization is not
    measured on the images the ranges were fitted to. They go through the evaluation preprocessing, not the
    training augmentation: the ranges are those of the images the quantized model will be given.
    """
    from googlenet.data.images import UnreadableImage
    from googlenet.data.in_memory import InMemoryImageDataset
    from googlenet.data.splits import SkippedImagesWarning
    from googlenet.data.transforms import eval_preset

    if count < 1:
        raise ValueError(f"the number of calibration images must be at least 1, got {count}")
    train = data.train
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(train), generator=generator)[:count].tolist()
    transform = eval_preset(preprocessing or data.preprocessing)
    if isinstance(train, InMemoryImageDataset):  # the built-in data sets: a uint8 tensor of all images
        chosen: Any = InMemoryImageDataset(train.images[indices], train.targets[indices], transform)
    elif hasattr(train, "subset"):  # an image folder (data.VerifiedImageFolder)
        chosen = train.subset(indices, transform)
    else:
        raise TypeError(f"cannot take calibration images from a {type(train).__name__}; pass image batches")
    images, unreadable = [], []
    for index in range(len(chosen)):
        image = chosen[index][0]
        (unreadable if isinstance(image, UnreadableImage) else images).append(image)
    if unreadable:  # passed the up-front check, fails to decode: left out and named, as training does
        names = "; ".join(f"{image.path} ({image.reason})" for image in unreadable)
        warnings.warn(f"calibration leaves out {len(unreadable)} unreadable image(s): {names}", SkippedImagesWarning,
                      stacklevel=2)
    if not images:
        raise ValueError(f"none of the {len(chosen)} calibration images chosen from {data.name} can be decoded")
    return torch.stack(images)
