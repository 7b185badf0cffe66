"""int8 inference: post-training static quantization with ONNX Runtime, calibrated on real images.

    data = googlenet.data.load_data("fashion-mnist")
    int8 = googlenet.inference.quantize(model, calibration_images(data))   # an InferenceModel on "onnxruntime-int8"
    logits = int8(images)

The network is first rebuilt as `googlenet.inference.optimize` does (BatchNorms folded, the 1x1 reductions of each
Inception module fused), exported to ONNX, and quantized by `onnxruntime.quantization.quantize_static`:
weights int8 per output channel, activations uint8 per tensor with ranges measured on the calibration
images, QDQ format (ONNX Runtime fuses each QuantizeLinear -> Conv -> DequantizeLinear into an int8
convolution). uint8 x int8 products are what the AVX-512 VNNI instruction VPDPBUSD multiplies; CPUs without
VNNI run the same model more slowly, and may saturate the 16-bit intermediate sums (ONNX Runtime's
quantization docs: use `reduce_range` there). Weight-only or dynamic quantization would leave the
convolutions, nearly all of GoogLeNet's work, in float.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from googlenet.inference.optimize import InferenceModel, OnnxRuntimeNetwork, backend_problem, inference_network, onnx_bytes
from googlenet.models.network import GoogLeNet

INT8_BACKEND = "onnxruntime-int8"
# Calibration images: a few hundred cover the activation ranges of a CNN; more only costs time.
CALIBRATION_IMAGES = 512
CALIBRATION_BATCH = 32
# "minmax": the observed range of each activation. "percentile": clip the range to the 99.999th
# percentile of |activation|, which ignores rare outliers (better resolution for everything else).
# "entropy": the range minimising the KL divergence between the float and quantized histograms.
CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


def quantization_problem() -> str | None:
    """Why int8 quantization cannot run here, or None when it can."""
    problem = backend_problem("onnxruntime")
    return None if problem is None else problem.replace("onnxruntime backend", "int8 quantization")


def quantize(
    model: GoogLeNet,
    calibration: Tensor | Iterable[Tensor],
    *,
    method: str = "minmax",
    threads: int | None = None,
    fuse: bool = True,
) -> InferenceModel:
    """`model` quantized to int8 for ONNX Runtime on the CPU, activation ranges taken from `calibration`.

    calibration: preprocessed images as the model sees them, [N, C, H, W] (split here into batches of
        CALIBRATION_BATCH), or an iterable of such batches. Real images from the training set
        (`calibration_images`): random ones give ranges that real inputs then overflow.
    method: how an activation's range is chosen from the calibration images (CALIBRATION_METHODS).
    threads: ONNX Runtime's threads (default: torch.get_num_threads()).
    fuse: fuse the 1x1 convolutions of the Inception modules (googlenet.fast.FusedInceptionModule).
    """
    problem = quantization_problem()
    if problem is not None:
        raise ImportError(problem)
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; choose one of: {', '.join(CALIBRATION_METHODS)}")
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = list(calibration.split(CALIBRATION_BATCH) if isinstance(calibration, Tensor) else calibration)
    if not batches or any(batch.dim() != 4 or batch.shape[1] != model.in_chans for batch in batches):
        raise ValueError(f"calibration must be image batches [N, {model.in_chans}, H, W], at least one image")
    network = inference_network(model, fuse).cpu()
    with tempfile.TemporaryDirectory(prefix="googlenet-int8-") as folder:
        exported, float_path, int8_path = (Path(folder) / name for name in ("export.onnx", "float.onnx", "int8.onnx"))
        exported.write_bytes(onnx_bytes(network, batches[0].float().cpu()))
        # ONNX Runtime's recipe: shape inference and its basic graph optimisations before quantizing.
        quant_pre_process(str(exported), str(float_path))
        quantize_static(
            float_path, int8_path, _CalibrationBatches(batches),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method={
                "minmax": CalibrationMethod.MinMax,
                "percentile": CalibrationMethod.Percentile,
                "entropy": CalibrationMethod.Entropy,
            }[method],
        )
        return InferenceModel(OnnxRuntimeNetwork(int8_path.read_bytes(), threads), INT8_BACKEND, model)


class _CalibrationBatches:
    """onnxruntime.quantization's CalibrationDataReader protocol over torch batches."""

    def __init__(self, batches: list[Tensor]) -> None:
        self.batches = batches
        self.iterator: Iterator[Tensor] = iter(batches)

    def get_next(self) -> dict[str, Any] | None:
        from googlenet.weights.export import INPUT_NAME

        batch = next(self.iterator, None)
        return None if batch is None else {INPUT_NAME: batch.detach().float().cpu().contiguous().numpy()}

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
    from googlenet.data.datasets import InMemoryImageDataset
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
    return torch.stack([chosen[index][0] for index in range(len(chosen))])
