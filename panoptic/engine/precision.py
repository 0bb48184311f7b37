"""Which reduced precision the current machine can train in."""

from __future__ import annotations

from pathlib import Path

import torch

PRECISIONS = ("fp32", "bf16")


def cpu_supports_bf16() -> bool:
    """Whether the CPU has native bf16 arithmetic (AVX512-BF16 or AMX-BF16).

    Without it, oneDNN emulates bf16 and autocast is slower than fp32.
    """
    cpuinfo = Path("/proc/cpuinfo")
    if not cpuinfo.is_file():
        return False
    flags = set(cpuinfo.read_text().split())
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def device_supports_bf16() -> bool:
    """bf16 support of the device training will run on (the GPU if any, else the CPU)."""
    if torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    return cpu_supports_bf16()
