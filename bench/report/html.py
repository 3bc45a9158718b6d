"""The report as one self-contained HTML page, ``reports/report.html``, beside the Markdown: the
same tables (chance levels, 95% intervals, flags), every figure inlined as a base64 PNG (no
file next to it is needed: it can be mailed or attached to a review), and the environment.

Per dataset: ROC curves of every level (from ``metrics/<dataset>/plots/roc_*.csv``, written by
``ssmtl plots``), frame scores against the shaded ground truth (``scores_*.csv``, else the
PNGs of ``ssmtl evaluate --figures``), localization examples (the ``localization_*.png`` of the
object level's evaluation figures: detected regions in red, ground truth in green, on the
dataset's real test frames), and the training curves (``train_*.csv``). What is missing is
said, with the command that makes it.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench import tracking
from bench.io import write_text
from bench.metrics.curves import read_table
from bench.report.environment import environment
from bench.report.load import DATASETS, MetricsDir
from bench.report.plots import aucs_of, history_figure, roc_figure, scores_figure
from bench.report.render import EVIDENCE_TEXT, FLAGS_TEXT
from bench.report.table4 import T4_AUC_COLUMNS, T4_PROXY_COLUMNS

LEVELS = ("object_level", "frame_level", "late_fusion", "frame_diff")
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;
padding:0 1rem;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2.5rem}
.wrap{overflow-x:auto;margin:.5rem 0 1rem}
table{border-collapse:collapse;font-size:.8rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}
td.warn{background:#fff3cd}
figure{display:inline-block;margin:.5rem 1rem .5rem 0;vertical-align:top}
figcaption{font-size:.8rem;color:#555;max-width:40rem}
img{max-width:100%;height:auto;border:1px solid #eee}
figure.thumb img{width:370px}
.note{color:#8a6d3b;font-style:italic}
nav a{margin-right:.8rem}
code{background:#f5f5f5;padding:0 .2rem}
"""


def inline_markdown(text: str) -> str:
    """HTML of a paragraph with Markdown's ``**bold**`` and ```code``` (escaped first)."""
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def table_html(df: pd.DataFrame) -> str:
    """``df`` as an HTML table (escaped), cells holding a warning flag highlighted."""
    if df.empty:
        return "<p>(none)</p>"
    text = df.to_html(index=False, border=0, escape=True, na_rep="—")
    text = text.replace("<td>⚠", '<td class="warn">⚠')
    return f'<div class="wrap">{text}</div>'


def tables_by(df: pd.DataFrame, columns: Sequence[str]) -> str:
    """One titled HTML table per value of ``columns`` (dropped from the table)."""
    if df.empty:
        return "<p>(none)</p>"
    parts = []
    for key, group in df.groupby(list(columns), sort=False):
        title = ", ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        parts.append(f"<h3>{html.escape(title)}</h3>" + table_html(group.drop(columns=columns)))
    return "\n".join(parts)


def img(data: bytes, alt: str, caption: str = "", thumb: bool = False) -> str:
    """A figure with ``data`` (PNG bytes) inlined as a data URI; ``thumb``: drawn small (one of
    many side by side)."""
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    cap = f"<figcaption>{inline_markdown(caption)}</figcaption>" if caption else ""
    css = ' class="thumb"' if thumb else ""
    return f'<figure{css}><img src="{uri}" alt="{html.escape(alt)}">{cap}</figure>'


def note(text: str) -> str:
    return f'<p class="note">{inline_markdown(text)}</p>'


def plot_tables(folder: Path, prefix: str) -> dict[str, dict[str, list[Any]]]:
    """``{level: table}`` of ``folder/<prefix><level>.csv``, in the order of ``LEVELS``."""
    found = {p.stem.removeprefix(prefix): read_table(p) for p in folder.glob(f"{prefix}*.csv")}
    order = {level: i for i, level in enumerate(LEVELS)}
    return dict(sorted(found.items(), key=lambda item: order.get(item[0], len(order))))


def dataset_section(metrics: MetricsDir, dataset: str, figures_dir: Path) -> str:
    """ROC curves, score curves, localization examples and training curves of ``dataset``."""
    plots_dir = metrics.root / dataset / "plots"
    make = f"`ssmtl plots {dataset} --root ... --scores object_level=... --out {plots_dir}`"
    parts = [f'<h2 id="figures-{dataset}">{dataset}: figures</h2>', "<h3>ROC curves</h3>"]
    rocs = plot_tables(plots_dir, "roc_")
    if rocs:
        results = {level: metrics.load(dataset, f"{level}.json").data for level in rocs}
        caption = (
            "All test frames pooled (micro). The dotted diagonal is a random scorer; the "
            "padded macro AUC's chance level is higher (see the tables)."
        )
        parts.append(img(roc_figure(dataset, rocs, aucs_of(results, list(rocs))), "ROC", caption))
    else:
        parts.append(note(f"No ROC data for {dataset}: no {plots_dir}/roc_*.csv ({make})."))
    parts.append("<h3>Frame scores against the ground truth</h3>")
    scores = plot_tables(plots_dir, "scores_")
    for level, table in scores.items():
        parts.append(img(scores_figure(dataset, level, table), f"scores {level}"))
    if not scores:
        pngs = sorted((figures_dir / dataset / "object_level").glob("scores_*.png"))
        if pngs:
            parts.append(note("From `ssmtl evaluate --figures` (object level), one per video."))
            parts += [img(p.read_bytes(), p.stem, thumb=True) for p in pngs]
        else:
            parts.append(note(f"No frame scores for {dataset} ({make})."))
    parts.append("<h3>Localization examples</h3>")
    local = sorted((figures_dir / dataset / "object_level").glob("localization_*.png"))
    if local:
        caption = (
            f"The {dataset} test frames whose best region scores highest: detected regions in "
            "red with their score, ground-truth boxes dashed green (`ssmtl evaluate --regions "
            "--figures`)."
        )
        parts.append(note(caption))
        parts += [img(p.read_bytes(), p.stem, p.stem.replace("_", " "), True) for p in local]
    else:
        parts.append(
            note(
                f"No localization figures for {dataset}: no {figures_dir}/{dataset}/"
                "object_level/localization_*.png (`ssmtl evaluate --regions ... --figures`)."
            )
        )
    parts.append("<h3>Training curves</h3>")
    histories = plot_tables(plots_dir, "train_")
    drawn = [
        img(data, f"training {name}")
        for name, table in histories.items()
        if (data := history_figure(f"{dataset}, {name}: loss per task", table)) is not None
    ]
    parts += drawn or [
        note(
            f"No training history for {dataset}: no {plots_dir}/train_*.csv (written by "
            "`ssmtl train`; the per-epoch curves are also in MLflow)."
        )
    ]
    return "\n".join(parts)


def table4_html(t4: pd.DataFrame) -> str:
    """Table 4 in two readable parts per dataset: proxy-task metrics, then the AUCs."""
    if t4.empty:
        return "<p>(none)</p>"
    parts = []
    for dataset, group in t4.groupby("dataset", sort=False):
        parts.append(f"<h3>{html.escape(str(dataset))}: proxy tasks (validation)</h3>")
        parts.append(table_html(group[T4_PROXY_COLUMNS]))
        parts.append(f"<h3>{html.escape(str(dataset))}: frame AUC</h3>")
        parts.append(table_html(group[T4_AUC_COLUMNS]))
    return "\n".join(parts)


def build_html(
    out_dir: Path,
    metrics: MetricsDir,
    tables: Mapping[str, tuple[pd.DataFrame, str]],
    summary: pd.DataFrame,
    report_pngs: Sequence[Path],
    params: dict[str, Any] | None,
    root: Path = Path("."),
) -> Path:
    """Write ``out_dir/report.html``; return its path. ``report_pngs``: the report's own
    figures (ablation bars, search heatmaps), inlined under the tables."""
    ran = [d for d in DATASETS if metrics.ran(d)]
    frames = {name: df for name, (df, _) in tables.items()}
    figures_dir = out_dir / "figures"
    toc = ["results", "conventions", *[f"figures-{d}" for d in ran], "tables", "environment"]
    body = [
        "<h1>SSMTL reproduction report</h1>",
        f"<p>{html.escape(tracking.version_line())}. Generated by <code>ssmtl report</code> "
        f"from <code>{html.escape(metrics.root.as_posix())}/</code>; the Markdown version is "
        "<code>README.md</code> beside this file.</p>",
        "<nav>" + "".join(f'<a href="#{t}">{t.replace("-", " ")}</a>' for t in toc) + "</nav>",
        '<h2 id="results">Results</h2>',
        table_html(summary),
        '<h2 id="conventions">Conventions and flags</h2>',
        f"<p>{inline_markdown(EVIDENCE_TEXT)}</p><p>{inline_markdown(FLAGS_TEXT)}</p>",
        *[dataset_section(metrics, d, figures_dir) for d in ran],
        '<h2 id="tables">Tables</h2>',
        "<h3>Deviations from the paper</h3>",
        table_html(frames["deviations"]),
        "<h3>Table 2: frame-level AUC</h3>",
        tables_by(frames["table2"], ["dataset"]),
        "<h3>Table 3: Ped2, AUC, RBDC and TBDC</h3>",
        table_html(frames["table3"]),
        "<h3>Headline rows over training seeds</h3>",
        table_html(frames["seeds"]),
        "<h3>Each head's AUC beside eq. (6)</h3>",
        table_html(frames["per_head"]),
        "<h3>Proxy-task validation accuracy</h3>",
        table_html(frames["accuracy"]),
        "<h3>Ped2: AUC after every training epoch</h3>",
        table_html(frames["convergence"]),
        "<h3>Ped2: eq. (6)'s heads on one scale</h3>",
        table_html(frames["head_scale"]),
        "<h3>Ped2: heads picked on half the test videos, scored on the other half</h3>",
        table_html(frames["head_selection"]),
        "<h3>Table 4: ablation</h3>",
        table4_html(frames["table4"]),
        "<h3>AUC per anomaly kind (synthetic scenes)</h3>",
        table_html(frames["kinds"]),
        "<h3>Per-video AUC</h3>",
        tables_by(frames["per_video"], ["dataset", "level"]),
        "<h3>Smoke runs (pipeline checks, not results)</h3>",
        table_html(frames["smoke"]),
        "<h3>Search of t and lambda</h3>",
        table_html(frames["search"]),
        *[img(p.read_bytes(), p.stem, p.stem.replace("_", " ")) for p in report_pngs],
        "<h3>Running time (FPS)</h3>",
        table_html(frames["fps"]),
        "<h3>Performance: each stage beside a plain reference</h3>",
        table_html(frames["performance"]),
        "<h3>Performance: scaling with the data</h3>",
        table_html(frames["scaling"]),
        "<h3>Performance: where a training step's time goes</h3>",
        table_html(frames["training_profile"]),
        "<h3>Performance on a GPU: the 3D CNN alone</h3>",
        table_html(frames["gpu_model"]),
        '<h2 id="environment">Environment</h2>',
        table_html(pd.DataFrame(environment(params, root), columns=["item", "value"])),
    ]
    page = "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            "<title>SSMTL reproduction report</title>",
            f"<style>{STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )
    return write_text(out_dir / "report.html", page)
