"""What a reviewer needs beside every AUC of the report: its chance level, its bootstrap 95%
interval, how many seeds it rests on, and flags (below chance, a proxy task at chance, a reduced
or smoke profile).

The paper (section 4.1, Tables 2-4) reports frame AUC alone, from the full 30-epoch profile of
section 4.2. Our numbers come from reduced CPU profiles and the padded macro convention has a
chance level well above 50 (68.4% on Ped2: its one-class test videos are decided by the pads,
:mod:`bench.metrics.chance`), so a bare number can mislead; this module turns the ``chance``,
``ci95``, ``bootstrap`` and ``per_video`` keys of an evaluation into cells and flags. A key a
file lacks reads "not computed", never a made-up number.

Conventions (the page text repeats them): *padded macro* = each video min-max normalised, a
normal frame scored 0 and an abnormal frame scored 1 added, then the mean of the per-video AUCs
(one-class videos count, chance above 50); *strict macro* = the mean over the videos holding
both classes (chance 50).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import paper
from bench.metrics.chance import RANDOM_SCORER_AUC, padded_chance
from bench.paper import EPOCHS
from bench.report.load import NA, number

# --- the named thresholds (one place) ----------------------------------------------------------

#: T1 and T2 are balanced two-class tasks (section 3.3): a validation accuracy at or below this
#: fraction means the head learnt nothing, whatever the AUC says.
AT_CHANCE_ACCURACY = 0.55
#: A smoke profile checks that the pipeline runs end to end; its numbers are not results:
#: fewer than this many epochs ...
SMOKE_MIN_EPOCHS = 3
#: ... or the objects of every n-th training frame with n at least this.
SMOKE_TRAIN_STRIDE = 20

# --- cell texts --------------------------------------------------------------------------------

NOT_COMPUTED = "not computed"
UNDEFINED = "undefined"
SMOKE_ONLY = "smoke run only (not a result)"
BELOW_CHANCE = "⚠ below chance"
NO_FLAGS = "none"
#: The report's AUC keys -> the convention's key in ``chance`` and ``ci95``.
CONVENTION = {
    "auc_micro": "auc_micro",
    "auc_macro": "auc_macro_padded",  # the evaluation's auc_macro is the padded one
    "auc_macro_padded": "auc_macro_padded",
    "auc_macro_strict": "auc_macro_strict",
    "rbdc": "rbdc",
    "tbdc": "tbdc",
}
NAMES = {
    "auc_micro": "micro",
    "auc_macro_padded": "padded macro",
    "auc_macro_strict": "strict macro",
    "rbdc": "RBDC",
    "tbdc": "TBDC",
}
AUC_KEYS = ("auc_micro", "auc_macro_padded", "auc_macro_strict")  # the chance cell's order
CHANCE_COLUMN = "chance (micro / padded / strict)"


def pct(value: float) -> str:
    return f"{100 * value:.1f}"


# --- chance levels -----------------------------------------------------------------------------


def counts_chance(per_video: Any, where: str) -> dict[str, float | str] | None:
    """The chance levels from ``per_video``'s frame counts (:mod:`bench.metrics.chance`), or
    None without counts."""
    if not isinstance(per_video, Mapping) or not per_video:
        return None
    counts = []
    for vid, entry in per_video.items():
        frames = number(entry, "frames", f"{where}: per_video {vid}")
        abnormal = number(entry, "abnormal_frames", f"{where}: per_video {vid}")
        if frames is None or abnormal is None:
            return None
        counts.append((int(frames - abnormal), int(abnormal)))
    both = any(n0 and n1 for n0, n1 in counts)
    pooled = sum(n0 for n0, _ in counts) and sum(n1 for _, n1 in counts)
    return {
        "auc_micro": RANDOM_SCORER_AUC if pooled else UNDEFINED,
        "auc_macro_padded": sum(padded_chance(n0, n1) for n0, n1 in counts) / len(counts),
        "auc_macro_strict": RANDOM_SCORER_AUC if both else UNDEFINED,
    }


def chance_levels(data: Mapping[str, Any] | None, where: str) -> dict[str, float | str]:
    """Per AUC convention, the chance level (a fraction) or why there is none.

    Read from ``chance``, else from ``per_video``'s counts. Micro and strict macro are 1/2 by
    definition wherever their AUC is defined (a defined AUC has both classes), so a file with
    the AUC but without ``chance`` still gets them; the padded level depends on the labels and
    is never assumed."""
    data = data or {}
    stored = data.get("chance")
    derived = counts_chance(data.get("per_video"), where)
    out: dict[str, float | str] = {}
    for key in AUC_KEYS:
        if isinstance(stored, Mapping) and key in stored:
            value = number(stored, key, f"{where}: chance")
            out[key] = UNDEFINED if value is None else value
        elif derived is not None:
            out[key] = derived[key]
        elif key != "auc_macro_padded" and number(data, key, where) is not None:
            out[key] = RANDOM_SCORER_AUC
        else:
            out[key] = NOT_COMPUTED
    return out


def chance_cell(levels: Mapping[str, float | str], where: str) -> str:
    """``50.0 / 68.4 / 50.0`` (micro / padded / strict), or why there is none."""
    if all(v == NOT_COMPUTED for v in levels.values()):
        return f"{NOT_COMPUTED}: no chance or per_video in {where}"
    return " / ".join(pct(v) if isinstance(v, float) else v for v in levels.values())


# --- bootstrap intervals -----------------------------------------------------------------------


def interval(data: Mapping[str, Any] | None, key: str, where: str) -> tuple[float, float] | str:
    """The 95% interval of ``key`` (fractions), or why there is none."""
    ci = (data or {}).get("ci95")
    conv = CONVENTION.get(key, key)
    if not isinstance(ci, Mapping) or conv not in ci:
        return NOT_COMPUTED
    if ci[conv] is None:
        return UNDEFINED
    low, high = (number(ci[conv], k, f"{where}: ci95.{conv}") for k in ("low", "high"))
    return (low, high) if low is not None and high is not None else NOT_COMPUTED


def ci_cell(data: Mapping[str, Any] | None, key: str, where: str) -> str:
    """``[84.1, 90.2]`` (with the draw count when draws were left out), or why there is none."""
    if data is None:
        return NA
    found = interval(data, key, where)
    if found == UNDEFINED:
        return f"{UNDEFINED}: no bootstrap draw defines it"
    if isinstance(found, str):  # the row names its file; the key is what is missing
        return f"{NOT_COMPUTED} (no ci95.{CONVENTION.get(key, key)})"
    cell = f"[{pct(found[0])}, {pct(found[1])}]"
    entry = data["ci95"][CONVENTION.get(key, key)]
    resamples = number(data.get("bootstrap"), "resamples", where)
    drawn = number(entry, "draws", where)
    if drawn is not None and resamples is not None and drawn < resamples:
        cell += f" ({int(drawn)} of {int(resamples)} draws)"
    return cell


def hull_cell(records: Sequence[Mapping[str, Any] | None], key: str, where: str) -> str:
    """One seed: its interval; several: the hull of the seeds' intervals (lowest low, highest
    high), so the cell never looks narrower than any single seed's."""
    if len(records) == 1:
        return ci_cell(records[0], key, where)
    found = [interval(r, key, where) for r in records]
    if any(isinstance(f, str) for f in found):
        return f"{NOT_COMPUTED} (no ci95.{CONVENTION.get(key, key)} in every seed of {where})"
    low, high = min(f[0] for f in found), max(f[1] for f in found)
    return f"[{pct(low)}, {pct(high)}] (hull of {len(records)} seeds)"


# --- flags -------------------------------------------------------------------------------------


def auc_flags(
    values: Mapping[str, float | None],
    levels: Mapping[str, float | str],
    intervals: Mapping[str, tuple[float, float] | str] | None = None,
) -> list[str]:
    """A flag per AUC below its chance level, and per interval that holds the chance level (the
    AUC is then not told apart from a random scorer). An AUC below chance says whether its
    interval holds chance (within noise: a test set too small to tell) or lies wholly below it
    (significantly below: the scores point the wrong way, a defect to chase). ``values`` keyed
    as :data:`CONVENTION`."""
    flags = []
    for key, value in values.items():
        conv = CONVENTION[key]
        level = levels.get(conv)
        if value is None or not isinstance(level, float):
            continue
        found = (intervals or {}).get(key)
        holds = isinstance(found, tuple) and found[0] <= level <= found[1]
        if value < level:
            flag = f"{BELOW_CHANCE}: {NAMES[conv]} {pct(value)} < {pct(level)}"
            if isinstance(found, tuple):
                span = f"95% CI [{pct(found[0])}, {pct(found[1])}]"
                flag += (
                    f", within noise ({span} holds chance)"
                    if holds
                    else (f", significantly ({span}): a defect to chase")
                )
            flags.append(flag)
        elif holds:
            flags.append(f"⚠ 95% CI includes chance: {NAMES[conv]}")
    return flags


def unchecked(levels: Mapping[str, float | str]) -> list[str]:
    """A note naming the conventions whose chance level is unknown (not checked)."""
    missing = [NAMES[k] for k, v in levels.items() if v == NOT_COMPUTED]
    return [f"chance not computed ({', '.join(missing)}): not checked"] if missing else []


def accuracy_flags(accuracies: Mapping[str, float | None]) -> list[str]:
    """T1/T2 validation accuracies (fractions) at or below :data:`AT_CHANCE_ACCURACY`."""
    limit = pct(AT_CHANCE_ACCURACY)
    return [
        f"⚠ {task} at chance: val acc {pct(acc)} <= {limit}"
        for task, acc in accuracies.items()
        if acc is not None and acc <= AT_CHANCE_ACCURACY
    ]


def joined(flags: Iterable[str]) -> str:
    """The flags of a cell, ``none`` when there are none (a flag column is never empty)."""
    return "; ".join(flags) or NO_FLAGS


# --- profiles: reduced and smoke runs ----------------------------------------------------------


def whole(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Profile:
    """How a number was produced: training epochs, the frame strides (None: not recorded), and
    ``test_note`` when the test set was subsampled in a way the files only show by counts."""

    epochs: int | None
    train_stride: int | None
    test_stride: int | None
    trained: bool = True
    test_note: str = ""

    @classmethod
    def of(cls, profile: Mapping[str, Any] | None) -> Profile:
        """From an ablation file's ``profile`` dict (or a training ``config``)."""
        p = profile or {}
        strides = (whole(p.get(k)) for k in ("train_frame_stride", "test_frame_stride"))
        return cls(whole(p.get("epochs")), *strides)

    def smoke_why(self) -> list[str]:
        why = []
        if self.trained and self.epochs is not None and self.epochs < SMOKE_MIN_EPOCHS:
            why.append(f"epochs {self.epochs} < {SMOKE_MIN_EPOCHS}")
        if self.trained and self.train_stride and self.train_stride >= SMOKE_TRAIN_STRIDE:
            why.append(f"training frame stride {self.train_stride} >= {SMOKE_TRAIN_STRIDE}")
        return why

    @property
    def smoke(self) -> bool:
        return bool(self.smoke_why())

    def flags(self) -> list[str]:
        """``reduced profile: ...`` naming what was reduced, and what was not recorded."""
        reduced, unknown = [], []
        if self.trained:
            if self.epochs is None:
                unknown.append("epochs")
            elif self.epochs < EPOCHS:
                reduced.append(f"epochs {self.epochs} < {EPOCHS}")
            if self.train_stride is None:
                unknown.append("training frame stride")
            elif self.train_stride > paper.FRAME_STRIDE:
                reduced.append(f"training frame stride {self.train_stride} > 1")
        if self.test_stride is not None and self.test_stride > paper.FRAME_STRIDE:
            reduced.append(f"test frame stride {self.test_stride} > 1")
        elif self.test_note:
            reduced.append(self.test_note)
        elif self.test_stride is None:
            unknown.append("test frame stride")
        flags = [f"reduced profile: {', '.join(reduced)}"] if reduced else []
        return flags + ([f"not recorded: {', '.join(unknown)}"] if unknown else [])

    def text(self) -> str:
        parts = [f"epochs={self.epochs}"] if self.trained else ["no training"]
        parts += [f"train_frame_stride={self.train_stride}"] if self.trained else []
        parts.append(f"test_frame_stride={self.test_stride}")
        return ", ".join(p.replace("None", "?") for p in parts)


def merged(profiles: Sequence[Profile]) -> Profile:
    """The weakest of several profiles (late fusion: the object and the frame level)."""

    def worst(values: list[int | None], pick: Any) -> int | None:
        return None if any(v is None for v in values) else pick(values)

    return Profile(
        worst([p.epochs for p in profiles], min),
        worst([p.train_stride for p in profiles], max),
        worst([p.test_stride for p in profiles], max),
        test_note=next((p.test_note for p in profiles if p.test_note), ""),
    )


def seeds_text(seeds: Sequence[int | None], trained: bool = True) -> str:
    """``1 seed (seed 0)``, ``2 seeds (0, 1)``; ``1 run (no training)``."""
    if not trained:
        return "1 run (no training)"
    known = sorted({s for s in seeds if s is not None})
    if not known:
        return f"{len(seeds) or 1} run (seed not recorded)"
    if len(known) == 1:
        return f"1 seed (seed {known[0]})"
    return f"{len(known)} seeds ({', '.join(map(str, known))})"


# --- the smoke section -------------------------------------------------------------------------

SMOKE_COLUMNS = [
    "dataset",
    "source",
    "row",
    "seed",
    "profile",
    "why smoke",
    "auc_micro",
    "auc_macro",
    "auc_macro_strict",
    CHANCE_COLUMN,
    "val_acc_T1",
    "val_acc_T2",
    "flags",
]


def smoke_row(
    dataset: str,
    source: str,
    row: str,
    seed: int | None,
    profile: Profile,
    evaluation: Mapping[str, Any] | None,
    val: Mapping[str, Any] | None,
    where: str,
) -> list[str]:
    """One smoke run's numbers, for the section that says they are not results."""
    ev = evaluation or {}
    aucs = {k: number(ev, k, where) for k in ("auc_micro", "auc_macro", "auc_macro_strict")}
    levels = chance_levels(ev, where)
    accs = {t: number(val, k, where) for t, k in (("T1", "acc_arrow"), ("T2", "acc_motion"))}
    flags = auc_flags(aucs, levels) + unchecked(levels) + accuracy_flags(accs)
    cells = [pct(v) if v is not None else NA for v in (*aucs.values(), *accs.values())]
    return [
        dataset,
        source,
        row,
        NA if seed is None else str(seed),
        profile.text(),
        ", ".join(profile.smoke_why()),
        *cells[:3],
        chance_cell(levels, where),
        *cells[3:],
        joined(flags),
    ]


def published_flags(cells: Mapping[str, str], levels: Mapping[str, float | str]) -> str:
    """Flags of a published row: its AUCs (percent cells keyed as :data:`CONVENTION`, or
    ``as_published`` when the averaging is unknown: then against the lowest chance level)
    below chance on our labels of the same test set; the conventions not checked."""
    known = {k: v for k, v in levels.items() if isinstance(v, float)}
    flags, missing = [], []
    for key, cell in cells.items():
        try:
            value = float(cell) / 100
        except ValueError:
            continue
        conv = "as published" if key == "as_published" else NAMES[CONVENTION[key]]
        level = (
            min(known.values(), default=None)
            if key == "as_published"
            else known.get(CONVENTION[key])
        )
        if level is None:
            missing.append(conv)
        elif value < level:
            flags.append(f"{BELOW_CHANCE}: {conv} {cell} < {pct(level)}")
    if missing:
        flags.append(f"chance not computed ({', '.join(missing)}): not checked")
    return joined(flags)
