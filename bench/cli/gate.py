"""``ssmtl gate``: the CI regression gate, small CPU profiles against stored reference AUCs
(and, with ``--published``, a metrics file against the paper's numbers)."""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import yaml

from bench.cli.output import add_json_argument, emit
from bench.errors import InputError
from bench.report.load import read_json

GATE_DESCRIPTION = """\
CI regression gate: small CPU profiles whose frame-level AUCs must not drop.

Each profile of --file trains shallow_narrow on T1+T2+T3 for a few epochs on CPU, scores the test
objects (eq. 6, section 3.4) and computes micro and macro AUC. A value fails below
reference - tolerance: the reference is the mean over seeds measured with --write-reference
--seeds 0 1 2, the tolerance max(sigmas x their standard deviation, min_tolerance). Results
depend on the number of torch threads, which the file pins (common.threads).
With --published, a full-scale run's metrics are checked against the published AUCs instead.
Exit code 1 when a value fails.
"""


def add_commands(commands: argparse._SubParsersAction) -> None:
    add_gate_command(commands)


# --- ssmtl gate ----------------------------------------------------------------------------------


def add_gate_command(commands: argparse._SubParsersAction) -> None:
    from bench.suite.gate import DEFAULT_FILE, DEFAULT_WORK, PUBLISHED_TABLE

    gate = commands.add_parser(
        "gate",
        help="CI regression gate: small CPU profiles against stored reference AUCs",
        description=GATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    arg = gate.add_argument
    arg(
        "--file",
        type=Path,
        default=DEFAULT_FILE,
        help=f"profiles and reference values (default {DEFAULT_FILE})",
    )
    arg("--profiles", nargs="+", help="run only these profiles (default all)")
    arg(
        "--seeds",
        type=int,
        nargs="+",
        default=[0],
        help="training seeds (default 0; several with --write-reference)",
    )
    arg(
        "--write-reference",
        action="store_true",
        help="store the measured values as the new reference",
    )
    arg(
        "--override",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="change a common training knob (e.g. epochs=1, lr=0) to see the gate fail",
    )
    arg(
        "--work",
        type=Path,
        default=DEFAULT_WORK,
        help=f"folder of the profiles' generated data, detections and tube caches "
        f"(default {DEFAULT_WORK})",
    )
    arg(
        "--published",
        type=Path,
        help="instead: check this metrics JSON of a full run against the published numbers",
    )
    arg(
        "--published-table",
        type=Path,
        default=PUBLISHED_TABLE,
        help=f"with --published: the published numbers (default {PUBLISHED_TABLE})",
    )
    arg(
        "--dataset", default="ped2", help="with --published: the dataset of that run (default ped2)"
    )
    arg(
        "--tolerance-points",
        type=float,
        default=2.0,
        help="with --published: allowed AUC shortfall in percentage points (default 2.0)",
    )
    arg(
        "--out",
        type=Path,
        help="measured values and verdicts (default WORK/gate.json, artifacts/ci/gate.json)",
    )
    add_json_argument(gate)
    gate.set_defaults(func=partial(cmd_gate, parser=gate))


def cmd_gate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from bench.suite.gate import (
        check_published,
        common_settings,
        judge,
        load_gate_file,
        measure,
        select_profiles,
        write_reference,
    )

    if args.published:
        lines = check_published(
            args.published, args.published_table, args.dataset, args.tolerance_points
        )
        if not lines:
            lines = [f"FAIL nothing was checked: no published {args.dataset} AUC"]
        passed = not any(line.startswith("FAIL") for line in lines)
        emit(args, {"lines": lines, "passed": passed}, "\n".join(lines))
        return 0 if passed else 1
    spec = load_gate_file(args.file)
    select_profiles(spec, args.profiles)  # fail before any work on an unknown name
    bad = [item for item in args.override if "=" not in item]
    if bad:
        raise InputError(f"--override {' '.join(bad)}: expected KEY=VALUE", fix="e.g. epochs=1")
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.override)}
    try:
        common = common_settings(spec, overrides)
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    runs = measure(spec, common, args.profiles, args.seeds, args.work)
    if args.write_reference:
        write_reference(args.file, spec, runs, args.seeds)
        emit(args, {"reference": str(args.file), "values": runs},
             f"wrote the reference values to {args.file}")  # fmt: skip
        return 0
    out = args.out or args.work / "gate.json"
    lines, passed = judge(spec, runs, args.override, time.perf_counter() - start, out)
    emit(args, read_json(out), "\n".join(lines))  # the document judge wrote: one format
    return 0 if passed else 1
