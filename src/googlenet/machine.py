"""The kind of CPU this runs on: the instruction sets that decide which fast path pays, and the threads.

    print(googlenet.machine.describe_machine())
    # AMD EPYC, 2 threads of 2 logical CPUs: AVX2 only (no AVX-512, no VNNI, no BF16, no AMX)

Speed figures only mean something beside the kind of machine they come from: bf16 autocast carries most
of the training speed where the CPU has AVX-512 BF16 or AMX, and int8 needs VNNI (VPDPBUSD) to be both
fast and exact in its sums. A bottom utility: standard library and torch only.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

# The /proc/cpuinfo flags that matter here, in the order a kind is named. avx_vnni is VNNI on 256-bit
# vectors (Alder Lake and later, Zen 5): int8 kernels use it as they use avx512_vnni.
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
# torch.backends.cpu.get_cpu_capability() where there is no /proc/cpuinfo (macOS, Windows).
_CAPABILITY_FLAGS = {"AVX2": ("avx2",), "AVX512": ("avx2", "avx512f")}


@dataclass(frozen=True)
class MachineDescription:
    """What `describe_machine` found: the CPU's name, its `FLAGS` that are present, and torch's threads."""

    cpu_name: str
    flags: frozenset[str]
    threads: int
    logical_cpus: int | None = None
    architecture: str = "x86_64"

    @property
    def has_avx2(self) -> bool:
        return "avx2" in self.flags

    @property
    def has_avx512(self) -> bool:
        return "avx512f" in self.flags

    @property
    def has_vnni(self) -> bool:
        """int8 dot products in hardware (VPDPBUSD), on 512-bit or 256-bit vectors, or AMX's int8 tiles."""
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    @property
    def has_amx(self) -> bool:
        return "amx_tile" in self.flags

    @property
    def has_bf16(self) -> bool:
        """bfloat16 arithmetic in hardware: AVX-512 BF16 or AMX."""
        return bool(self.flags & {"avx512_bf16", "amx_bf16"})

    @property
    def kind(self) -> str:
        """The machine's kind in a few words: "AVX2 only", "AVX-512 + VNNI + BF16 + AMX", ..."""
        if not self.architecture.startswith(("x86", "amd64", "AMD64", "i686")):
            return f"{self.architecture} (no x86 vector extensions)"
        if not self.has_avx2:
            return "no AVX2"
        parts = ["AVX-512" if self.has_avx512 else "AVX2"]
        if self.has_vnni:
            parts.append("VNNI" if self.flags & {"avx512_vnni", "amx_int8"} else "AVX-VNNI")
        if self.has_bf16:
            parts.append("BF16")
        if self.has_amx:
            parts.append("AMX")
        return parts[0] + " only" if len(parts) == 1 else " + ".join(parts)

    @property
    def missing(self) -> list[str]:
        """The features that matter here and that this CPU lacks, by name."""
        wanted = (("AVX-512", self.has_avx512), ("VNNI", self.has_vnni), ("BF16", self.has_bf16), ("AMX", self.has_amx))
        return [name for name, present in wanted if not present]

    def to_dict(self) -> dict[str, object]:
        return {"cpu": self.cpu_name, "kind": self.kind, "flags": sorted(self.flags), "threads": self.threads,
                "logical_cpus": self.logical_cpus, "has_bf16": self.has_bf16, "has_vnni": self.has_vnni}

    def __str__(self) -> str:
        cpus = f" of {self.logical_cpus} logical CPUs" if self.logical_cpus else ""
        lacking = f" (no {', no '.join(self.missing)})" if self.missing and self.has_avx2 else ""
        return f"{self.cpu_name}, {self.threads} thread{'s' if self.threads != 1 else ''}{cpus}: {self.kind}{lacking}"


def parse_cpuinfo(text: str) -> tuple[str | None, frozenset[str] | None]:
    """The first processor's model name and its `FLAGS` (None without a flags line: not x86 Linux), from the
    text of /proc/cpuinfo."""
    name, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and name is None:
            name = value.strip()
        elif key == "flags":
            flags = frozenset(value.split()) & frozenset(FLAGS)
            break
    return name, flags


def describe_machine(threads: int | None = None, cpuinfo: Path | str = "/proc/cpuinfo") -> MachineDescription:
    """This machine: its CPU, the instruction sets of `FLAGS` it has, and `threads` (default: torch's)."""
    name, flags = None, None
    try:
        name, flags = parse_cpuinfo(Path(cpuinfo).read_text())
    except OSError:
        pass
    if flags is None:
        flags = _flags_from_torch()
    return MachineDescription(
        cpu_name=name or platform.processor() or platform.machine() or "an unknown CPU",
        flags=flags,
        threads=threads if threads is not None else torch.get_num_threads(),
        logical_cpus=os.cpu_count(),
        architecture=platform.machine() or "x86_64",
    )


def _flags_from_torch() -> frozenset[str]:
    """The vector width torch dispatches to, and bf16 as oneDNN sees it: all that can be learned without
    /proc/cpuinfo."""
    capability = torch.backends.cpu.get_cpu_capability()
    flags: tuple[str, ...] = _CAPABILITY_FLAGS.get(capability, ())
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        flags = (*flags, "avx512_bf16")
    return frozenset(flags)
