"""bf16 inference, opt-in, where the CPU computes in bfloat16 natively (AVX-512 BF16 or AMX).

    fast = googlenet.optimize(model, precision="bf16")   # ValueError on CPUs without bf16, saying why

bfloat16 keeps float32's exponent and 8 bits of mantissa: logits move by about 1% of their scale, and the
top-1 class rarely changes (the benchmark prints the agreement). On CPUs without native bf16 (AVX2, and
AVX-512 before Cooper Lake / Zen 4) every bf16 operation is emulated and slower than fp32, so it is refused
there rather than silently slow. Backends: OpenVINO (its inference precision hint) and PyTorch's own
(weights and activations cast to bf16, oneDNN's bf16 convolutions); ONNX Runtime has no bf16 CPU kernels.
"""

from __future__ import annotations

from torch import Tensor, nn
import torch

PRECISIONS = ("fp32", "bf16")
BF16_BACKENDS = ("openvino", "eager", "compile")


def precision_problem(precision: str, backend: str = "auto", machine: object = None) -> str | None:
    """Why `precision` cannot run on `backend` here (a sentence), or None when it can."""
    from googlenet.machine import describe_machine

    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}"
    if precision == "fp32":
        return None
    if backend not in ("auto", *BF16_BACKENDS):
        return f"precision bf16 runs on {', '.join(BF16_BACKENDS)}, not {backend}"
    machine = machine or describe_machine()
    if not machine.has_bf16:  # type: ignore[attr-defined]
        return (f"precision bf16 needs a CPU with AVX-512 BF16 or AMX; this one has none ({machine}): "
                "bf16 would be emulated, slower than fp32")
    return None


class Bfloat16Network(nn.Module):
    """A network in bfloat16 for PyTorch's backends: float images in, float32 logits out."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network.to(torch.bfloat16)

    def forward(self, x: Tensor) -> Tensor:
        return self.network(x.to(torch.bfloat16)).float()
