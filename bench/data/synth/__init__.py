"""Synthetic scenes: a seeded, small video anomaly detection dataset in the Ped2 layout.

``generate(out, seed, preset, difficulty)`` writes it;
:class:`bench.data.synthetic.SyntheticDataset` reads it. See :mod:`bench.data.synth.generator` for
the layout and :mod:`bench.data.synth.anomalies` for the four anomaly kinds (one aimed at each SSMTL
proxy task).
"""

from bench.data.synth.anomalies import AIMED_TASK, ANOMALY_KINDS, KIND_NAMES, AnomalyStyle
from bench.data.synth.generator import GENERATOR_VERSION, PRESETS, Preset, generate

__all__ = [
    "AIMED_TASK",
    "ANOMALY_KINDS",
    "KIND_NAMES",
    "AnomalyStyle",
    "GENERATOR_VERSION",
    "PRESETS",
    "Preset",
    "generate",
]
