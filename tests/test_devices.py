"""bf16 on the CPU (bench.devices): the probe that keeps ``precision: auto`` off bf16 3D
convolutions that disagree with fp32 (oneDNN's AMX kernels)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from bench import devices
from bench.devices import cpu_bf16_conv3d_agrees

PLAIN_CONV3D = F.conv3d


@pytest.fixture
def conv3d_under_autocast(monkeypatch):
    """Replace what F.conv3d computes under CPU autocast: ``kernel(x, w, **kw)`` in fp32."""

    def install(kernel):
        def conv3d(x, w, *args, **kwargs):
            if torch.is_autocast_enabled("cpu"):
                with torch.autocast("cpu", enabled=False):
                    return kernel(x.float(), w.float(), *args, **kwargs)
            return PLAIN_CONV3D(x, w, *args, **kwargs)

        monkeypatch.setattr(F, "conv3d", conv3d)
        cpu_bf16_conv3d_agrees.cache_clear()

    yield install
    cpu_bf16_conv3d_agrees.cache_clear()


def test_probe_accepts_bf16_rounding(conv3d_under_autocast):
    def rounded(x, w, *args, **kwargs):
        x, w = x.bfloat16().float(), w.bfloat16().float()
        return PLAIN_CONV3D(x, w, *args, **kwargs).bfloat16()

    conv3d_under_autocast(rounded)
    assert devices.cpu_bf16_conv3d_agrees()


@pytest.mark.parametrize("defect", ["scaled", "nan_gradient"])
def test_probe_rejects_a_wrong_kernel(conv3d_under_autocast, defect):
    def wrong(x, w, *args, **kwargs):
        if defect == "scaled":  # the output off by a factor (AMX: up to 27x on one frame)
            return 3 * PLAIN_CONV3D(x, w, *args, **kwargs)
        if w.requires_grad:  # a right output, NaN weight gradients (AMX: 32 -> 32 at 64x64)
            w.register_hook(lambda grad: torch.full_like(grad, float("nan")))
        return PLAIN_CONV3D(x, w, *args, **kwargs)

    conv3d_under_autocast(wrong)
    with pytest.warns(RuntimeWarning, match="disagree with fp32"):
        assert not devices.cpu_bf16_conv3d_agrees()
