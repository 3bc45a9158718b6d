"""The SSMTL network: a shared 3D CNN and four prediction heads (paper sections 3.1-3.4, Table 1).

Every layer below maps one to one onto Table 1 (the 3D CNN) or section 3.2 (the heads).
Inputs are object-centric sequences ``(B, 3, T, 64, 64)`` of floats in [0, 1]; the temporal
size ``T`` depends on the proxy task (section 3.3) and is removed only by the last, global
temporal max-pooling, so one encoder serves all of them:

    T1 arrow of time          T = 2t + 1   -> logits (B, 2), index 1 = backward     ("class 2")
    T2 motion irregularity    T = 2t + 1   -> logits (B, 2), index 1 = intermittent ("class 2")
    T3 middle box prediction  T = 2t       -> image  (B, 3, 64, 64), the missing middle crop
    T4 model distillation     T = 1        -> scores (B, n_distill), 1000 ResNet-50 + 80 YOLOv3

Choices where the paper is silent (each repeated where it is made):
  * heads T1/T2/T4: the 2D conv is 3x3, "same" padding, followed by BN + ReLU like every conv
    of the 3D CNN; the FC layer sees 32 * (S/2)^2 inputs, S = encoder output size
    (shallow: S = 8 -> 512 inputs, deep: S = 4 -> 128 inputs).
  * head T3 (decoder) mirrors the encoder: Table 1 read backwards, each max-pooling becomes a
    nearest-neighbour 2x upsampling and each 3D conv ``c_in -> c_out`` becomes a 2D 3x3 conv
    ``c_out -> c_in``; the last conv therefore maps to the 3 RGB channels. BN + ReLU follow
    every decoder conv but the last, which is followed by a sigmoid (targets lie in [0, 1]).
  * the shared CNN's batch norm keeps running statistics per task (one scale and shift):
    the four tasks feed it different inputs, and one mixed set of statistics broke T2 in eval
    mode on real Ped2 (:class:`TaskBatchNorm3d`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import InputError
from bench.paper import HEAD_FILTERS, N_DISTILL, TASKS
from bench.paper import TUBE_SIZE as INPUT_SIZE

# Table 1. ("conv", n): 3x3x3 conv with n filters + BN + ReLU; ("pool",): 1x2x2 max-pooling;
# ("tpool",): the "⋮ x 2 x 2" max-pooling, global over time and 2x2 in space.
ARCHITECTURES: dict[str, list[tuple]] = {
    "shallow_narrow": [("conv", 16), ("pool",), ("conv", 32), ("pool",), ("conv", 32), ("tpool",)],
    "shallow_wide": [("conv", 32), ("pool",), ("conv", 64), ("pool",), ("conv", 64), ("tpool",)],
    "deep_narrow": [
        ("conv", 16), ("conv", 16), ("pool",),
        ("conv", 32), ("conv", 32), ("pool",),
        ("conv", 32), ("pool",),
        ("conv", 32), ("tpool",),
    ],
    "deep_wide": [
        ("conv", 32), ("conv", 32), ("pool",),
        ("conv", 64), ("conv", 64), ("pool",),
        ("conv", 64), ("pool",),
        ("conv", 64), ("tpool",),
    ],
}  # fmt: skip

# oneDNN's bf16 3D convolution on CPU (torch 2.14, AVX-512 BF16) computes wrong weight gradients
# for inputs exactly two frames deep (t = 1's T3 context): 11-46% off fp32, run-dependent, at
# times ~1e32 (a NaN once); every other depth from 1 to 9 agrees with fp32 within bf16's rounding.
# Under CPU autocast such convs run in fp32 (docs/performance.md, tests/test_model.py).
BF16_UNSAFE_DEPTH = 2

# T1, T2: at inference (eq. 6) both classify the same forward 2t+1 sequence
SEQUENCE_TASKS = ("arrow", "motion")


class GlobalTemporalMaxPool3d(nn.MaxPool3d):
    """Table 1 "⋮ x 2 x 2 max-pooling": pools the whole temporal extent and 2x2 in space.

    Section 3.2: "The last 3D max-pooling layer performs global temporal pooling, keeping the
    same configuration as the first two pooling layers at the spatial level." The temporal
    kernel is the input's own length (written ``None``), so any ``T >= 1`` leaves size 1.
    """

    def __init__(self) -> None:
        super().__init__(kernel_size=(None, 2, 2), stride=(None, 2, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.size(2)
        return F.max_pool3d(x, kernel_size=(t, 2, 2), stride=(t, 2, 2))


def conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """The heads' 3x3 2D conv, stride 1, "same" padding, then batch norm and ReLU (section 3.2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=1, padding=1),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TaskBatchNorm3d(nn.Module):
    """Batch norm of the shared 3D CNN: one scale and shift, running statistics per proxy task.

    Section 3.2 says only "batch normalization". The shared CNN sees a different input per task
    (T1/T2 2t+1 frames, T3 the 2t context, T4 one frame), and one set of running statistics
    averages them all: in eval mode that mixture normalised T2's inputs so far off that its real
    Ped2 validation accuracy fell from 0.99 to 0.50 (docs/ped2.md). Our choice: each task's passes
    update and, in eval mode, use their own statistics; the affine parameters stay shared, so
    the parameter count is Table 1's and training (which normalises every pass with its own batch
    statistics) is unchanged.
    """

    def __init__(
        self, num_features: int, tasks: Iterable[str], eps: float = 1e-5, momentum: float = 0.1
    ) -> None:
        super().__init__()
        self.num_features, self.tasks, self.eps, self.momentum = (
            num_features,
            tuple(tasks),
            eps,
            momentum,
        )
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        for task in self.tasks:
            self.register_buffer(f"running_mean_{task}", torch.zeros(num_features))
            self.register_buffer(f"running_var_{task}", torch.ones(num_features))
            # updates so far, counted up to the warm-up's end (a constant after it: no
            # recompilation under torch.compile)
            self.register_buffer(f"updates_{task}", torch.tensor(0, dtype=torch.long))
        self.warmup = round(1 / momentum)
        self.updates = dict.fromkeys(self.tasks, 0)  # the buffers' values, read without a sync

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if task not in self.tasks:
            raise ValueError(f"no batch norm statistics for task {task!r} (tasks: {self.tasks})")
        mean, var = getattr(self, f"running_mean_{task}"), getattr(self, f"running_var_{task}")
        factor = self.momentum
        if self.training and self.updates[task] < self.warmup:
            # The first 1/momentum updates average cumulatively: a plain moving average still
            # weighs the initial (0, 1) by 0.9^n, and a short run (the CI gate's synthetic
            # profile: 22 updates per task) kept running variances 20x the true ones.
            self.updates[task] += 1
            getattr(self, f"updates_{task}").fill_(self.updates[task])
            factor = max(self.momentum, 1.0 / self.updates[task])
        return F.batch_norm(x, mean, var, self.weight, self.bias, self.training, factor, self.eps)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        # Weights saved before the count existed were trained with the plain moving average:
        # they continue with it.
        for task in self.tasks:
            state_dict.setdefault(f"{prefix}updates_{task}", torch.tensor(self.warmup))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self.updates = {task: int(getattr(self, f"updates_{task}")) for task in self.tasks}

    def extra_repr(self) -> str:
        return f"{self.num_features}, running statistics per task: {', '.join(self.tasks)}"


class EncoderConv(nn.Module):
    """Table 1's "3x3x3 conv": conv (stride 1, "same" padding), batch norm per task, ReLU."""

    def __init__(self, c_in: int, c_out: int, tasks: Iterable[str]) -> None:
        super().__init__()
        self.conv = nn.Conv3d(c_in, c_out, kernel_size=3, stride=1, padding=1)
        self.bn = TaskBatchNorm3d(c_out, tasks)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if x.shape[2] == BF16_UNSAFE_DEPTH and x.is_cpu and torch.is_autocast_enabled("cpu"):
            with torch.autocast("cpu", enabled=False):
                return self.relu(self.bn(self.conv(x.float()), task))
        return self.relu(self.bn(self.conv(x), task))


class SharedCNN(nn.Module):
    """The shared 3D CNN f of Table 1: ``(B, 3, T, 64, 64)`` -> ``(B, C, 64/2^p, 64/2^p)``.

    ``C`` is the last conv's width and ``p`` the number of max-pooling layers; the temporal
    dimension, pooled to 1 by the last layer, is squeezed away so the heads are 2D. ``task``
    picks the batch norm statistics (:class:`TaskBatchNorm3d`) of the pass.
    """

    def __init__(self, arch: str = "shallow_narrow", tasks: Iterable[str] = TASKS) -> None:
        super().__init__()
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"unknown architecture {arch!r}; choose one of {sorted(ARCHITECTURES)}"
            )
        self.arch, self.spec = arch, ARCHITECTURES[arch]
        layers, c = [], 3
        for kind, *args in self.spec:
            if kind == "conv":
                layers.append(EncoderConv(c, args[0], tasks))
                c = args[0]
            elif kind == "pool":  # "only spatial pooling ... pooling size and stride both 2"
                layers.append(nn.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2)))
            else:
                layers.append(GlobalTemporalMaxPool3d())
        self.layers = nn.ModuleList(layers)
        self.out_channels = c
        self.out_size = INPUT_SIZE // 2 ** sum(kind != "conv" for kind, *_ in self.spec)
        # speed only: oneDNN's 3D convs run ~1.25x faster on CPU in channels-last layout
        self.memory_format = torch.channels_last_3d
        self.to(memory_format=self.memory_format)

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 3 or tuple(x.shape[3:]) != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(
                f"expected input (B, 3, T, {INPUT_SIZE}, {INPUT_SIZE}), got {tuple(x.shape)}"
            )
        x = x.contiguous(memory_format=self.memory_format)
        for layer in self.layers:
            x = layer(x, task) if isinstance(layer, EncoderConv) else layer(x)
        return x.squeeze(2)


class ClassificationHead(nn.Module):
    """Heads T1, T2, T4 (section 3.2): 2D conv with 32 filters, 2x2 max-pooling, FC layer.

    The conv is 3x3, "same" padding, followed by BN + ReLU (our choice: the paper gives only
    the filter count; we follow the 3D CNN's conv-BN-ReLU pattern). The FC layer has
    ``32 * (in_size // 2) ** 2`` inputs and ``n_out`` units (2 for T1/T2, 1080 for T4).
    """

    def __init__(self, in_channels: int, in_size: int, n_out: int) -> None:
        super().__init__()
        self.conv = conv_bn_relu(in_channels, HEAD_FILTERS)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(HEAD_FILTERS * (in_size // 2) ** 2, n_out)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(h)).flatten(1))


class MiddleBoxDecoder(nn.Module):
    """Head T3 (section 3.2): upsamplings and 3x3 2D convs reconstructing the 64x64 RGB middle box.

    Paper: #upsamplings (nearest neighbour, 2x) = #max-poolings of the 3D CNN, #2D convs =
    #3D convs, the last conv has 3 filters. Our choice: the exact mirror of Table 1, read
    backwards - a pooling becomes an upsampling and a 3D conv ``c_in -> c_out`` becomes a 2D
    conv ``c_out -> c_in`` (so the first conv of the encoder, 3 -> 16, mirrors to the last
    conv, 16 -> 3). BN + ReLU after every conv but the last; sigmoid output, as the target
    crops are floats in [0, 1]. E.g. (sizes for a 64x64 input):

        shallow_narrow  8 up 16 conv32 up 32 conv16 up 64 conv3 sigmoid
        deep_narrow     4 up 8 conv32 up 16 conv32 up 32 conv32 conv16 up 64 conv16 conv3 sigmoid
    """

    def __init__(self, spec: list[tuple]) -> None:
        super().__init__()
        widths, c = [], 3  # (c_in, c_out) of each encoder conv
        for kind, *args in spec:
            if kind == "conv":
                widths.append((c, args[0]))
                c = args[0]
        layers, convs = [], iter(reversed(widths))
        for kind, *_ in reversed(spec):
            if kind == "conv":
                c_in, c_out = next(convs)
                if c_in == 3:  # mirror of the first encoder conv: the RGB output layer
                    layers.append(nn.Conv2d(c_out, 3, kernel_size=3, stride=1, padding=1))
                else:
                    layers.append(conv_bn_relu(c_out, c_in))
            else:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.layers = nn.Sequential(*layers, nn.Sigmoid())

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.layers(h)


class SSMTL(nn.Module):
    """Shared 3D CNN + the heads of the enabled proxy tasks (section 3.1, Figure 1).

    Each task method runs the shared CNN on its own input (T1/T2: 2t+1 frames, T3: the 2t
    context frames, T4: the middle crop alone) and returns raw head outputs: logits for T1/T2
    (softmax index 1 is the paper's "class 2", backward / intermittent), the reconstructed
    crop for T3, the ResNet-50 features followed by YOLOv3 probabilities for T4.
    """

    def __init__(
        self, arch: str = "shallow_narrow", tasks: Iterable[str] = TASKS, n_distill: int = N_DISTILL
    ) -> None:
        super().__init__()
        tasks = tuple(tasks)
        unknown = [t for t in tasks if t not in TASKS]
        if unknown or not tasks:
            raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got {tasks}")
        self.arch, self.tasks = arch, tuple(t for t in TASKS if t in tasks)
        self.encoder = SharedCNN(arch, self.tasks)
        c, s = self.encoder.out_channels, self.encoder.out_size
        make = {
            "arrow": lambda: ClassificationHead(c, s, 2),
            "motion": lambda: ClassificationHead(c, s, 2),
            "middle": lambda: MiddleBoxDecoder(self.encoder.spec),
            "distill": lambda: ClassificationHead(c, s, n_distill),
        }
        self.heads = nn.ModuleDict({t: make[t]() for t in self.tasks})

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        if task not in self.heads:
            raise ValueError(
                f"task {task!r} is not enabled in this model (enabled: {self.tasks}; all: {TASKS})"
            )
        return self.heads[task](self.encoder(x, task))

    def load_weights(self, state_dict: dict[str, torch.Tensor], file: str | Path) -> None:
        """:meth:`load_state_dict`, with an :class:`InputError` naming ``file`` when the weights
        do not fit (another architecture or task set, or written before the shared CNN kept its
        batch norm statistics per task)."""
        try:
            self.load_state_dict(state_dict)
        except RuntimeError as error:
            reason = " ".join(str(error).split())[:160]
            fix = "train again with this version of ssmtl-bench (dvc repro re-runs the stage)"
            raise InputError(f"the weights do not fit this model ({reason})", file, fix) from error

    def arrow(self, x: torch.Tensor) -> torch.Tensor:
        """T1 logits ``(B, 2)`` for ``(B, 3, 2t+1, 64, 64)``: 0 forward, 1 backward."""
        return self(x, "arrow")

    def motion(self, x: torch.Tensor) -> torch.Tensor:
        """T2 logits ``(B, 2)`` for ``(B, 3, 2t+1, 64, 64)``: 0 consecutive, 1 intermittent."""
        return self(x, "motion")

    def sequence_logits(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits of every enabled head among T1/T2 for one ``(B, 3, 2t+1, 64, 64)`` sequence.

        At inference (eq. 6) both heads score the same forward, consecutive test sequence; each
        still gets its own pass of the shared CNN, normalised with its task's batch norm
        statistics (:class:`TaskBatchNorm3d`), so the results equal :meth:`arrow` and
        :meth:`motion` called one by one.
        """
        tasks = [task for task in SEQUENCE_TASKS if task in self.heads]
        if not tasks:
            raise ValueError(
                f"neither of {SEQUENCE_TASKS} is enabled in this model (enabled: {self.tasks})"
            )
        return {task: self(x, task) for task in tasks}

    def middle(self, x: torch.Tensor) -> torch.Tensor:
        """T3 reconstruction ``(B, 3, 64, 64)`` in [0, 1] for the context ``(B, 3, 2t, 64, 64)``."""
        return self(x, "middle")

    def distill(self, x: torch.Tensor) -> torch.Tensor:
        """T4 ``(B, n_distill)`` for the middle crop ``(B, 3, 1, 64, 64)``: ResNet-50, then
        YOLOv3."""
        return self(x, "distill")


def count_layers(model: nn.Module) -> dict[str, int]:
    """Layer counts of Table 1 / section 3.2: Conv3d, MaxPool3d, decoder Conv2d, upsamplings."""
    decoders = [m for m in model.modules() if isinstance(m, MiddleBoxDecoder)]
    in_decoders = [m for d in decoders for m in d.modules()]
    return {
        "conv3d": sum(isinstance(m, nn.Conv3d) for m in model.modules()),
        "maxpool3d": sum(isinstance(m, nn.MaxPool3d) for m in model.modules()),
        "decoder_conv2d": sum(isinstance(m, nn.Conv2d) for m in in_decoders),
        "upsample": sum(isinstance(m, nn.Upsample) for m in in_decoders),
    }
