"""The evaluation files the report reads, in one registry: what writes each, the training behind
it and how the tables name it.

Every file under ``metrics/<dataset>/`` that holds one evaluation (``ssmtl evaluate``: frame
AUCs, RBDC/TBDC, chance levels, intervals) is an :class:`Evaluation` of :data:`EVALUATIONS`; the
modules that read them (``load``, ``levels``, ``summary``, ``tables``) derive their lookups from
it, so adding an evaluation is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

OBJECT_TRAINING = "train_object_level.json"
FRAME_TRAINING = "train_frame_level.json"


@dataclass(frozen=True)
class Evaluation:
    """One evaluation file and how the report names it."""

    name: str  # path under metrics/<dataset>/
    stage: str  # what writes it, for "not run" reasons
    source: str  # the per-video table's source label
    title: str  # the headline table's row title
    level: str | None  # the profile level (object, frame, late_fusion); None: nothing trained
    trained_by: tuple[str, ...]  # the training summaries behind it
    deviation: bool = False  # a named deviation's row (Table 2 shows it beside the paper's)


EVALUATIONS = (
    Evaluation(
        "object_level.json", "object-level stage", "pipeline (object level)",
        "SSMTL object level", "object", (OBJECT_TRAINING,),
    ),
    Evaluation(
        "frame_level.json", "frame-level stage", "pipeline (frame level)",
        "SSMTL frame level", "frame", (FRAME_TRAINING,),
    ),
    Evaluation(
        "late_fusion.json", "late-fusion stage", "pipeline (late fusion)",
        "late fusion", "late_fusion", (OBJECT_TRAINING, FRAME_TRAINING),
    ),
    Evaluation(
        "frame_diff.json", "frame-difference baseline", "frame-difference baseline",
        "frame-difference baseline (no training)", None, (),
    ),
    # the Ped2 study's named deviation at frame level (experiments/ped2/params.yaml), chosen
    # after T1's test AUC: optimistic (metrics/ped2/head_selection_frame says by how much)
    Evaluation(
        "deviation/frame_level.json", "frame-level deviation stage",
        "Ped2 study (frame level, named deviation)",
        "SSMTL frame level, named deviation (log scale, without T1; chosen on test, "
        "docs/ped2.md)",
        "frame", (FRAME_TRAINING,), deviation=True,
    ),
    Evaluation(
        "deviation/late_fusion.json", "late-fusion deviation stage",
        "Ped2 study (late fusion, named deviation)",
        "late fusion with the frame level's named deviation",
        "late_fusion", (OBJECT_TRAINING, FRAME_TRAINING), deviation=True,
    ),
)  # fmt: skip

BY_NAME = {evaluation.name: evaluation for evaluation in EVALUATIONS}

__all__ = ["BY_NAME", "EVALUATIONS", "FRAME_TRAINING", "OBJECT_TRAINING", "Evaluation"]
