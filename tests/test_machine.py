"""The machine's kind is read from the CPU's flags: the instruction sets that decide which fast path pays."""

import pytest
import torch

from googlenet.machine import FLAGS, MachineDescription, describe_machine, parse_cpuinfo

EPYC_AVX2 = "fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2 sha_ni vaes vpclmulqdq"
ZEN4 = EPYC_AVX2 + " avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 avx512_vbmi2"
SAPPHIRE_RAPIDS = ZEN4 + " amx_bf16 amx_tile amx_int8 avx_vnni"
ALDER_LAKE = EPYC_AVX2 + " avx_vnni"
CASCADE_LAKE = EPYC_AVX2 + " avx512f avx512dq avx512_vnni"


def cpuinfo(name: str, flags: str) -> str:
    processor = f"processor\t: {{}}\nvendor_id\t: AuthenticAMD\nmodel name\t: {name}\nflags\t\t: {flags}\n\n"
    return processor.format(0) + processor.format(1)


@pytest.mark.parametrize(("flags", "kind", "has_bf16", "has_vnni"), [
    (EPYC_AVX2, "AVX2 only", False, False),
    (ALDER_LAKE, "AVX2 + AVX-VNNI", False, True),
    (CASCADE_LAKE, "AVX-512 + VNNI", False, True),
    (ZEN4, "AVX-512 + VNNI + BF16", True, True),
    (SAPPHIRE_RAPIDS, "AVX-512 + VNNI + BF16 + AMX", True, True),
    ("fpu sse sse2 avx", "no AVX2", False, False),
])
def test_the_kind_names_the_instruction_sets_that_matter(tmp_path, flags, kind, has_bf16, has_vnni):
    (tmp_path / "cpuinfo").write_text(cpuinfo("A CPU 9000", flags))
    machine = describe_machine(threads=3, cpuinfo=tmp_path / "cpuinfo")
    assert machine.cpu_name == "A CPU 9000" and machine.threads == 3
    assert machine.kind == kind
    assert machine.has_bf16 is has_bf16 and machine.has_vnni is has_vnni
    assert machine.flags <= {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16",
                             "amx_int8"}
    assert "avx512dq" not in machine.flags and "sse2" not in machine.flags  # only the flags that matter


def test_one_line_names_the_cpu_threads_kind_and_what_is_missing(tmp_path):
    (tmp_path / "cpuinfo").write_text(cpuinfo("AMD EPYC", EPYC_AVX2))
    line = str(describe_machine(threads=2, cpuinfo=tmp_path / "cpuinfo"))
    assert "\n" not in line
    assert line.startswith("AMD EPYC, 2 threads")
    assert "AVX2 only (no AVX-512, no VNNI, no BF16, no AMX)" in line
    full = MachineDescription("Xeon", frozenset(SAPPHIRE_RAPIDS.split()) & {"avx2", "avx512f", "avx512_vnni",
                                                                           "avx512_bf16", "amx_tile"}, 1)
    assert str(full) == "Xeon, 1 thread: AVX-512 + VNNI + BF16 + AMX"


def test_parse_cpuinfo_reads_the_first_processor():
    name, flags = parse_cpuinfo(cpuinfo("First", EPYC_AVX2) + "model name\t: Second\nflags\t: avx512f\n")
    assert name == "First" and flags == {"avx2"}


def test_without_cpuinfo_the_vector_width_comes_from_torch(tmp_path):
    machine = describe_machine(cpuinfo=tmp_path / "absent")
    assert machine.threads == torch.get_num_threads()
    capability = torch.backends.cpu.get_cpu_capability()
    assert machine.has_avx2 is (capability in ("AVX2", "AVX512"))
    assert machine.has_avx512 is (capability == "AVX512")


def test_this_machine_is_described(tmp_path):
    machine = describe_machine()
    assert machine.threads == torch.get_num_threads() and machine.cpu_name
    assert machine.to_dict()["kind"] == machine.kind and machine.kind in str(machine)


def test_this_machine_is_described_as_its_kernel_and_onednn_see_it():
    """The real CPU, not a written cpuinfo: the flags the kernel lists and what oneDNN detects for itself
    (it runs torch's bf16 convolutions) against what describe_machine() reports."""
    import torch

    from helpers import cpu_flags

    flags = cpu_flags()
    machine = describe_machine()
    assert machine.has_vnni == bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    assert machine.has_bf16 == bool(flags & {"avx512_bf16", "amx_bf16"})
    assert ("VNNI" in machine.kind) == machine.has_vnni and ("BF16" in machine.kind) == machine.has_bf16
    if torch.backends.mkldnn.is_available():
        assert machine.has_bf16 == torch.ops.mkldnn._is_mkldnn_bf16_supported()


AVX2_LIMIT = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}


def test_a_cpu_limited_to_avx2_by_the_environment_is_described_as_torch_will_use_it(tmp_path, monkeypatch):
    (tmp_path / "cpuinfo").write_text(cpuinfo("AMD EPYC", ZEN4))
    for name, value in AVX2_LIMIT.items():
        monkeypatch.setenv(name, value)
    machine = describe_machine(threads=2, cpuinfo=tmp_path / "cpuinfo")
    assert machine.kind == "AVX2 only" and not machine.has_bf16 and not machine.has_vnni and not machine.has_avx512
    assert machine.cpu_kind == "AVX-512 + VNNI + BF16"
    assert str(machine) == ("AMD EPYC, 2 threads of {}: torch limited to AVX2 only (no AVX-512, no VNNI, no BF16, no "
                            "AMX) by ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 on this AVX-512 + VNNI + BF16 "
                            "CPU").format(f"{machine.logical_cpus} logical CPUs")
    assert machine.to_dict()["limited_by"] == ["ONEDNN_MAX_CPU_ISA=AVX2", "ATEN_CPU_CAPABILITY=avx2"]


@pytest.mark.parametrize(("environ", "kind", "limited_by"), [
    ({}, "AVX-512 + VNNI + BF16", ()),
    ({"ONEDNN_MAX_CPU_ISA": "avx512_core_vnni"}, "AVX-512 + VNNI", ("ONEDNN_MAX_CPU_ISA=avx512_core_vnni",)),
    ({"ATEN_CPU_CAPABILITY": "avx2"}, "AVX2 + VNNI + BF16", ("ATEN_CPU_CAPABILITY=avx2",)),  # oneDNN's kernels stay
    ({"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX", "ATEN_CPU_CAPABILITY": "avx512"}, "AVX-512 + VNNI + BF16", ()),
    ({"ONEDNN_MAX_CPU_ISA": "SOMETHING_NEW"}, "AVX-512 + VNNI + BF16", ()),  # unknown to torch: no limit
])
def test_each_variable_names_itself_only_where_it_takes_something_away(environ, kind, limited_by):
    from googlenet.machine import _kind, torch_limit

    flags, named = torch_limit(frozenset(ZEN4.split()) & frozenset(FLAGS), environ)
    assert (_kind(flags, "x86_64"), named) == (kind, limited_by)


def test_torch_in_a_process_limited_to_avx2_agrees_that_it_has_no_bf16():
    """The description reasons from the variables; torch, started under them, must see the same."""
    import os
    import subprocess
    import sys

    code = ("import torch; from googlenet.machine import describe_machine; from googlenet.training.step import "
            "autocast_dtype_for; m = describe_machine(); print(m.has_bf16, m.has_avx512, "
            "torch.backends.cpu.get_cpu_capability(), autocast_dtype_for('auto', torch.device('cpu')))")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **AVX2_LIMIT}, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out[:2] == ["False", "False"] and out[3] == "None"  # float32 training
    assert out[2] in ("AVX2", "DEFAULT")  # DEFAULT: a CPU without AVX2
