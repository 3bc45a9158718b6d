"""The report: our numbers next to the published ones (the paper's Tables 2-4, the search of t
and lambda, the running time), as Markdown, CSV, LaTeX and figures.

Inputs
------
* ``metrics/<dataset>/`` for dataset in synthetic, ped2, avenue, shanghaitech (a missing folder
  means the dataset was not run), every file optional:

  - ``object_level.json``, ``frame_level.json``, ``late_fusion.json``, ``frame_diff.json``:
    ``ssmtl evaluate`` outputs (``auc_micro``, ``auc_macro``, ``auc_macro_strict``, ``frames``,
    ``videos``, ``one_class_videos``, optional ``rbdc``, ``tbdc``; from the current evaluation
    also ``chance``, ``ci95``, ``bootstrap`` and ``per_video``), fractions in 0..1;
  - ``train_object_level.json``, ``train_frame_level.json``: training summaries, whose optional
    ``config`` (arch, tasks, epochs, t, lam) names the profile that produced the numbers;
  - ``search.json``: the search of t and lambda (``best``, ``trials``);
  - ``ablation/<group>/<row>-s<seed>.json``: one Table 4 row and seed (``val``, ``eval``,
    ``profile``);
  - ``single_task/<row>-s<seed>.json``: the same for the single-task experiment (synthetic
    scenes: is each single-task row best on the anomaly kind aimed at its task?);
  - ``fps.json``: running-time runs per device.
* ``experiments/reference.csv``: every published number (percent), one per row, with its source.
* ``experiments/ablation.yaml``: the Table 4 rows (arch, tasks T1..T4, level).
* ``params.yaml`` (``--params``): the configuration, for the table of deviations from the paper.

Conventions
-----------
AUC is the frame-level ROC AUC in percent with one decimal. *micro*: all test frames of all
videos pooled, one AUC (the official SSMTL README's "Micro-AUC"). *macro*: the mean of the
per-video AUCs, the paper's convention, computed as in :mod:`bench.metrics.frame_auc` with its
"padded" variant (each video min-max normalised, one normal frame scored 0 prepended and one
abnormal frame scored 1 appended, so that one-class videos count too); *strict macro* beside
it (the videos with both classes only). Every AUC of ours comes with its chance level, its
bootstrap 95% interval, its seed count and flags (:mod:`~bench.report.evidence`); smoke runs
are kept out of every table but their own section. Validation accuracies
(T1, T2) are in percent, MAEs (T3, T4) plain numbers. With several seeds a cell reads
``mean ± std`` (sample standard deviation, ddof=1) and the seed count is given. Differences are
ours - published (percentage points for AUC and accuracy). No cell is ever empty: ``—`` means
not applicable, ``not run: <why>`` that our pipeline has not produced the number,
``not published`` that the source gives none, ``not available: <note>`` that the source's
number could not be read.

Outputs (under ``out_dir``, ``reports/`` in the pipeline)
---------------------------------------------------------
``README.md`` (every table, links to every PNG folder under ``figures/``), ``tables/table2.csv``,
``table3.csv``, ``table4.csv``, ``kinds.csv``, ``per_video.csv``, ``smoke.csv``,
``deviations.csv``, ``search.csv``, ``search_trials.csv``, ``fps.csv``,
``summary.md`` (the headline table, which ``--readme`` copies into the top-level README),
``tables/<name>.tex`` (one booktabs table per file, Table 4 as ``table4_proxy.tex`` and
``table4_auc.tex``; ``tables.tex`` holds their ``\\input`` lines: :mod:`~bench.report.latex`),
``figures/report/*.png`` (micro vs macro AUC per ablation row; the search objective per
(t, lambda)) and ``report.html``, the whole report as one self-contained page with its figures
inlined (ROC curves, score curves, localization examples, training curves from
``metrics/<dataset>/plots/``, and the environment: :mod:`~bench.report.html`). Every file is
written atomically.

Modules: :mod:`~bench.report.load` reads the inputs, :mod:`~bench.report.evidence` turns chance
levels, intervals and profiles into cells and flags, :mod:`~bench.report.levels` gives the
pipeline's evaluations their evidence, :mod:`~bench.report.tables` builds Tables 2 and 3, the
search and the running time, :mod:`~bench.report.table4` Table 4, :mod:`~bench.report.kinds`
the AUC per anomaly kind, :mod:`~bench.report.pervideo` the per-video AUC,
:mod:`~bench.report.deviations` the deviations from the paper, :mod:`~bench.report.figures`
draws, :mod:`~bench.report.render` writes the text.
The command line is ``ssmtl report`` (:mod:`bench.cli.report`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.io import write_text
from bench.report.deviations import DEVIATION_COLUMNS, deviations_table, load_params
from bench.report.diagnosis import (
    accuracy_table,
    convergence_table,
    head_scale_table,
    per_head_table,
    seeds_table,
)
from bench.report.evidence import SMOKE_COLUMNS
from bench.report.figures import plot_ablation, plot_frame_scores, plot_localization, plot_search
from bench.report.html import build_html
from bench.report.kinds import kinds_table
from bench.report.latex import write_latex
from bench.report.levels import pipeline_smoke
from bench.report.load import (
    DATASETS,
    NA,
    NOT_PUBLISHED,
    REFERENCE_COLUMNS,
    Loaded,
    MetricsDir,
    load_reference,
)
from bench.report.performance import (
    benchmark_scaling_table,
    benchmark_table,
    gpu_model_table,
    training_profile_table,
)
from bench.report.pervideo import per_video_table
from bench.report.render import header, latex_escape, markdown_table, page, write_csv
from bench.report.running_time import fps_table
from bench.report.selection import head_selection_table
from bench.report.summary import replace_block, summary_table
from bench.report.table4 import Stat, summarize, table4
from bench.report.tables import search_tables, table2, table3

__all__ = [
    "DATASETS",
    "NA",
    "NOT_PUBLISHED",
    "REFERENCE_COLUMNS",
    "Loaded",
    "MetricsDir",
    "Stat",
    "build_report",
    "deviations_table",
    "fps_table",
    "kinds_table",
    "latex_escape",
    "load_params",
    "load_reference",
    "per_video_table",
    "plot_frame_scores",
    "plot_localization",
    "search_tables",
    "summarize",
    "table2",
    "table3",
    "table4",
]


def build_report(
    metrics_dir: Path,
    reference_csv: Path,
    ablation_yaml: Path,
    out_dir: Path,
    readme: Path | None = None,
    params: Path | None = None,
) -> list[Path]:
    """Write the report's tables, figures and README under ``out_dir``, and the headline table
    ``summary.md`` (also into ``readme``'s results block when given); return the written
    files. ``params``: the ``params.yaml`` whose deviations from the paper the report lists
    (None: the table says it was not given)."""
    # Imported here: the ablation module pulls in torch and the pipeline, which the figures of
    # `ssmtl evaluate --figures` (bench.report.figures, importing this package) do not need.
    from bench.suite.ablation import load_rows

    ref = load_reference(reference_csv)
    specs = load_rows(ablation_yaml)
    metrics = MetricsDir(metrics_dir)
    # Built in this order so that, of several broken inputs, the same one is named first.
    t2, t3 = table2(ref, metrics), table3(ref, metrics)
    t4, stats, t4_smoke = table4(ref, metrics, specs)
    kinds, kinds_smoke = kinds_table(metrics, specs)
    smoke = pd.DataFrame(pipeline_smoke(metrics) + t4_smoke + kinds_smoke, columns=SMOKE_COLUMNS)
    search, trials = search_tables(metrics)
    fps = fps_table(ref, metrics)
    per_head, accuracy = per_head_table(metrics, ref), accuracy_table(metrics)
    seeds, convergence = seeds_table(metrics), convergence_table(metrics)
    performance = benchmark_table(metrics)
    config = load_params(params) if params is not None else None  # after the metrics' checks
    if config is None:
        why = "not built: no params file given (ssmtl report --params params.yaml)"
        deviations = pd.DataFrame([[why, *[NA] * 5]], columns=DEVIATION_COLUMNS)
    else:
        deviations = deviations_table(config, [d for d in DATASETS if metrics.ran(d)])
    # Keyed as the CSV files, in the order of the LaTeX file; the value is the LaTeX caption.
    tables = {
        "deviations": (
            deviations,
            "Deviations from the paper (params.yaml against bench/paper.py)",
        ),
        "table2": (t2, "Table 2: frame-level AUC"),
        "table3": (t3, "Table 3: Ped2 AUC, RBDC, TBDC"),
        "seeds": (seeds, "Headline rows over training seeds (mean and standard deviation)"),
        "per_head": (per_head, "AUC of each head alone beside eq. (6)"),
        "accuracy": (accuracy, "Proxy-task validation accuracy (chance 50%)"),
        "convergence": (convergence, "Ped2: AUC after every training epoch"),
        "head_scale": (head_scale_table(metrics), "Ped2: eq. (6)'s heads combined on one scale"),
        "head_selection": (
            head_selection_table(metrics),
            "Ped2: heads picked on half the test videos, scored on the other half",
        ),
        "table4": (t4, "Table 4: ablation"),
        "kinds": (kinds, "AUC per anomaly kind (synthetic)"),
        "per_video": (per_video_table(metrics), "Per-video AUC"),
        "smoke": (smoke, "Smoke runs (pipeline checks, not results)"),
        "search": (search, "Search of t and lambda"),
        "search_trials": (trials, "Search trials"),
        "fps": (fps, "Running time"),
        "performance": (performance, "Each hot stage beside a plain reference"),
        "scaling": (
            benchmark_scaling_table(metrics),
            "Cost per item and peak memory at 1x, 2x, 4x the data",
        ),
        "training_profile": (
            training_profile_table(metrics),
            "Where a CPU training step's time goes, beside the machine's ceilings",
        ),
        "gpu_model": (gpu_model_table(metrics), "The 3D CNN alone on a GPU"),
    }
    tables_dir = out_dir / "tables"
    written = [write_csv(tables_dir / f"{name}.csv", df) for name, (df, _) in tables.items()]
    written += write_latex(tables_dir, tables)
    report_dir = out_dir / "figures" / "report"
    ablation_png = [
        plot_ablation(d, s, report_dir / f"ablation_auc_{d}.png") for d, s in stats.items() if s
    ]
    search_png = [
        p for d in DATASETS if (p := plot_search(d, trials, report_dir / f"search_{d}.png"))
    ]
    written += ablation_png + search_png
    frames = {name: df for name, (df, _) in tables.items()}
    text = page(header(metrics, reference_csv), frames, ablation_png, search_png, out_dir)
    written.append(write_text(out_dir / "README.md", text))
    headline = summary_table(metrics)
    summary = markdown_table(headline)
    written.append(write_text(out_dir / "summary.md", summary))
    root = params.parent if params is not None else Path(".")
    pngs = ablation_png + search_png
    written.append(build_html(out_dir, metrics, tables, headline, pngs, config, root))
    if readme is not None:
        written.append(write_text(readme, replace_block(readme.read_text(), summary, readme)))
    return written
