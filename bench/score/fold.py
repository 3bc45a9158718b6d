"""Batch norm folded into the convolutions for scoring: the same scores, one pass less per layer.

In eval mode a batch norm is a per-channel affine map of its input, ``gamma * (y - mean) /
sqrt(var + eps) + beta`` with fixed running statistics, so after a convolution ``y = W * x + b``
it can be folded into the convolution's weights and bias (``W' = W * s``, ``b' = (b - mean) *
s + beta`` with ``s = gamma / sqrt(var + eps)``). The scores equal the unfolded model's up to
float rounding (at most ~1e-7 on eq. (6)'s heads, ``tests/test_fold.py``), and scoring skips one
read and write of every activation: on 2 CPU cores shallow_narrow scores 1.15-1.85x as many
objects per second (docs/performance.md).

The shared CNN keeps running statistics per proxy task (:class:`bench.model.TaskBatchNorm3d`),
so each 3D convolution gets one folded copy of its weights per task; the heads' 2D conv-BN pairs
fold once (:func:`torch.nn.utils.fusion.fuse_conv_bn_eval`). Training never sees a folded model:
:func:`fold_batch_norm` returns a frozen copy for inference and leaves its argument as it was.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from bench.model import BF16_UNSAFE_DEPTH, SSMTL, EncoderConv


class FoldedEncoderConv(EncoderConv):
    """An :class:`~bench.model.EncoderConv` in eval mode, its batch norm folded per task."""

    def __init__(self, layer: EncoderConv) -> None:
        nn.Module.__init__(self)
        conv, norm = layer.conv, layer.bn
        self.tasks = norm.tasks
        for task in self.tasks:
            mean = getattr(norm, f"running_mean_{task}")
            var = getattr(norm, f"running_var_{task}")
            scale = norm.weight / torch.sqrt(var + norm.eps)
            weight = conv.weight * scale.reshape(-1, 1, 1, 1, 1)
            bias = (conv.bias - mean) * scale + norm.bias
            memory_format = (
                torch.channels_last_3d
                if conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
                else torch.contiguous_format
            )
            self.register_buffer(
                f"weight_{task}", weight.detach().contiguous(memory_format=memory_format)
            )
            self.register_buffer(f"bias_{task}", bias.detach())

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if task not in self.tasks:
            raise ValueError(f"no batch norm statistics for task {task!r} (tasks: {self.tasks})")
        weight, bias = getattr(self, f"weight_{task}"), getattr(self, f"bias_{task}")
        if x.shape[2] == BF16_UNSAFE_DEPTH and x.is_cpu and torch.is_autocast_enabled("cpu"):
            with torch.autocast("cpu", enabled=False):
                return F.relu_(F.conv3d(x.float(), weight, bias, padding=1))
        return F.relu_(F.conv3d(x, weight, bias, padding=1))


def _fold_heads(module: nn.Module) -> None:
    """Fold every ``Conv2d`` directly followed by a ``BatchNorm2d`` in a ``Sequential``."""
    for child in module.children():
        _fold_heads(child)
    if not isinstance(module, nn.Sequential):
        return
    for i in range(len(module) - 1):
        conv, norm = module[i], module[i + 1]
        if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
            module[i], module[i + 1] = fuse_conv_bn_eval(conv, norm), nn.Identity()


def _fold_encoder(module: nn.Module) -> None:
    """Replace every (unfolded) :class:`~bench.model.EncoderConv` by its folded form."""
    for name, child in module.named_children():
        if isinstance(child, EncoderConv) and not isinstance(child, FoldedEncoderConv):
            setattr(module, name, FoldedEncoderConv(child))
        else:
            _fold_encoder(child)


def fold_batch_norm(model: SSMTL) -> SSMTL:
    """A frozen eval-mode copy of ``model`` with every batch norm folded into its convolution
    (module docstring); ``model`` itself is not changed, only put in eval mode. A model with no
    batch norm to fold is returned as it is."""
    model.eval()
    if not any(isinstance(m, nn.BatchNorm2d) or type(m) is EncoderConv for m in model.modules()):
        return model
    folded = copy.deepcopy(model)
    _fold_encoder(folded)
    _fold_heads(folded)
    return folded.requires_grad_(False)
