"""The report's tables as Markdown, LaTeX and CSV, and the text of its page (``README.md``):
the header naming the profile behind each dataset's numbers, one section per paper table, the
links to every figure folder."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.io import write_text
from bench.report.evidence import (
    AT_CHANCE_ACCURACY,
    SMOKE_MIN_EPOCHS,
    SMOKE_ONLY,
    SMOKE_TRAIN_STRIDE,
    Profile,
)
from bench.report.load import DATASETS, NA, NOT_PUBLISHED, MetricsDir, profile_label, read_json
from bench.report.table4 import T4_AUC_COLUMNS, T4_PROXY_COLUMNS

LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "—": "---",
    "⚠": r"\textbf{(!)}",  # pdflatex has no glyph for the warning sign
}
KINDS_INTRO = (
    "Each anomaly kind of the synthetic scenes is aimed at one proxy task (wrong direction: T1, "
    "irregular motion: T2, unusual appearance: T3, novel object: T4; "
    "`bench/data/synth/anomalies.py`). AUC of one kind = its frames against all normal frames, "
    "pooled over the test videos. `aimed_kind` says, for a single-task row, whether it is the "
    "best of the single-task rows of the same source on the kind aimed at its task. A kind's "
    "chance level is the micro one (its frames pooled against all normal frames)."
)
EVIDENCE_TEXT = (
    "**Conventions.** AUC: frame-level ROC AUC in percent, one decimal. **micro** "
    "(`auc_micro`) = all test frames pooled, one AUC (the official SSMTL README's Micro-AUC). "
    "**padded macro** (`auc_macro`, the paper's macro, section 4.1) = each video min-max "
    "normalised, a normal frame scored 0 and an abnormal frame scored 1 added, then the mean of "
    "the per-video AUCs: one-class videos count, and the chance level exceeds 50 (68.4 on Ped2, "
    "whose test videos 08-11 hold no normal frame). **strict macro** (`auc_macro_strict`) = the "
    "mean of the per-video AUCs over the videos with both classes; chance 50. "
    "**chance (micro / padded / strict)** = the expected AUC of a random scorer on the same "
    "labels under each convention (`bench/metrics/chance.py`), read from the evaluation's "
    "`chance` or its per-video frame counts; micro and strict are 50 by definition wherever "
    "their AUC is defined, the padded level is never assumed (`not computed` when the file "
    "lacks it). **95% CI** (`*_ci95`) = percentile bootstrap over test videos (the videos are "
    "resampled with replacement, `bootstrap` in the file gives the draws and seed); with "
    "several seeds, the hull of the seeds' intervals. Several seeds: mean ± std (ddof=1); "
    "`seeds` counts them. Differences: ours - published, percentage points for AUC and "
    "accuracy."
)
FLAGS_TEXT = (
    "**Flags** (column `flags`, never empty: `none` when nothing was found). `⚠ below "
    "chance`: an AUC under its chance level. `⚠ 95% CI includes chance`: the AUC is not told "
    f"apart from a random scorer. `⚠ T1/T2 at chance`: a validation accuracy <= "
    f"{100 * AT_CHANCE_ACCURACY:.0f}% on these balanced two-class proxy tasks "
    "(`AT_CHANCE_ACCURACY`). `reduced profile`: fewer epochs than the paper's 30, a training "
    "or test frame stride > 1, with what was reduced. `not recorded`: what the files do not "
    "say about the profile. **Smoke runs** (fewer than "
    f"{SMOKE_MIN_EPOCHS} epochs, or a training frame stride >= {SMOKE_TRAIN_STRIDE}: "
    "`bench/report/evidence.py`) only check that the pipeline runs: their cells read "
    f"`{SMOKE_ONLY}` and their numbers are listed only under *Smoke runs*."
)


# --- tables ------------------------------------------------------------------------------------


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``±`` as math, ``—`` as ``---``)."""
    return re.sub("|".join(map(re.escape, LATEX_SPECIAL)), lambda m: LATEX_SPECIAL[m[0]], text)


def latex_table(df: pd.DataFrame, caption: str) -> str:
    """One LaTeX tabular, its caption as a comment above it."""
    lines = [f"% {caption}", r"\begin{tabular}{" + "l" * len(df.columns) + "}", r"\hline"]
    lines.append(" & ".join(latex_escape(c) for c in df.columns) + r" \\ \hline")
    lines += [
        " & ".join(latex_escape(str(v)) for v in row) + r" \\" for row in df.itertuples(index=False)
    ]
    return "\n".join(lines + [r"\hline", r"\end{tabular}", ""])


def markdown_table(df: pd.DataFrame) -> str:
    """A Markdown table, ``(none)`` when there are no rows."""
    if df.empty:
        return "(none)"
    cells = [list(df.columns)] + [[str(v) for v in row] for row in df.itertuples(index=False)]
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join([lines[0], "| " + " | ".join("---" for _ in df.columns) + " |", *lines[1:]])


def markdown_by(df: pd.DataFrame, column: str) -> str:
    """One Markdown table per value of ``column`` (dropped from the table)."""
    parts = [
        f"### {value}\n\n{markdown_table(group.drop(columns=column))}"
        for value, group in df.groupby(column, sort=False)
    ]
    return "\n\n".join(parts) or "(none)"


def write_csv(path: Path, df: pd.DataFrame) -> Path:
    """``df`` as CSV without its index, written atomically."""
    return write_text(path, df.to_csv(index=False))


# --- the page ----------------------------------------------------------------------------------


def ablation_profile(metrics: MetricsDir, dataset: str) -> str:
    """The ablation's file count, how many are smoke runs, and the profile(s), e.g.
    ``ablation: 4 files (4 smoke runs), profile epochs=2``."""
    paths = sorted((metrics.root / dataset / "ablation").rglob("*.json"))
    if not paths:
        return "ablation: not run"
    records = [read_json(p).get("profile") or {} for p in paths]
    profiles = {", ".join(f"{k}={v}" for k, v in r.items()) for r in records}
    listed = " | ".join(sorted(profiles)) or "not recorded"
    smoke = sum(Profile.of(r).smoke for r in records)
    kinds = f"{len(paths) - smoke} results, {smoke} smoke runs"
    return f"ablation: {len(paths)} files ({kinds}), profile {listed}"


def header(metrics: MetricsDir, reference_csv: Path) -> str:
    """The page's title, inputs, the profile behind each dataset's numbers and the conventions."""
    ran = [d for d in DATASETS if metrics.ran(d)]
    lines = [
        f"- {d}: object level {profile_label(metrics, d, 'object')}; "
        f"frame level {profile_label(metrics, d, 'frame')}; {ablation_profile(metrics, d)}"
        for d in ran
    ]
    not_run = ", ".join(d for d in DATASETS if d not in ran) or "none"
    return "\n".join(
        [
            "# SSMTL reproduction report",
            "",
            f"Generated by `ssmtl report` from `{metrics.root.as_posix()}/` and "
            f"`{reference_csv.as_posix()}`; regenerate with `dvc repro report`.",
            "",
            "Datasets with metrics and the profile that produced them:",
            "",
            *(lines or ["- none"]),
            "",
            f"Not run: {not_run}.",
            "",
            EVIDENCE_TEXT,
            "",
            FLAGS_TEXT,
            "",
            f"`{NA}` = not applicable; `not run: ...` = our pipeline has not produced the number "
            f"(and why); `not computed ...` = the file lacks it (the key is named); "
            f"`{NOT_PUBLISHED}` = the source gives none. The `source` columns name where each "
            "number comes from.",
        ]
    )


def figure_links(figures_dir: Path, out_dir: Path) -> str:
    """A link to every folder of PNGs under ``figures_dir``, with its PNG count."""
    folders = sorted({p.parent for p in figures_dir.rglob("*.png")}) if figures_dir.is_dir() else []
    links = []
    for folder in folders:
        name = folder.relative_to(out_dir).as_posix()
        links.append(f"- [{name}/]({name}/) ({len(list(folder.glob('*.png')))} PNG)")
    return "\n".join(links) or "(none)"


def images(paths: Sequence[Path], out_dir: Path) -> str:
    """Markdown images of ``paths``, relative to the page."""
    return "\n\n".join(f"![{p.stem}]({p.relative_to(out_dir).as_posix()})" for p in paths)


def markdown_by_run(df: pd.DataFrame) -> str:
    """One Markdown table per (dataset, level) of the per-video table."""
    parts = [
        f"### {dataset}, {level}\n\n{markdown_table(group.drop(columns=['dataset', 'level']))}"
        for (dataset, level), group in df.groupby(["dataset", "level"], sort=False)
    ]
    return "\n\n".join(parts) or "(none)"


def table4_text(t4: pd.DataFrame) -> str:
    """Table 4 in two parts per dataset (it is too wide for one): the proxy tasks, the AUC."""
    parts = []
    for dataset, group in t4.groupby("dataset", sort=False):
        parts.append(f"### {dataset}: proxy tasks (validation)\n\n")
        parts[-1] += markdown_table(group[T4_PROXY_COLUMNS])
        parts.append(f"### {dataset}: frame AUC\n\n" + markdown_table(group[T4_AUC_COLUMNS]))
    return "\n\n".join(parts) or "(none)"


DEVIATIONS_INTRO = (
    "Generated from `params.yaml` (the configuration `dvc repro` runs now) against "
    "`bench/paper.py`; the reasons are kept in `bench/report/deviations.py`. The metrics of a "
    "dataset run under other params (a `dvc exp`) carry their own profile: see the list above "
    "and each table's `flags`."
)
SMOKE_INTRO = (
    "These runs check that the pipeline runs end to end (fewer than "
    f"{SMOKE_MIN_EPOCHS} epochs, or a training frame stride >= {SMOKE_TRAIN_STRIDE}). Their "
    "numbers are **not results**: no other table shows them."
)
PER_VIDEO_INTRO = (
    "Each test video of each pipeline level: `auc_strict` (`—` for a one-class video), "
    "`auc_padded` and its chance level `chance_padded`. The padded macro AUC is the mean of "
    "`auc_padded`."
)


SEEDS_INTRO = (
    "Object level, mean ± standard deviation (n - 1) over training seeds: the pipeline's model "
    "and the `seeds` stage's runs of the same row on the same objects (Ped2: the study's "
    "selected checkpoints). Tables 2-3 give seed 0 with its bootstrap interval over test videos "
    "and, beside it, the row `SSMTL (ours), mean ± std over seeds` from this table; the spread "
    "over seeds is the other source of uncertainty."
)
PER_HEAD_INTRO = (
    "Each head's anomaly score alone, through the same maps and filters as eq. (6)'s mean of "
    "them. The authors' Ped2 figures are models trained on one task each (their Table 4 rows), "
    "the nearest published comparison. T1/T2 accuracy at chance (50%) means the head learned "
    "nothing it could score with."
)
HEAD_SCALE_INTRO = (
    "Eq. (6) averages heads whose spreads differ by ~30x on Ped2, so its mean is mostly T1+T2. "
    "`ssmtl head-scale` scores one checkpoint once and combines the heads as published (eq6), "
    "standardised with the validation objects' statistics (zscore_validation: no test data), "
    "with the test objects' own (zscore_test: a transductive diagnostic, not a method) and "
    "alone. Same maps, filters and evaluation as Table 3 (docs/ped2.md)."
)

HEAD_SELECTION_INTRO = (
    "The frame-level deviation (log scale, without T1) and the object level's log scale were "
    "chosen on the 12 test videos they are scored on. `ssmtl head-selection` repeats such a "
    "choice honestly: for every split of the test videos into two halves of 6, the subset of "
    "heads and head scale with the best micro AUC on one half is scored on the other (no test "
    "statistics; bench/suite/selection.py). The picked row's held-out AUC is what choosing on "
    "test is worth on videos the choice did not see; the fixed rows are scored on the same "
    "held-out halves (docs/ped2.md)."
)

CONVERGENCE_INTRO = (
    "Ped2, shallow_narrow, four tasks (`dvc repro experiments/ped2/dvc.yaml`): AUCs after every "
    "epoch, for the training objects of every 10th frame (s10) and of every frame (s1, the "
    "paper's). `selected`: the checkpoint training keeps (lowest validation loss). The "
    "authors' shallow_narrow four-task micro AUC is 92.1, the paper's deep_wide 97.5."
)


def table_or(df: pd.DataFrame, why: str = "not run") -> str:
    return markdown_table(df) if len(df) else why


def page(
    head: str,
    tables: dict[str, pd.DataFrame],
    ablation_png: Sequence[Path],
    search_png: Sequence[Path],
    out_dir: Path,
) -> str:
    """The text of ``README.md``: the header, then one section per table (``tables`` keyed as
    the CSV files), the report's figures under their tables, the links to every figure folder."""
    t4 = table4_text(tables["table4"])
    t4 += ("\n\n" + images(ablation_png, out_dir)) if ablation_png else ""
    kinds = tables["kinds"]
    if len(kinds):
        kinds_text = markdown_table(kinds)
    else:
        kinds_text = "not run: no metrics/synthetic/ with AUC per kind (or only smoke runs)"
    search = markdown_table(tables["search"])
    search += "\n\n### Trials\n\n" + markdown_by(tables["search_trials"], "dataset")
    search += ("\n\n" + images(search_png, out_dir)) if search_png else ""
    sections = [
        head,
        "## Deviations from the paper\n\n"
        + DEVIATIONS_INTRO
        + "\n\n"
        + markdown_table(tables["deviations"]),
        "## Table 2: frame-level AUC (object level, frame level, late fusion)\n\n"
        + markdown_by(tables["table2"], "dataset"),
        "## Table 3: Ped2, AUC, RBDC and TBDC\n\n" + markdown_table(tables["table3"]),
        "## Headline rows over training seeds\n\n"
        + SEEDS_INTRO
        + "\n\n"
        + table_or(tables["seeds"]),
        "## Which task carries the score: each head's AUC\n\n"
        + PER_HEAD_INTRO
        + "\n\n"
        + table_or(tables["per_head"])
        + "\n\n"
        + table_or(tables["accuracy"]),
        "## Ped2: convergence with the training budget\n\n"
        + CONVERGENCE_INTRO
        + "\n\n"
        + table_or(tables["convergence"]),
        "## Ped2: eq. (6)'s heads on one scale\n\n"
        + HEAD_SCALE_INTRO
        + "\n\n"
        + table_or(tables["head_scale"]),
        "## Ped2: how optimistic is a choice of heads made on test?\n\n"
        + HEAD_SELECTION_INTRO
        + "\n\n"
        + table_or(tables["head_selection"]),
        "## Table 4: ablation (architectures x proxy tasks)\n\n" + t4,
        "## AUC per anomaly kind (synthetic scenes)\n\n" + KINDS_INTRO + "\n\n" + kinds_text,
        "## Per-video AUC\n\n" + PER_VIDEO_INTRO + "\n\n" + markdown_by_run(tables["per_video"]),
        "## Smoke runs (pipeline checks, not results)\n\n"
        + SMOKE_INTRO
        + "\n\n"
        + markdown_table(tables["smoke"]),
        "## Search of t and lambda\n\n" + search,
        "## Running time (FPS)\n\n" + markdown_table(tables["fps"]),
        "## Performance: each stage beside a plain reference\n\n"
        + table_or(
            tables["performance"],
            "not run: `ssmtl bench compare NAME --root ROOT --out metrics/NAME/bench.json` "
            "on a quiet machine (docs/performance.md)",
        ),
        "## Performance: scaling with the data\n\n"
        + table_or(tables["scaling"], "not run: `ssmtl bench compare ... --scale 1,2,4`"),
        "## Performance: where a training step's time goes\n\n"
        + table_or(
            tables["training_profile"],
            "not run: `ssmtl bench profile` on a quiet machine (docs/performance.md)",
        ),
        "## Performance on a GPU: the 3D CNN alone\n\n"
        + table_or(
            tables["gpu_model"],
            "not run: no GPU was lent (`ssmtl bench model --device cuda --json`, "
            "experiments/ped2_gpu/device.sh)",
        ),
        "## Figures\n\n" + figure_links(out_dir / "figures", out_dir),
    ]
    return "\n\n".join(sections) + "\n"
