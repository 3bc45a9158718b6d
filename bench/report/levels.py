"""The pipeline's evaluations (object level, frame level, late fusion: Table 2 and section 3.5;
Ped2's object level: Table 3; the frame-difference baseline) with their evidence: the profile
that produced them, the seeds, chance levels, 95% intervals and flags
(:mod:`bench.report.evidence`), shared by Tables 2, 3 and the headline table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.report.evaluations import EVALUATIONS
from bench.report.evidence import (
    NOT_COMPUTED,
    SMOKE_ONLY,
    Profile,
    auc_flags,
    chance_cell,
    chance_levels,
    ci_cell,
    interval,
    joined,
    merged,
    seeds_text,
    smoke_row,
    unchecked,
    whole,
)
from bench.report.load import DATASETS, NA, Loaded, MetricsDir, number, read_json

#: Each evaluation file -> the training summaries behind it, and its per-video source label
#: (bench/report/evaluations.py).
TRAINED_BY = {evaluation.name: evaluation.trained_by for evaluation in EVALUATIONS}
SOURCES = {evaluation.name: evaluation.source for evaluation in EVALUATIONS}


def test_frames(metrics: MetricsDir, dataset: str) -> int | None:
    """The test split's frame count from ``dataset.json`` (the data check's output), if any."""
    path = metrics.root / dataset / "dataset.json"
    if not path.is_file():
        return None
    test = ((read_json(path).get("splits") or {}).get("test")) or {}
    return whole(test.get("frames"))


def level_profile(metrics: MetricsDir, dataset: str, name: str, result: Loaded) -> Profile:
    """The profile of a pipeline evaluation: epochs (and a training stride, when recorded) from
    the training summaries' ``config``; the test stride from the evaluation, or else from its
    frame count against ``dataset.json`` (all frames: stride 1)."""
    configs = []
    for train in TRAINED_BY[name]:
        loaded = metrics.load(dataset, train)
        config = (loaded.data or {}).get("config")
        configs.append(Profile.of(config if isinstance(config, dict) else None))
    data = result.data or {}
    test_stride, note = whole(data.get("test_frame_stride")), ""
    frames, total = whole(data.get("frames")), test_frames(metrics, dataset)
    if test_stride is None and frames is not None and total is not None:
        test_stride = 1 if frames == total else None
        note = "" if frames == total else f"test frames {frames} of {total}"
    if not configs:
        return Profile(None, None, test_stride, trained=False, test_note=note)
    base = merged(configs)
    return Profile(base.epochs, base.train_stride, test_stride, test_note=note)


def level_seeds(metrics: MetricsDir, dataset: str, name: str) -> list[int | None]:
    seeds = []
    for train in TRAINED_BY[name]:
        config = (metrics.load(dataset, train).data or {}).get("config") or {}
        seeds.append(whole(config.get("seed")) if isinstance(config, dict) else None)
    return seeds


@dataclass(frozen=True)
class Level:
    """One pipeline evaluation and everything the tables show beside its numbers."""

    result: Loaded
    profile: Profile
    seeds: str

    @property
    def ran(self) -> bool:
        return self.result.data is not None

    @property
    def smoke(self) -> bool:
        return self.ran and self.profile.smoke

    def value(self, key: str) -> str:
        """A metric in percent; a smoke run's is no result and reads so."""
        return SMOKE_ONLY if self.smoke else self.result.pct(key)

    def ci(self, key: str) -> str:
        return NA if self.smoke else ci_cell(self.result.data, key, self.result.label)

    def cells(self, key: str) -> list[str]:
        """The metric and its 95% interval."""
        return [self.value(key), self.ci(key)]

    def chance(self) -> str:
        if not self.ran:
            return NA
        return chance_cell(chance_levels(self.result.data, self.result.label), self.result.label)

    def flags(self, keys: Sequence[str] = ("auc_micro", "auc_macro", "auc_macro_strict")) -> str:
        """Below chance, interval holding chance, the profile's reductions, what is unknown."""
        if not self.ran:
            return "not run"
        if self.smoke:
            why = ", ".join(self.profile.smoke_why())
            return f"smoke run ({why}): its numbers are under Smoke runs, not here"
        data, where = self.result.data, self.result.label
        levels = chance_levels(data, where)
        values = {k: number(data, k, where) for k in keys}
        intervals = {k: interval(data, k, where) for k in keys}
        return joined(
            auc_flags(values, levels, intervals) + unchecked(levels) + self.profile.flags()
        )


def load_level(metrics: MetricsDir, dataset: str, name: str) -> Level:
    result = metrics.load(dataset, name)
    if result.data is None:
        return Level(result, Profile(None, None, None), NA)
    profile = level_profile(metrics, dataset, name, result)
    seeds = seeds_text(level_seeds(metrics, dataset, name), trained=profile.trained)
    return Level(result, profile, seeds)


def dataset_chance(metrics: MetricsDir, dataset: str) -> tuple[str, dict[str, float | str]]:
    """The chance levels of a dataset's full test set, from the first pipeline evaluation that
    has them and scored every test frame (for the published rows: the same labels)."""
    if not metrics.ran(dataset):
        return f"not computed: {dataset} not run", {}
    found = []
    for name in TRAINED_BY:
        level = load_level(metrics, dataset, name)
        if level.ran and level.profile.test_stride == 1:
            levels = chance_levels(level.result.data, level.result.label)
            found.append((levels["auc_macro_padded"] == NOT_COMPUTED, level.result.label, levels))
    if not found:
        return f"{NOT_COMPUTED}: no evaluation of all {dataset} test frames", {}
    # The first with a padded level, else the first: micro and strict are known from any.
    _, label, levels = min(found, key=lambda f: f[0])
    return f"{chance_cell(levels, label)} (labels of {label})", levels


def pipeline_smoke(metrics: MetricsDir) -> list[list[str]]:
    """The smoke section's rows of the pipeline's levels."""
    rows = []
    for dataset in DATASETS:
        for name, source in SOURCES.items():
            level = load_level(metrics, dataset, name)
            if level.smoke:
                seed = next((s for s in level_seeds(metrics, dataset, name) if s is not None), None)
                data, where = level.result.data, level.result.label
                rows.append(smoke_row(dataset, source, NA, seed, level.profile, data, None, where))
    return rows
