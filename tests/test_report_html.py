"""The HTML report (one self-contained page), its LaTeX tables (booktabs, one file each), the plot
data behind ``dvc plots`` and the page opened in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from conftest import REPO

from bench.metrics.curves import (
    MAX_ROC_POINTS,
    history_table,
    read_table,
    roc_table,
    score_table,
    search_table,
    write_level_curves,
    write_table,
)
from bench.report import build_report

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REFERENCE = REPO / "experiments" / "reference.csv"
ABLATION = REPO / "experiments" / "ablation.yaml"
CHROMIUM = Path("/usr/bin/chromium")


def write(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def toy_scores(seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Three short videos, scores higher on the abnormal frames."""
    rng = np.random.default_rng(seed)
    labels = {f"0{i}": (np.arange(40) >= 10 * i).astype(np.uint8) for i in (1, 2, 3)}
    scores = {v: y + rng.normal(0, 0.6, len(y)) for v, y in labels.items()}
    return labels, scores


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, Path]:
    """metrics/ with a synthetic object level and its plot data, reports/ with a localization
    figure of the evaluation: the report in its smallest complete form."""
    metrics, out = tmp_path / "metrics", tmp_path / "reports"
    write(
        metrics / "synthetic" / "object_level.json",
        {"auc_micro": 0.9, "auc_macro": 0.95, "auc_macro_strict": 0.94, "frames": 120},
    )
    write(
        metrics / "synthetic" / "train_object_level.json",
        {"best_epoch": 2, "config": {"arch": "shallow_narrow", "tasks": ["arrow"], "epochs": 5}},
    )
    labels, scores = toy_scores()
    plots = metrics / "synthetic" / "plots"
    write_level_curves(plots, "object_level", labels, scores)
    history = [
        {"epoch": e, "train_loss_arrow": 1 / e, "val_loss_arrow": 1.2 / e, "val_objects_per_s": 9}
        for e in (1, 2, 3)
    ]
    write_table(plots / "train_object_level.csv", history_table(history))
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.zeros((8, 8)))
    local = out / "figures" / "synthetic" / "object_level" / "localization_0_01_5.png"
    local.parent.mkdir(parents=True)
    fig.savefig(local)
    plt.close(fig)
    params = tmp_path / "params.yaml"
    params.write_text("threads: 2\ntrain: {device: cpu}\n")
    build_report(metrics, REFERENCE, ABLATION, out, params=params)
    return out, metrics


def test_plot_data_tables():
    labels, scores = toy_scores()
    roc = roc_table(labels, scores)
    assert roc["fpr"][0] == 0 and roc["tpr"][-1] == 1 and len(roc["fpr"]) <= MAX_ROC_POINTS
    assert np.all(np.diff(roc["fpr"]) >= 0)
    frames = score_table(labels, scores)
    assert len(frames["index"]) == 120 and frames["index"] == list(range(120))
    assert frames["video"][:1] == ["01"] and max(frames["score"]) == 1.0
    assert sum(frames["ground_truth"]) == sum(int(y.sum()) for y in labels.values())
    history = history_table([{"epoch": 1, "val_loss_arrow": 0.5, "val_objects_per_s": 3.0}])
    assert list(history) == ["epoch", "val_loss_arrow"]
    trials = [{"number": 0, "t": 3, "lam": 0.5, "state": "FAIL", "value": None}]
    assert search_table(trials) == {
        "trial": [0],
        "t": [3],
        "lambda": [0.5],
        "value": [""],
        "state": ["FAIL"],
    }


def test_roc_is_thinned_but_keeps_its_ends(tmp_path: Path):
    rng = np.random.default_rng(1)
    y = {"01": (rng.random(5000) > 0.5).astype(np.uint8)}
    s = {"01": y["01"] + rng.normal(0, 1, 5000)}
    roc = roc_table(y, s)
    assert len(roc["fpr"]) <= MAX_ROC_POINTS
    assert (roc["fpr"][0], roc["tpr"][0], roc["fpr"][-1], roc["tpr"][-1]) == (0, 0, 1, 1)
    back = read_table(write_table(tmp_path / "roc.csv", roc))
    assert back["fpr"] == pytest.approx(roc["fpr"])


@pytest.mark.slow
def test_html_is_one_self_contained_file(small: tuple[Path, Path]):
    out, _ = small
    page = (out / "report.html").read_text()
    sources = re.findall(r'<img src="([^"]*)"', page)
    assert len(sources) >= 4  # ROC, scores, localization, training curves
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert not re.search(r'(?:href|src)="(?!data:|#)', page)  # nothing outside the file
    for text in (
        "ROC curves",
        "Frame scores against the ground truth",
        "Localization examples",
        ": proxy tasks (validation)",
        ": frame AUC",
        "data (data.dvc)",
        "CPU threads (params.yaml threads)",
        "package torch",
    ):
        assert text in page, text
    assert "No ROC data for" not in page and "No training history" not in page


@pytest.mark.slow
def test_latex_one_booktabs_file_per_table(small: tuple[Path, Path]):
    tables = small[0] / "tables"
    inputs = re.findall(r"\\input\{tables/(\w+)\}", (tables / "tables.tex").read_text())
    assert {"table2", "table3", "table4_proxy", "table4_auc", "deviations"} <= set(inputs)
    for name in inputs:
        tex = (tables / f"{name}.tex").read_text()
        assert tex.count(r"\begin{table}") == 1, name
        for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\label{tab:" + name + "}"):
            assert rule in tex, (name, rule)
        assert r"\hline" not in tex


def browser_or_skip() -> object:
    """Playwright's sync API, or skip: the package or the machine's Chromium is missing (the
    test never downloads a browser)."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed (pip install playwright)"
    )
    if not CHROMIUM.is_file() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_api


@pytest.mark.slow
def test_html_report_loads_in_headless_chromium(small: tuple[Path, Path]):
    sync_api = browser_or_skip()
    executable = str(CHROMIUM if CHROMIUM.is_file() else shutil.which("chromium"))
    page_file = small[0] / "report.html"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            widths = page.evaluate(
                "Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)"
            )
            title = page.title()
        finally:
            browser.close()
    assert title == "SSMTL reproduction report"
    assert len(widths) >= 4 and all(w > 0 for w in widths), widths
    assert errors == []


def test_search_figure_marks_pruned_and_failed_cells(tmp_path: Path, monkeypatch):
    import pandas as pd

    from bench.report import figures

    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, path: drawn.setdefault("fig", fig) and path)
    trials = pd.DataFrame(
        [
            ["synthetic", 0, 1, 0.1, "COMPLETE", 1.0],
            ["synthetic", 1, 1, 0.2, "PRUNED", 1.5],
            ["synthetic", 2, 2, 0.1, "FAIL", None],
            ["synthetic", 3, 2, 0.2, "COMPLETE", 1.2],
        ],
        columns=["dataset", "trial", "t", "lambda", "state", "value"],
    )
    figures.plot_search("synthetic", trials, tmp_path / "s.png")
    hatches = sorted(p.get_hatch() for p in drawn["fig"].axes[0].patches)
    assert hatches == ["//", "xx"]
    texts = [t.get_text() for t in drawn["fig"].axes[0].texts]
    assert any("pruned" in t for t in texts) and any("fail" in t for t in texts)
    plt.close(drawn["fig"])


def test_study_names_its_metric(tmp_path: Path):
    optuna = pytest.importorskip("optuna")
    from bench.suite.search_config import SearchConfig
    from bench.suite.search_study import metric_name, open_study

    config = SearchConfig()
    study = open_study(config, "s", f"sqlite:///{tmp_path / 'optuna.db'}")
    assert study.metric_names == [metric_name(config)] == ["val_joint_loss_normalized"]
    assert optuna.load_study(study_name="s", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
