"""The kind of CPU torch runs on: the instruction sets that decide which fast path pays, and the threads.

    print(googlenet.machine.describe_machine())
    # AMD EPYC, 2 threads of 2 logical CPUs: AVX2 only (no AVX-512, no VNNI, no BF16, no AMX)

What torch will use, not only what the CPU has: ONEDNN_MAX_CPU_ISA (oneDNN's convolutions, its bf16 and
int8 kernels) and ATEN_CPU_CAPABILITY (torch's own vector kernels) can hold torch below the CPU, e.g.
ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 on an AVX-512 + BF16 CPU runs as an AVX2-only one would:
float32, no VNNI. The description then names the limit and the CPU's own kind.

Speed figures only mean something beside the kind of machine they come from: bf16 autocast carries most
of the training speed where the CPU has AVX-512 BF16 or AMX, and int8 needs VNNI (VPDPBUSD) to be both
fast and exact in its sums. A bottom utility: standard library and torch only.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import torch

# The /proc/cpuinfo flags that matter here, in the order a kind is named. avx_vnni is VNNI on 256-bit
# vectors (Alder Lake and later, Zen 5): int8 kernels use it as they use avx512_vnni.
FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
# torch.backends.cpu.get_cpu_capability() where there is no /proc/cpuinfo (macOS, Windows).
_CAPABILITY_FLAGS = {"AVX2": ("avx2",), "AVX512": ("avx2", "avx512f")}

# The FLAGS oneDNN may still use under each ONEDNN_MAX_CPU_ISA (oneDNN's "CPU dispatcher control" values).
_AVX512 = ("avx2", "avx512f")
_ONEDNN_ISA_FLAGS: dict[str, tuple[str, ...]] = {
    "SSE41": (), "AVX": (), "AVX2": ("avx2",), "AVX2_VNNI": ("avx2", "avx_vnni"), "AVX2_VNNI_2": ("avx2", "avx_vnni"),
    "AVX512_CORE": _AVX512, "AVX512_CORE_VNNI": (*_AVX512, "avx512_vnni"),
    "AVX512_CORE_BF16": (*_AVX512, "avx512_vnni", "avx512_bf16"),
    "AVX512_CORE_FP16": (*_AVX512, "avx512_vnni", "avx512_bf16"), "AVX10_1_512": (*_AVX512, "avx512_vnni", "avx512_bf16"),
    "AVX512_CORE_AMX": FLAGS, "AVX512_CORE_AMX_FP16": FLAGS, "AVX10_1_512_AMX": FLAGS, "AVX10_1_512_AMX_FP16": FLAGS,
    "DEFAULT": FLAGS,
}
# ATEN_CPU_CAPABILITY narrows torch's own kernels only: the vector width, not oneDNN's VNNI, BF16 or AMX.
_ATEN_CAPABILITY_REMOVES: dict[str, tuple[str, ...]] = {"default": _AVX512, "avx2": ("avx512f",), "avx512": ()}
LIMIT_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


@dataclass(frozen=True)
class MachineDescription:
    """What `describe_machine` found: the CPU's name, the `FLAGS` torch will use, and torch's threads.
    Where environment variables hold torch below the CPU, `limited_by` names them ("NAME=value") and
    `cpu_flags` holds the CPU's own."""

    cpu_name: str
    flags: frozenset[str]
    threads: int
    logical_cpus: int | None = None
    architecture: str = "x86_64"
    cpu_flags: frozenset[str] | None = None
    limited_by: tuple[str, ...] = ()

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
        """What torch runs as, in a few words: "AVX2 only", "AVX-512 + VNNI + BF16 + AMX", ..."""
        return _kind(self.flags, self.architecture)

    @property
    def cpu_kind(self) -> str:
        """The CPU's own kind, whatever torch is limited to."""
        return _kind(self.cpu_flags if self.cpu_flags is not None else self.flags, self.architecture)

    @property
    def missing(self) -> list[str]:
        """The features that matter here and that this CPU lacks, by name."""
        wanted = (("AVX-512", self.has_avx512), ("VNNI", self.has_vnni), ("BF16", self.has_bf16), ("AMX", self.has_amx))
        return [name for name, present in wanted if not present]

    def to_dict(self) -> dict[str, object]:
        return {"cpu": self.cpu_name, "kind": self.kind, "flags": sorted(self.flags), "threads": self.threads,
                "logical_cpus": self.logical_cpus, "has_bf16": self.has_bf16, "has_vnni": self.has_vnni,
                "cpu_kind": self.cpu_kind, "limited_by": list(self.limited_by)}

    def __str__(self) -> str:
        cpus = f" of {self.logical_cpus} logical CPUs" if self.logical_cpus else ""
        lacking = f" (no {', no '.join(self.missing)})" if self.missing and self.has_avx2 else ""
        threads = f"{self.cpu_name}, {self.threads} thread{'s' if self.threads != 1 else ''}{cpus}"
        if self.limited_by:
            return (f"{threads}: torch limited to {self.kind}{lacking} by {' '.join(self.limited_by)} on this "
                    f"{self.cpu_kind} CPU")
        return f"{threads}: {self.kind}{lacking}"


def _kind(flags: frozenset[str], architecture: str) -> str:
    if not architecture.startswith(("x86", "amd64", "AMD64", "i686")):
        return f"{architecture} (no x86 vector extensions)"
    if "avx2" not in flags:
        return "no AVX2"
    parts = ["AVX-512" if "avx512f" in flags else "AVX2"]
    if flags & {"avx512_vnni", "avx_vnni", "amx_int8"}:
        parts.append("VNNI" if flags & {"avx512_vnni", "amx_int8"} else "AVX-VNNI")
    if flags & {"avx512_bf16", "amx_bf16"}:
        parts.append("BF16")
    if "amx_tile" in flags:
        parts.append("AMX")
    return parts[0] + " only" if len(parts) == 1 else " + ".join(parts)


def torch_limit(cpu_flags: frozenset[str], environ: Mapping[str, str] | None = None
                ) -> tuple[frozenset[str], tuple[str, ...]]:
    """(the flags torch will use, the variables that take some of the CPU's away, as "NAME=value") on a CPU
    with `cpu_flags` under `environ` (default: this process's environment). A value torch does not know
    limits nothing."""
    environ = os.environ if environ is None else environ
    removed_by = {}
    onednn = environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    if onednn in _ONEDNN_ISA_FLAGS:
        removed_by["ONEDNN_MAX_CPU_ISA"] = cpu_flags - frozenset(_ONEDNN_ISA_FLAGS[onednn])
    aten = environ.get("ATEN_CPU_CAPABILITY", "").strip().lower()
    if aten in _ATEN_CAPABILITY_REMOVES:
        removed_by["ATEN_CPU_CAPABILITY"] = cpu_flags & frozenset(_ATEN_CAPABILITY_REMOVES[aten])
    removed = frozenset().union(*removed_by.values())
    limited_by = tuple(f"{name}={environ[name]}" for name, flags in removed_by.items() if flags)
    return cpu_flags - removed, limited_by


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
        flags = _flags_from_torch()  # torch's own view: already limited
        limited, limited_by = flags, ()
    else:
        limited, limited_by = torch_limit(flags)
    return MachineDescription(
        cpu_name=name or platform.processor() or platform.machine() or "an unknown CPU",
        flags=limited,
        threads=threads if threads is not None else torch.get_num_threads(),
        logical_cpus=os.cpu_count(),
        architecture=platform.machine() or "x86_64",
        cpu_flags=flags if limited_by else None,
        limited_by=limited_by,
    )


def _flags_from_torch() -> frozenset[str]:
    """The vector width torch dispatches to, and bf16 as oneDNN sees it: all that can be learned without
    /proc/cpuinfo."""
    capability = torch.backends.cpu.get_cpu_capability()
    flags: tuple[str, ...] = _CAPABILITY_FLAGS.get(capability, ())
    if torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        flags = (*flags, "avx512_bf16")
    return frozenset(flags)
