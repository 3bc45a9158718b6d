"""The SSMTL network against Table 1 and section 3.2 of the paper (bench/model.py)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.model import (
    ARCHITECTURES,
    SSMTL,
    TASKS,
    ClassificationHead,
    EncoderConv,
    GlobalTemporalMaxPool3d,
    MiddleBoxDecoder,
    SharedCNN,
    TaskBatchNorm3d,
    count_layers,
)

# Table 1, written out independently of bench/model.py: the 3D conv widths, in order, and the
# number of 1x2x2 poolings before the final global-temporal one.
CONV_WIDTHS = {
    "shallow_narrow": [16, 32, 32],
    "shallow_wide": [32, 64, 64],
    "deep_narrow": [16, 16, 32, 32, 32, 32],
    "deep_wide": [32, 32, 64, 64, 64, 64],
}
N_POOLS = {"shallow_narrow": 3, "shallow_wide": 3, "deep_narrow": 4, "deep_wide": 4}
# Whole-model parameter counts (all four heads, n_distill=1080), pinned as a regression check.
# The T4 FC layer (32 * (S/2)^2 x 1080) dominates, so the shallow nets (S=8) outweigh deep_narrow
# (S=4).
N_PARAMS = {
    "shallow_narrow": 641_439,
    "shallow_wide": 837_087,
    "deep_narrow": 308_607,
    "deep_wide": 753_567,
}
ARCHS = list(CONV_WIDTHS)


def leaves(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if not list(m.children())]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def models() -> dict[str, SSMTL]:
    torch.manual_seed(0)
    return {arch: SSMTL(arch).eval() for arch in ARCHS}


def test_architecture_table_matches_table_1():
    assert set(ARCHITECTURES) == set(ARCHS)
    for arch, spec in ARCHITECTURES.items():
        assert [w for kind, *w in spec if kind == "conv" for w in w] == CONV_WIDTHS[arch]
        assert sum(kind != "conv" for kind, *_ in spec) == N_POOLS[arch]
        assert spec[-1] == ("tpool",) and [kind for kind, *_ in spec].count("tpool") == 1
    assert TASKS == ("arrow", "motion", "middle", "distill")


@pytest.mark.parametrize("arch", ARCHS)
def test_encoder_layers(arch, models):
    encoder = models[arch].encoder
    convs = [m for m in encoder.modules() if isinstance(m, nn.Conv3d)]
    assert [c.out_channels for c in convs] == CONV_WIDTHS[arch]
    assert [c.in_channels for c in convs] == [3] + CONV_WIDTHS[arch][:-1]
    for c in convs:
        assert c.kernel_size == (3, 3, 3) and c.stride == (1, 1, 1) and c.padding == (1, 1, 1)
    pools = [m for m in encoder.modules() if isinstance(m, nn.MaxPool3d)]
    assert [tuple(p.kernel_size) for p in pools] == [(1, 2, 2)] * (N_POOLS[arch] - 1) + [
        (None, 2, 2)
    ]
    assert [tuple(p.stride) for p in pools] == [(1, 2, 2)] * (N_POOLS[arch] - 1) + [(None, 2, 2)]
    assert isinstance(pools[-1], GlobalTemporalMaxPool3d)
    # every Conv3d is followed by batch norm (of its width, statistics per task) and ReLU
    blocks = [m for m in encoder.modules() if isinstance(m, EncoderConv)]
    assert [b.conv for b in blocks] == convs
    for b in blocks:
        assert isinstance(b.bn, TaskBatchNorm3d) and b.bn.num_features == b.conv.out_channels
        assert b.bn.tasks == TASKS and isinstance(b.relu, nn.ReLU)
    # the encoder parameters follow from Table 1 alone: conv weights + biases, BN scale + shift
    widths = [3] + CONV_WIDTHS[arch]
    assert n_params(encoder) == sum(
        27 * a * b + b + 2 * b for a, b in zip(widths, widths[1:], strict=False)
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_layer_counts_and_decoder(arch, models):
    model = models[arch]
    n_conv = len(CONV_WIDTHS[arch])
    assert count_layers(model) == {
        "conv3d": n_conv,
        "maxpool3d": N_POOLS[arch],
        "decoder_conv2d": n_conv,
        "upsample": N_POOLS[arch],
    }
    decoder = model.heads["middle"]
    assert isinstance(decoder, MiddleBoxDecoder)
    ups = [m for m in decoder.modules() if isinstance(m, nn.Upsample)]
    assert all(u.mode == "nearest" and u.scale_factor == 2 for u in ups)
    convs = [m for m in decoder.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert convs[-1].out_channels == 3
    # mirror of the encoder: the decoder widths are the encoder's read backwards
    assert [c.out_channels for c in convs] == list(reversed([3] + CONV_WIDTHS[arch][:-1]))
    seq = leaves(decoder)
    for i, m in enumerate(seq):
        if isinstance(m, nn.Conv2d) and m is not convs[-1]:
            assert isinstance(seq[i + 1], nn.BatchNorm2d) and isinstance(seq[i + 2], nn.ReLU)
    assert isinstance(seq[-1], nn.Sigmoid)
    # T1/T2/T4 heads: 2D conv with 32 filters, 2x2 max-pooling, FC with 2 / 1080 units
    for task, units in [("arrow", 2), ("motion", 2), ("distill", 1080)]:
        head = model.heads[task]
        assert isinstance(head, ClassificationHead)
        assert head.conv[0].out_channels == 32 and head.pool.kernel_size == 2
        s = model.encoder.out_size
        assert head.fc.in_features == 32 * (s // 2) ** 2 and head.fc.out_features == units


@pytest.mark.slow
@pytest.mark.parametrize("t", [1, 2, 3, 4])
@pytest.mark.parametrize("arch", ARCHS)
def test_output_shapes(arch, t, models):
    model = models[arch]
    with torch.no_grad():
        for b in (1, 3):
            assert model.arrow(torch.rand(b, 3, 2 * t + 1, 64, 64)).shape == (b, 2)
            assert model.motion(torch.rand(b, 3, 2 * t + 1, 64, 64)).shape == (b, 2)
            middle = model.middle(torch.rand(b, 3, 2 * t, 64, 64))
            assert middle.shape == (b, 3, 64, 64) and middle.min() >= 0 and middle.max() <= 1
            assert model.distill(torch.rand(b, 3, 1, 64, 64)).shape == (b, 1080)


@pytest.mark.parametrize("arch", ARCHS)
def test_temporal_pooling_is_global(arch, models):
    encoder = models[arch].encoder
    s = 64 // 2 ** N_POOLS[arch]
    with torch.no_grad():
        for t in (1, 7):  # T = 2..9 is covered by test_output_shapes
            assert encoder(torch.rand(1, 3, t, 64, 64), "arrow").shape == (
                1,
                CONV_WIDTHS[arch][-1],
                s,
                s,
            )
    x = torch.randn(2, 5, 7, 8, 8)
    expected = nn.functional.max_pool2d(x.amax(dim=2), 2).unsqueeze(2)
    assert torch.equal(GlobalTemporalMaxPool3d()(x), expected)


def test_parameter_counts(models):
    encoder = {arch: n_params(models[arch].encoder) for arch in ARCHS}
    assert encoder["shallow_narrow"] < encoder["shallow_wide"]
    assert encoder["shallow_narrow"] < encoder["deep_narrow"] < encoder["deep_wide"]
    assert {arch: n_params(models[arch]) for arch in ARCHS} == N_PARAMS


def test_disabled_heads_are_absent():
    model = SSMTL("shallow_narrow", tasks=("arrow", "middle"))
    assert set(model.heads) == {"arrow", "middle"} and model.tasks == ("arrow", "middle")
    names = [name for name, _ in model.named_parameters()]
    assert not any(n.startswith(("heads.motion", "heads.distill")) for n in names)
    full = SSMTL("shallow_narrow")
    assert n_params(model) == n_params(full) - n_params(full.heads["motion"]) - n_params(
        full.heads["distill"]
    )
    x = torch.rand(1, 3, 5, 64, 64)
    with pytest.raises(ValueError, match="'motion' is not enabled"):
        model.motion(x)
    with pytest.raises(ValueError, match="'distill' is not enabled"):
        model.distill(x[:, :, :1])
    assert model.eval().arrow(x).shape == (1, 2)
    assert count_layers(SSMTL("deep_wide", tasks=("distill",)))["decoder_conv2d"] == 0


def test_custom_distill_size_and_bad_arguments():
    assert SSMTL(tasks=("distill",), n_distill=80).eval().distill(
        torch.rand(2, 3, 1, 64, 64)
    ).shape == (2, 80)
    with pytest.raises(ValueError, match="unknown architecture"):
        SSMTL("deep_narrower")
    with pytest.raises(ValueError, match="subset"):
        SSMTL(tasks=("arrow", "jigsaw"))
    with pytest.raises(ValueError, match="expected input"):
        SharedCNN()(torch.rand(1, 3, 5, 32, 32), "arrow")


def test_deterministic_forward_and_backward():
    def build() -> SSMTL:
        torch.manual_seed(123)
        return SSMTL("shallow_narrow")

    a, b = build(), build()
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    torch.manual_seed(7)
    x5, x4, x1 = (
        torch.rand(2, 3, 5, 64, 64),
        torch.rand(2, 3, 4, 64, 64),
        torch.rand(2, 3, 1, 64, 64),
    )
    a.eval(), b.eval()
    with torch.no_grad():
        for task, x in [("arrow", x5), ("motion", x5), ("middle", x4), ("distill", x1)]:
            assert torch.equal(a(x, task), b(x, task)) and torch.equal(a(x, task), a(x, task))
    # train mode: the joint loss of eq. (5) back-propagates into the shared encoder
    a.train()
    labels = torch.tensor([0, 1])
    loss = (
        nn.functional.cross_entropy(a.arrow(x5), labels)
        + nn.functional.cross_entropy(a.motion(x5), labels)
        + (a.middle(x4) - x5[:, :, 2]).abs().mean()
        + 0.5 * a.distill(x1).abs().mean()
    )
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in a.parameters())


@pytest.mark.parametrize("tasks", [TASKS, ("arrow", "middle"), ("motion", "distill")])
def test_sequence_logits_equal_the_heads_one_by_one(tasks):
    """Eq. (6) at inference: T1 and T2 score the same sequence, each with its own statistics."""
    torch.manual_seed(0)
    model = SSMTL("shallow_narrow", tasks).eval()
    x = torch.rand(5, 3, 7, 64, 64)
    with torch.no_grad():
        shared = model.sequence_logits(x)
        assert list(shared) == [task for task in ("arrow", "motion") if task in tasks]
        for task, logits in shared.items():
            assert logits.shape == (5, 2)
            torch.testing.assert_close(logits, getattr(model, task)(x), rtol=0, atol=1e-6)


def test_batch_norm_statistics_are_kept_per_task():
    """A pass of one task (T4's single frame, far from T1's input) leaves the running statistics
    another task normalises with in eval mode untouched; the affine parameters are shared."""
    torch.manual_seed(0)
    mixed, alone = SSMTL("shallow_narrow"), SSMTL("shallow_narrow")
    alone.load_state_dict(mixed.state_dict())
    x, single = torch.rand(8, 3, 7, 64, 64), 5 * torch.rand(8, 3, 1, 64, 64) + 3
    with torch.no_grad():
        for _ in range(3):
            mixed.arrow(x), mixed.distill(single)
            alone.arrow(x)
        mixed.eval(), alone.eval()
        torch.testing.assert_close(mixed.arrow(x), alone.arrow(x), rtol=0, atol=1e-6)
        assert not torch.allclose(mixed.distill(single), alone.distill(single), atol=1e-3)
    bn = mixed.encoder.layers[0].bn
    assert not torch.allclose(bn.running_mean_arrow, bn.running_mean_distill)
    assert {n for n, _ in bn.named_parameters()} == {"weight", "bias"}
    with pytest.raises(ValueError, match="no batch norm statistics"):
        SSMTL("shallow_narrow", ("middle",)).encoder(x, "arrow")


def test_sequence_logits_needs_arrow_or_motion():
    with pytest.raises(ValueError, match="neither"):
        SSMTL("shallow_narrow", ("middle", "distill")).sequence_logits(torch.rand(1, 3, 7, 64, 64))


def test_running_statistics_average_cumulatively_before_the_moving_average_takes_over():
    """The first 1/momentum updates of a task's statistics average its batches cumulatively (no
    weight left on the initial zeros and ones), later ones are the usual moving average."""
    torch.manual_seed(0)
    bn = TaskBatchNorm3d(4, ("arrow", "middle"))
    batches = [3 * torch.rand(6, 4, 2, 5, 5) + k for k in range(14)]
    for x in batches[:5]:
        bn(x, "arrow")

    def batch_mean(x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(0, 2, 3, 4))

    def batch_var(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(0, 1).reshape(4, -1).var(dim=1)  # unbiased, as batch norm stores it

    expect_mean = torch.stack([batch_mean(x) for x in batches[:5]]).mean(0)
    expect_var = torch.stack([batch_var(x) for x in batches[:5]]).mean(0)
    torch.testing.assert_close(bn.running_mean_arrow, expect_mean, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(bn.running_var_arrow, expect_var, rtol=1e-5, atol=1e-5)
    assert torch.equal(bn.running_mean_middle, torch.zeros(4))  # another task's: untouched
    for x in batches[5:]:
        bn(x, "arrow")
    mean = torch.stack([batch_mean(x) for x in batches[:10]]).mean(0)
    for x in batches[10:]:  # updates 11-14: the moving average with momentum 0.1
        mean = 0.9 * mean + 0.1 * batch_mean(x)
    torch.testing.assert_close(bn.running_mean_arrow, mean, rtol=1e-5, atol=1e-5)
    bn.eval()
    before = bn.running_mean_arrow.clone()
    bn(batches[0], "arrow")  # eval mode never updates
    assert torch.equal(bn.running_mean_arrow, before)


def test_weights_saved_without_the_update_count_load_and_keep_the_moving_average():
    model = SSMTL("shallow_narrow", ("arrow", "middle"))
    state = {k: v for k, v in model.state_dict().items() if ".updates_" not in k}
    fresh = SSMTL("shallow_narrow", ("arrow", "middle"))
    fresh.load_state_dict(state)
    bn = fresh.encoder.layers[0].bn
    assert bn.updates == {"arrow": 10, "middle": 10}
    before = bn.running_mean_arrow.clone()
    x = torch.rand(2, 16, 3, 64, 64)
    bn(x, "arrow")
    torch.testing.assert_close(bn.running_mean_arrow, 0.9 * before + 0.1 * x.mean(dim=(0, 2, 3, 4)))


@pytest.mark.parametrize("depth", [2, 3, 7])
def test_encoder_conv_weight_gradients_under_cpu_bf16_autocast_follow_fp32(depth):
    """oneDNN's bf16 3D conv returns wrong, run-dependent weight gradients for two-frame inputs
    (t = 1's T3 context) on AVX-512 BF16 CPUs: the encoder runs those convs in fp32
    (``BF16_UNSAFE_DEPTH``), and every depth's gradient stays within bf16 rounding of fp32."""

    def weight_gradients(bf16: bool) -> torch.Tensor:
        torch.manual_seed(0)
        layer = EncoderConv(16, 32, TASKS).to(memory_format=torch.channels_last_3d)
        x = torch.rand(8, 16, depth, 16, 16).contiguous(memory_format=torch.channels_last_3d)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            y = layer(x, "middle")
        y.float().square().mean().backward()
        return layer.conv.weight.grad

    fp32 = weight_gradients(False)
    first, second = weight_gradients(True), weight_gradients(True)
    assert torch.equal(first, second)
    assert float((first - fp32).norm() / fp32.norm()) < 0.05
