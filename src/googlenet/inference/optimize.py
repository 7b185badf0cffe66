"""Fast inference: the logits of a GoogLeNet, computed by a network rebuilt for the machine it runs on.

    fast = googlenet.optimize(model)          # backend="auto": measured here, the fastest kept
    logits = fast(images)                     # the same logits as model.eval()(images), within 1e-4
    print(fast.backend, fast.timings)         # which backend, and what the choice was based on

`optimize` rebuilds a copy of the model in four steps (the model given is not changed):

1. every BatchNorm folded into the convolution before it: in eval mode a BatchNorm is a fixed affine map
   per channel, so it becomes the convolution's weight scale and bias (torch's `fuse_conv_bn_eval`);
2. horizontal fusion: the three 1x1 convolutions of an Inception module that read the module's input
   (branch 1 and the reductions of branches 2 and 3) become one convolution whose output is split. The
   input is read once, and one GEMM with 176-576 output channels replaces three thin ones. For the
   backends that gain from it (`FUSE_BY_DEFAULT`: PyTorch's own; not the runtimes with blocked layouts);
3. channels_last (NHWC) weights and inputs for PyTorch's backends, the layout oneDNN's CPU convolutions
   are fastest in (the runtimes choose their own layout);
4. a backend (`BACKENDS`): eager PyTorch; torch.compile (Inductor, with weight freezing); ONNX Runtime
   (its own graph optimisations on top, all levels); OpenVINO where it is installed.

The aux heads are dropped (the paper discards them at inference) and dropout is an identity in eval mode.
The optional backends are imported only when asked for, and "auto" tries only those installed: a missing
one never breaks the eager path.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from googlenet.models.layers import ConvBlock, InceptionModule
from googlenet.models.network import GoogLeNet
# The one export path, shared with `googlenet export`.
from googlenet.weights.export import exported_program, onnx_bytes

# "eager": the rebuilt network in PyTorch; "compile": the same under torch.compile (needs a C++ compiler on
# CPUs); "onnxruntime" and "openvino": exported to ONNX Runtime or OpenVINO (CPU only, optional packages).
BACKENDS = ("eager", "compile", "onnxruntime", "openvino")
# What "auto" measures. torch.compile is left out: it compiles for tens of seconds to minutes (per batch
# size) on a 2-core CPU before its first answer, more than it saves in a predict or evaluate run, and it
# measured 0.7-0.8x ONNX Runtime's speed anyway (docs/speed.md). Ask for it by name.
AUTO_CANDIDATES = ("onnxruntime", "openvino", "eager")
# Whether a backend gets the Inception modules' 1x1 convolutions fused. Not ONNX Runtime: it runs its
# convolutions in a blocked layout (NCHWc, 16 channels a block on AVX-512) that its Split operator does
# not know, so each fused module would cost it layout conversions (36 ReorderOutput and 26 ReorderInput
# nodes in the optimised graph, against 1 without fusion). OpenVINO, also blocked, measured 0-7% slower
# fused (docs/speed.md). Both fold BatchNorms themselves as well; eager and compile gain from both.
FUSE_BY_DEFAULT = {"eager": True, "compile": True, "onnxruntime": False, "openvino": False}
# The batch "auto" measures the candidates on, when not given an example input.
AUTO_BATCH = 32
DEFAULT_INPUT_SIZE = 224


# --- The network rebuilt for inference --------------------------------------------------------------


def fold_batch_norms(network: nn.Module) -> nn.Module:
    """Fold every ConvBlock's BatchNorm into its convolution, in place (eval-mode statistics)."""
    for block in network.modules():
        if isinstance(block, ConvBlock) and isinstance(block.bn, nn.BatchNorm2d):
            if block.bn.training:
                raise ValueError("fold_batch_norms needs eval-mode BatchNorms: call .eval() first")
            block.conv = fuse_conv_bn_eval(block.conv, block.bn)
            block.bn = nn.Identity()
    return network


class FusedInceptionModule(nn.Module):
    """An InceptionModule (paper figure 2b) for inference, its three 1x1 convolutions on the input as one.

    Built from an InceptionModule whose BatchNorms are folded: each unit is then a convolution with a bias
    followed by ReLU, so the three units that read the input are one convolution over the concatenated
    filters, followed by ReLU and a split by channels. The output is the InceptionModule's, in its order.
    """

    def __init__(self, module: InceptionModule) -> None:
        super().__init__()
        units: tuple[ConvBlock, ...] = (
            module.branch1, module.branch2[0], module.branch2[1], module.branch3[0], module.branch3[1],
            module.branch4[1],
        )
        if any(not isinstance(unit.bn, nn.Identity) for unit in units):
            raise ValueError("FusedInceptionModule needs the BatchNorms folded first (fold_batch_norms)")
        first = units[0].conv
        reductions = [module.branch1.conv, module.branch2[0].conv, module.branch3[0].conv]
        self.split_sizes = [conv.out_channels for conv in reductions]
        self.reduce = nn.Conv2d(
            first.in_channels, sum(self.split_sizes), 1, device=first.weight.device, dtype=first.weight.dtype
        )
        with torch.no_grad():
            self.reduce.weight.copy_(torch.cat([conv.weight for conv in reductions]))
            self.reduce.bias.copy_(torch.cat([_bias(conv) for conv in reductions]))
        self.conv3x3 = module.branch2[1].conv
        self.conv5x5 = module.branch3[1].conv  # 3x3 in the torchvision flavour
        self.pool = module.branch4[0]
        self.pool_proj = module.branch4[1].conv
        self.out_channels = module.out_channels

    def forward(self, x: Tensor) -> Tensor:
        branch1, reduced3x3, reduced5x5 = torch.split(F.relu(self.reduce(x)), self.split_sizes, dim=1)
        return torch.cat([
            branch1,
            F.relu(self.conv3x3(reduced3x3)),
            F.relu(self.conv5x5(reduced5x5)),
            F.relu(self.pool_proj(self.pool(x))),
        ], 1)


def _bias(conv: nn.Conv2d) -> Tensor:
    return conv.bias if conv.bias is not None else conv.weight.new_zeros(conv.out_channels)


def fuse_inception_reductions(network: GoogLeNet) -> GoogLeNet:
    """Replace each InceptionModule of `network` (BatchNorms folded) by a FusedInceptionModule, in place."""
    for name, module in network.stages():
        if isinstance(module, InceptionModule):
            setattr(network, name, FusedInceptionModule(module))
    return network


def inference_network(model: GoogLeNet, fuse: bool = True) -> GoogLeNet:
    """A copy of `model` for inference: eval mode, aux heads dropped, BatchNorms folded, and with `fuse`
    the 1x1 convolutions on each Inception module's input fused."""
    if not isinstance(model, GoogLeNet):
        raise TypeError(f"inference_network takes a googlenet.GoogLeNet, got {type(model).__name__}")
    network = copy.deepcopy(model).eval()
    network.drop_aux_heads()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    fold_batch_norms(network)
    return fuse_inception_reductions(network) if fuse else network


# --- Backends ---------------------------------------------------------------------------------------


def backend_problem(backend: str, device: torch.device | str = "cpu") -> str | None:
    """Why `backend` cannot run here (a sentence naming what to install), or None when it can."""
    device = torch.device(device)
    if backend not in BACKENDS:
        return f"unknown backend {backend!r}; choose one of: auto, {', '.join(BACKENDS)}"
    if backend in ("onnxruntime", "openvino") and device.type != "cpu":
        return f"the {backend} backend runs on the CPU only (this model is on {device})"
    if backend == "onnxruntime":
        missing = [name for name in ("onnxruntime", "onnxscript") if importlib.util.find_spec(name) is None]
        if missing:
            return f"the onnxruntime backend needs {' and '.join(missing)}: pip install {' '.join(missing)}"
    if backend == "openvino" and importlib.util.find_spec("openvino") is None:
        return "the openvino backend needs OpenVINO: pip install openvino"
    if backend == "compile" and device.type == "cpu" and not any(map(shutil.which, ("g++", "c++", "clang++"))):
        return "the compile backend needs a C++ compiler on CPUs (torch.compile's Inductor): install g++"
    return None


def available_backends(device: torch.device | str = "cpu") -> list[str]:
    """The backends that can run on `device` with what is installed."""
    return [backend for backend in BACKENDS if backend_problem(backend, device) is None]


def check_backend(backend: str, device: torch.device | str = "cpu", option: str = "backend") -> None:
    """Raise a ValueError naming `option`, the problem and the backends available, unless `backend` runs here."""
    if backend == "auto":
        return
    problem = backend_problem(backend, device)
    if problem is not None:
        raise ValueError(f"{option}: {problem}. Available here: auto, {', '.join(available_backends(device))}")


class OnnxRuntimeNetwork(nn.Module):
    """An ONNX Runtime session as a module: torch tensor in (NCHW or channels_last), torch tensor out."""

    def __init__(self, onnx_model: bytes, threads: int | None = None) -> None:
        super().__init__()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session = onnxruntime.InferenceSession(onnx_model, options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def forward(self, x: Tensor) -> Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run([self.output_name], {self.input_name: array})[0])


class OpenVinoNetwork(nn.Module):
    """An OpenVINO model compiled for the CPU, as a module. `precision` is OpenVINO's inference precision
    hint for the operations left in float: "f32" (OpenVINO would otherwise pick bf16 on CPUs with AMX,
    and these logits are meant to be the model's) or "bf16" (`optimize(precision="bf16")`)."""

    def __init__(self, converted: Any, threads: int | None = None, precision: str = "f32") -> None:
        super().__init__()
        import openvino

        self.compiled = openvino.Core().compile_model(converted, "CPU", {
            "INFERENCE_PRECISION_HINT": precision,
            "INFERENCE_NUM_THREADS": threads or torch.get_num_threads(),
            "PERFORMANCE_HINT": "LATENCY",
        })

    def forward(self, x: Tensor) -> Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.compiled(array)[0].copy())


def openvino_model(network: nn.Module, example: Tensor) -> Any:
    """`network` converted to an OpenVINO model (from torch.export, dynamic batch)."""
    import openvino

    return openvino.convert_model(exported_program(network, example))


def _build(
    backend: str, model: GoogLeNet, example: Tensor, threads: int | None, fuse: bool | None, precision: str = "fp32"
) -> nn.Module:
    """`model` rebuilt by inference_network, running on `backend` in `precision`."""
    network = inference_network(model, FUSE_BY_DEFAULT[backend] if fuse is None else fuse)
    if backend == "onnxruntime":
        return OnnxRuntimeNetwork(onnx_bytes(network, example), threads)
    if backend == "openvino":
        return OpenVinoNetwork(openvino_model(network, example), threads, "bf16" if precision == "bf16" else "f32")
    network = network.to(memory_format=torch.channels_last)  # type: ignore[assignment]
    if precision == "bf16":
        from googlenet.inference.precision import Bfloat16Network

        network = Bfloat16Network(network)  # type: ignore[assignment]
    if backend == "compile":
        # Freezing turns the weights into constants: Inductor then pre-packs them for oneDNN once and
        # fuses the ReLUs into the convolutions. A fixed shape per batch size compiles the fastest code.
        return torch.compile(network, dynamic=False, options={"freezing": True})  # type: ignore[return-value]
    return network


class InferenceModel(nn.Module):
    """What `optimize` returns: images in (any memory format), logits out, on one backend.

    Carries the source model's `num_classes`, `in_chans`, `class_names`, `preprocessing` and `config`,
    so `googlenet.evaluation.predict` and `googlenet.evaluation.evaluate` take it where they take a GoogLeNet. Always in eval
    mode; forward runs without autograd.
    """

    def __init__(
        self, network: nn.Module, backend: str, source: GoogLeNet, timings: dict[str, float] | None = None,
        note: str = "", failures: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.network = network
        self.backend = backend
        self.note = note  # how the backend was set up, when that matters (int8: 7-bit weights)
        # Seconds per batch of the example input, per backend measured by "auto" (empty otherwise).
        self.timings: dict[str, float] = dict(timings or {})
        self.failures: dict[str, str] = dict(failures or {})  # "auto": candidates that could not run, and why
        self.num_classes = source.num_classes
        self.in_chans = source.in_chans
        self.class_names = source.class_names
        self.preprocessing = source.preprocessing
        self.config = source.config
        self.channels_last = backend in ("eager", "compile")
        self.eval()

    def train(self, mode: bool = True) -> InferenceModel:
        return super().train(False)  # folded BatchNorms have no training mode

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            return self.network(x)

    def describe(self) -> str:
        """One line: the backend, and the measurements behind the choice when "auto" chose it."""
        note = f", {self.note}" if self.note else ""
        if not self.timings:
            return f"backend {self.backend}{note}"
        measured = ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in self.timings.items())
        failed = "".join(f"; {name} could not run ({why})" for name, why in self.failures.items())
        return f"backend {self.backend}{note} (auto: fastest per batch of the example input; {measured}{failed})"


def time_calls(call: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> list[float]:
    """Seconds of each of `repeats` calls of `call`, after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def optimize(
    model: GoogLeNet,
    backend: str = "auto",
    *,
    example_input: Tensor | None = None,
    threads: int | None = None,
    fuse: bool | None = None,
    candidates: tuple[str, ...] = AUTO_CANDIDATES,
    precision: str = "fp32",
) -> InferenceModel:
    """`model` rebuilt for fast inference (see the module docstring); its logits equal the model's.

    backend: one of `BACKENDS`, or "auto": build each installed backend of `candidates` and keep the one
        fastest on `example_input` (median of 3 after a warm-up; `InferenceModel.timings` has the figures).
    example_input: a batch like those the model will see, for the ONNX Runtime and OpenVINO exports
        (which keep the batch size free) and "auto"'s measurement. Default: AUTO_BATCH random images at
        the preprocessing's input size (224 when none is recorded).
    threads: CPU threads for ONNX Runtime and OpenVINO (default: torch.get_num_threads()).
    fuse: fuse the 1x1 convolutions of the Inception modules (default: per backend, FUSE_BY_DEFAULT).
    precision: "fp32" (the model's logits), or "bf16", opt-in, where the CPU has AVX-512 BF16 or AMX
        (`googlenet.inference.precision`; a ValueError saying why elsewhere).
    """
    from googlenet.inference.precision import BF16_BACKENDS, precision_problem

    if not isinstance(model, GoogLeNet):
        raise TypeError(f"optimize takes a googlenet.GoogLeNet, got {type(model).__name__}")
    device = next(model.parameters()).device
    check_backend(backend, device)
    problem = precision_problem(precision, backend)
    if problem is not None:
        raise ValueError(f"precision: {problem}")
    if precision == "bf16":
        candidates = tuple(candidate for candidate in candidates if candidate in BF16_BACKENDS)
    if example_input is None:
        size = model.preprocessing.input_size if model.preprocessing is not None else DEFAULT_INPUT_SIZE
        example_input = torch.randn(AUTO_BATCH, model.in_chans, size, size, device=device)
    note = "" if precision == "fp32" else precision
    if backend != "auto":
        return InferenceModel(_build(backend, model, example_input, threads, fuse, precision), backend, model,
                              note=note)

    builders = {candidate: (lambda candidate=candidate: _build(candidate, model, example_input, threads, fuse,
                                                                precision))
                for candidate in candidates if backend_problem(candidate, device) is None}
    name, network, timings, failures = fastest(builders, example_input, channels_last=("eager", "compile"))
    return InferenceModel(network, name, model, timings, note=note, failures=failures)


def fastest(
    builders: dict[str, Callable[[], nn.Module]], example: Tensor, channels_last: tuple[str, ...] = ()
) -> tuple[str, nn.Module, dict[str, float], dict[str, str]]:
    """Build each candidate, time it on `example` (median of 3 after a warm-up) and keep the fastest:
    (its name, its network, seconds per batch by name, why each candidate that failed did).

    A candidate that cannot build or run this model is passed over with its reason, not fatal: OpenVINO,
    for one, refuses a 3x3 max-pool over a 2x2 map that PyTorch pads (the bn flavour at 32x32)."""
    timings: dict[str, float] = {}
    failures: dict[str, str] = {}
    built: dict[str, nn.Module] = {}
    for name, build in builders.items():
        try:
            network = build()
            x = example.contiguous(memory_format=torch.channels_last) if name in channels_last else example
            with torch.no_grad():
                timings[name] = statistics.median(time_calls(lambda: network(x)))
        except Exception as error:  # any library's error: this candidate does not run here
            failures[name] = f"{type(error).__name__}: {str(error).strip().splitlines()[-1][:200]}"
            continue
        built[name] = network
    if not timings:
        raise ValueError("no candidate runs this model here: "
                         + "; ".join(f"{name}: {why}" for name, why in failures.items()) if failures
                         else "no candidate backend is installed here")
    name = min(timings, key=timings.__getitem__)
    return name, built[name], timings, failures
