"""What a one-checkpoint experiment of issue 16 reads (``ssmtl head-scale``, ``head-selection``,
``middle-map``): the dataset, one checkpoint, its test tubes and teacher targets, the training
tubes and targets whose validation objects (the last 15% of each training video, section 4.2)
give head statistics, the maps' configuration (section 3.4) and the JSON to write."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.data import VideoDataset
from bench.errors import InputError
from bench.score import MapConfig


@dataclass(frozen=True)
class CheckpointInputs:
    """The inputs of one checkpoint's experiment; ``train_tubes`` only where the experiment
    reads validation objects (:meth:`require_train_tubes`)."""

    dataset: VideoDataset
    checkpoint: Path
    test_tubes: Path
    test_targets: Path | None
    config: MapConfig
    out: Path
    train_tubes: Path | None = None
    train_targets: Path | None = None

    def require_train_tubes(self) -> Path:
        """The training tubes, or a named error when the experiment needs them and has none."""
        if self.train_tubes is None:
            raise InputError(
                "the experiment scores the validation objects, but no training tubes were given",
                file=self.checkpoint,
                fix="give --validation-tubes (the training split's tube cache)",
            )
        return self.train_tubes
