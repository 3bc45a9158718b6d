"""The reliability matrix: every bad input tried on every command that reads a file or a
parameter, and the faults, as one case list. ``tests/test_reliability_matrix.py`` runs the cases;
the table in docs/reliability.md is generated from the same list, so the two cannot drift::

    python tests/reliability_matrix.py --write docs/reliability.md

A case builds its bad input from the valid artifacts of a tiny synthetic run (:class:`World`)
and gives the ``ssmtl`` argv, the file the error must name and the outputs that must stay
untouched. Parameter cases are read off the parser: every option with a range
(``bench.cli.args.ranged``) gets a value below its minimum, above its maximum, NaN, infinity
and text.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from reliability_mutations import (  # noqa: E402 - tests/ is put on sys.path by its users
    BOXES_EDITS,
    DETECTIONS_EDITS,
    FILE_MUTATIONS,
    SCORES_EDITS,
    TEACHERS_EDITS,
    TUBE_CACHE_EDITS,
    _directory,
    _empty,
    _missing,
)

World = SimpleNamespace  # root, det_train, det_test, tubes_train, tubes_test, scores, teachers

BEGIN = "<!-- matrix:begin (written by `python tests/reliability_matrix.py --write`) -->"
END = "<!-- matrix:end -->"


@dataclass(frozen=True)
class Case:
    """One bad input: ``build(world, tmp)`` makes it under ``tmp`` and returns the argv."""

    command: str  # as the table shows it, e.g. "evaluate --scores"
    input: str  # what is wrong, e.g. "NaN in a video's scores"
    build: Callable[[World, Path], list[str]]
    names: str  # text the error must hold: the file's name or the option
    usage: bool = False  # an argparse usage error (no "error: FILE: problem; fix" line)
    outputs: tuple[str, ...] = field(default=())  # files under tmp made beforehand, kept as is

    @property
    def id(self) -> str:
        return f"{self.command}: {self.input}".replace(" ", "_").replace("`", "")


# --- the cases ------------------------------------------------------------------------------------


def _file_cases(
    command: str,
    option: str,
    valid: str,
    suffix: str,
    argv: Callable[[World, Path, Path], list[str]],
    mutations: dict[str, Callable[[Path, Path], None]],
    outputs: tuple[str, ...] = (),
) -> list[Case]:
    """One case per mutation of the world's ``valid`` file given as ``option``: the bad copy is
    ``tmp/bad<suffix>`` and ``argv(world, tmp, bad)`` the command line."""
    cases = []
    for label, mutate in mutations.items():

        def build(world: World, tmp: Path, mutate=mutate) -> list[str]:
            bad = tmp / f"bad{suffix}"
            mutate(Path(getattr(world, valid)), bad)
            return argv(world, tmp, bad)

        cases.append(Case(f"{command} {option}", label, build, f"bad{suffix}", outputs=outputs))
    return cases


def _root(world: World) -> list[str]:
    return ["synthetic", "--root", str(world.root)]


def _evaluate(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["evaluate", *_root(world), "--scores", str(bad), "--out", str(tmp / "out.json")]


def _evaluate_regions(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["evaluate", *_root(world), "--scores", str(world.scores), "--regions", str(bad),
            "--out", str(tmp / "out.json")]  # fmt: skip


def _fuse_object(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["fuse", "--object-scores", str(bad), "--frame-scores", str(world.scores),
            "--out", str(tmp / "out.npz")]  # fmt: skip


def _fuse_frame(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["fuse", "--object-scores", str(world.scores), "--frame-scores", str(bad),
            "--out", str(tmp / "out.npz")]  # fmt: skip


def _detect(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["detect", *_root(world), "--split", "test", "--detector", "precomputed",
            "--precomputed", str(bad), "--out", str(tmp / "out.npz")]  # fmt: skip


def _tubes(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["tubes", *_root(world), "--split", "test", "--detections", str(bad), "--t", "1",
            "--out", str(tmp / "tubes_out")]  # fmt: skip


def _teachers(world: World, tmp: Path, bad: Path) -> list[str]:
    return ["teachers", *_root(world), "--split", "test", "--detections", str(bad),
            "--imagenet", "none", "--detector-weights", "none",
            "--out", str(tmp / "out.npy")]  # fmt: skip


def _train(tubes: str, teachers: str | None, tasks: str = "middle"):
    def argv(world: World, tmp: Path, bad: Path) -> list[str]:
        pick = {"bad": str(bad), "good": ""}
        tube_dir = str(bad) if tubes == "bad" else str(getattr(world, tubes))
        line = ["train", "--dataset", "synthetic", "--tubes", tube_dir, "--tasks", tasks,
                "--epochs", "1", "--device", "cpu", "--out", str(tmp / "out.pt"),
                "--metrics", str(tmp / "out.json")]  # fmt: skip
        if teachers is not None:
            line += ["--teachers", pick.get(teachers) or str(world.teachers)]
        return line

    return argv


def _score(tubes: str, model: str, targets: bool = False, validation: bool = False):
    def argv(world: World, tmp: Path, bad: Path) -> list[str]:
        line = ["score", *_root(world),
                "--model", str(bad) if model == "bad" else str(tmp / "absent.pt"),
                "--tubes", str(bad) if tubes == "bad" else str(getattr(world, tubes)),
                "--out-scores", str(tmp / "out.npz"), "--out-regions", str(tmp / "regions.npz"),
                "--out-objects", str(tmp / "objects.npz")]  # fmt: skip
        if targets:
            line += ["--targets", str(bad)]
        if validation:
            line += ["--head-scale", "zscore_validation", "--validation-tubes", str(bad)]
        return line

    return argv


SCORE_OUTPUTS = ("out.npz", "regions.npz", "objects.npz")
TRAIN_OUTPUTS = ("out.pt", "out.json")


def file_cases() -> list[Case]:
    """Every file input of every command, with each mutation that applies to its kind."""
    npz_scores = {**FILE_MUTATIONS, **SCORES_EDITS}
    cases = [
        *_file_cases(
            "evaluate", "--scores", "scores", ".npz", _evaluate, npz_scores, ("out.json",)
        ),
        *_file_cases(
            "evaluate",
            "--regions",
            "scores",
            ".npz",
            _evaluate_regions,
            FILE_MUTATIONS,
            ("out.json",),
        ),  # fmt: skip
        *_file_cases(
            "fuse", "--object-scores", "scores", ".npz", _fuse_object, npz_scores, ("out.npz",)
        ),  # fmt: skip
        *_file_cases(
            "fuse", "--frame-scores", "scores", ".npz", _fuse_frame, FILE_MUTATIONS, ("out.npz",)
        ),  # fmt: skip
        *_file_cases(
            "detect",
            "--precomputed",
            "boxes_test",
            ".npz",
            _detect,
            {**FILE_MUTATIONS, **BOXES_EDITS},
            ("out.npz",),
        ),  # fmt: skip
        *_file_cases(
            "tubes",
            "--detections",
            "det_test",
            ".npz",
            _tubes,
            {
                **FILE_MUTATIONS,
                **DETECTIONS_EDITS,
                "the other split's detections": lambda v, b: shutil.copy(
                    Path(v).with_name("det_train.npz"), b
                ),
            },
        ),  # fmt: skip
        *_file_cases(
            "teachers", "--detections", "det_test", ".npz", _teachers, FILE_MUTATIONS, ("out.npy",)
        ),  # fmt: skip
        *_file_cases(
            "train",
            "--teachers",
            "teachers",
            ".npy",
            _train("tubes_train", "bad", "middle,distill"),
            {**FILE_MUTATIONS, **TEACHERS_EDITS},
            TRAIN_OUTPUTS,
        ),  # fmt: skip
        *_file_cases(
            "train",
            "--tubes",
            "tubes_train",
            "",
            _train("bad", None),
            {
                **TUBE_CACHE_EDITS,
                "the test split's cache": lambda v, b: shutil.copytree(
                    Path(v).with_name("tubes_test"), b
                ),
            },
            TRAIN_OUTPUTS,
        ),  # fmt: skip
        *_file_cases(
            "score",
            "--tubes",
            "tubes_test",
            "",
            _score("bad", "absent"),
            {
                **TUBE_CACHE_EDITS,
                "the train split's cache": lambda v, b: shutil.copytree(
                    Path(v).with_name("tubes_train"), b
                ),
            },
            SCORE_OUTPUTS,
        ),  # fmt: skip
        *_file_cases(
            "score",
            "--validation-tubes",
            "tubes_train",
            "",
            _score("tubes_test", "absent", validation=True),
            {
                **TUBE_CACHE_EDITS,
                "the test split's cache": lambda v, b: shutil.copytree(
                    Path(v).with_name("tubes_test"), b
                ),
            },
            SCORE_OUTPUTS,
        ),  # fmt: skip
        *_file_cases(
            "score",
            "--model",
            "scores",
            ".pt",
            _score("tubes_test", "bad"),
            FILE_MUTATIONS,
            SCORE_OUTPUTS,
        ),  # fmt: skip
        *_file_cases(
            "score",
            "--targets",
            "teachers",
            ".npy",
            _score("tubes_test", "absent", targets=True),
            FILE_MUTATIONS,
            SCORE_OUTPUTS,
        ),  # fmt: skip
    ]
    return cases


# --- a dataset root with a broken part ----------------------------------------------------------


def _dataset_case(command: str, label: str, names: str, edit: Callable[[Path], None]) -> Case:
    """``ssmtl data check`` (or ``evaluate``) of a copy of the tiny dataset after ``edit``."""

    def build(world: World, tmp: Path) -> list[str]:
        root = tmp / "root"
        shutil.copytree(world.root, root)
        edit(root)
        if command == "data check":
            return ["data", "check", "synthetic", "--root", str(root)]
        return ["evaluate", "synthetic", "--root", str(root), "--scores", str(world.scores),
                "--out", str(tmp / "out.json")]  # fmt: skip

    outputs = ("out.json",) if command == "evaluate" else ()
    return Case(f"{command} --root", label, build, names, outputs=outputs)


def _write(relative: str, data: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        path.write_bytes(data(path.read_bytes()) if callable(data) else data)

    return edit


def _labels(edit: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / "gt/frame_labels/01.npy"
        np.save(path, edit(np.load(path)))

    return apply


FRAME = "testing/frames/01/005.jpg"
DATASET_EDITS: list[tuple[str, str, Callable[[Path], None]]] = [
    ("the root missing", "root", lambda root: shutil.rmtree(root)),
    ("the root a file", "root", lambda root: (shutil.rmtree(root), root.write_text("x"))),
    ("the root an empty folder", "root", lambda root: (shutil.rmtree(root), root.mkdir())),
    ("meta.json missing", "meta.json", lambda root: (root / "meta.json").unlink()),
    ("meta.json not JSON", "meta.json", _write("meta.json", b"{nope")),
    ("a truncated JPEG frame", "005.jpg", _write(FRAME, lambda b: b[: len(b) // 2])),
    ("an empty JPEG frame", "005.jpg", _write(FRAME, b"")),
    ("garbage bytes as a frame", "005.jpg", _write(FRAME, bytes(range(256)))),
    (
        "a test video with no frames",
        "01",
        lambda root: [p.unlink() for p in (root / "testing/frames/01").iterdir()],
    ),  # fmt: skip
    ("frame labels missing", "01.npy", lambda root: (root / "gt/frame_labels/01.npy").unlink()),
    (
        "frame labels truncated",
        "01.npy",
        _write("gt/frame_labels/01.npy", lambda b: b[: len(b) // 2]),
    ),  # fmt: skip
    ("frame labels one frame short", "01.npy", _labels(lambda a: a[:-1])),
    ("frame labels of value 2", "01.npy", _labels(lambda a: a + 2)),
    ("frame labels 2-D", "01.npy", _labels(lambda a: a[:, None])),
    (
        "frame labels pickled",
        "01.npy",
        lambda root: np.save(
            root / "gt/frame_labels/01.npy", np.array([{}], dtype=object), allow_pickle=True
        ),
    ),  # fmt: skip
]


def dataset_cases() -> list[Case]:
    cases = [_dataset_case("data check", *edit) for edit in DATASET_EDITS]
    # evaluate reads the labels too (not the frames)
    cases += [_dataset_case("evaluate", *edit) for edit in DATASET_EDITS if "label" in edit[0]]
    return cases


# --- parameters: every ranged option of every command -------------------------------------------


def ranged_options() -> list[tuple[list[str], str, int, object]]:
    """``(command words, option, nargs, type)`` of every option with a range, from the parser."""
    import argparse

    from bench.cli import build_parser

    found = []

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*words, name])
            elif hasattr(action.type, "minimum") and action.option_strings:
                found.append((words, action.option_strings[0], action.nargs, action.type))

    walk(build_parser(), [])
    return found


def _bad_values(kind: object) -> list[tuple[str, str]]:
    values = []
    if kind.minimum is not None:
        below = kind.minimum - (1 if kind.kind is int else 0.5)
        values.append((str(below), f"below the minimum {kind.minimum}"))
    if kind.maximum is not None:
        above = kind.maximum + (1 if kind.kind is int else 0.5)
        values.append((str(above), f"above the maximum {kind.maximum}"))
    values += [("nan", "NaN"), ("inf", "infinity"), ("abc", "text")]
    return values


def parameter_cases() -> list[Case]:
    cases = []
    for words, option, nargs, kind in ranged_options():
        for value, label in _bad_values(kind):
            repeat = nargs if isinstance(nargs, int) else 1

            def build(world: World, tmp: Path, words=words, option=option, value=value,
                      repeat=repeat) -> list[str]:  # fmt: skip
                return [*words, option, *[value] * repeat]

            command = " ".join(words) or "ssmtl"
            cases.append(Case(f"{command} {option}", f"`{value}` ({label})", build, option,
                              usage=True))  # fmt: skip
    return cases


def other_cases() -> list[Case]:
    """Inputs of the commands that read YAML: the gate's and the ablation's files, params.yaml's
    tracking section."""
    yaml_mutations = {
        "missing": _missing,
        "empty": _empty,
        "invalid YAML": lambda v, b: b.write_text("a: [\n"),
        "a list, not a mapping": lambda v, b: b.write_text("- 1\n- 2\n"),
        "a directory": _directory,
    }
    cases = []
    for label, mutate in yaml_mutations.items():

        def gate(world: World, tmp: Path, mutate=mutate) -> list[str]:
            mutate(Path(), tmp / "bad.yaml")
            return ["gate", "--file", str(tmp / "bad.yaml")]

        cases.append(Case("gate --file", label, gate, "bad.yaml"))
    return cases


def all_cases() -> list[Case]:
    return [*file_cases(), *dataset_cases(), *parameter_cases(), *other_cases()]


# --- faults: each kept by its own test ---------------------------------------------------------

FAULTS: list[tuple[str, str, str, str]] = [
    ("kill -9 during a tube cache build", "tubes", "resumes to byte-identical files",
     "tests/test_tubes.py::test_killed_build_resumes_to_identical_files"),
    ("kill -9 during a search", "search", "resumes; no trial lost or rerun",
     "tests/test_search.py::test_killed_study_resumes_without_losing_or_rerunning_a_trial"),
    ("a search worker killed mid-trial (PostgreSQL, 2 workers)", "search --storage postgresql://",
     "the trial failed and retried once; every grid point trained once",
     "tests/test_reliability_postgres.py::test_two_workers_on_postgres_train_every_point_once_and_retry_a_killed_trial"),
    ("SIGTERM to a training run", "train", "exit 143; the MLflow run `KILLED`; no model written",
     "tests/test_reliability_tracking.py::test_sigterm_to_a_cli_training_run_ends_it_killed"),
    ("SIGTERM handled inside a weakref callback or `__del__` (the garbage collector runs them "
     "inside torch's backward)", "any", "delivered again: the run ends as for any SIGTERM",
     "tests/test_reliability_tracking.py::test_a_sigterm_swallowed_by_a_finaliser_is_delivered_again"),
    ("Ctrl-C or an exception in a tracked run", "train, evaluate, search, ablation",
     "the MLflow run `KILLED` (interrupt) or `FAILED` (exception), never `RUNNING`",
     "tests/test_reliability_tracking.py::test_interrupted_run_ends_killed_and_failing_one_failed"),
    ("a disk too small for a tube cache", "tubes", "`DiskSpaceError` before allocation, exit 2",
     "tests/test_reliability_provenance.py::test_a_tube_cache_that_does_not_fit_is_refused_before_allocation"),
    ("killed while writing an output", "bench.io writers",
     "the old file kept, no temporary left",
     "tests/test_atomic.py::test_failed_write_keeps_the_old_file_and_no_temporary"),
]  # fmt: skip


# --- the table ------------------------------------------------------------------------------------


def markdown() -> str:
    """The generated part of docs/reliability.md: the bad inputs, then the faults."""
    cases = all_cases()
    lines = [
        BEGIN,
        "",
        f"{len(cases)} bad inputs, each run by "
        "`tests/test_reliability_matrix.py::test_bad_input_is_a_named_error[<command>:_<input>]`: "
        "exit 2 with the message naming the file or option, no traceback, and outputs that "
        "existed before left byte-identical (none created).",
        "",
        "| command and input | bad input | result | test |",
        "| --- | --- | --- | --- |",
    ]
    for case in cases:
        result = (
            f"usage error naming `{case.names}`, exit 2"
            if case.usage
            else f"`error: …{case.names}: problem; fix`, exit 2"
        )
        test = f"`test_reliability_matrix.py::test_bad_input_is_a_named_error[{case.id}]`"
        lines.append(f"| `{case.command}` | {case.input} | {result} | {test} |")
    lines += ["", f"{len(FAULTS)} faults:", "", "| fault | command | result | test |",
              "| --- | --- | --- | --- |"]  # fmt: skip
    lines += [f"| {f} | `{c}` | {r} | `{t}` |" for f, c, r, t in FAULTS]
    return "\n".join([*lines, "", END])


def write(doc: Path) -> None:
    """Replace the generated part of ``doc`` (between the markers) with :func:`markdown`."""
    text = doc.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    doc.write_text(text[:start] + markdown() + text[end:])


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if sys.argv[1:2] == ["--write"]:
        write(Path(sys.argv[2]))
    else:
        print(markdown())
