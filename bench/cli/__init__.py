"""``ssmtl``: the command line of ssmtl-bench.

  ssmtl data synth --out DIR [--seed N] [--preset tiny|default] [--difficulty D]
      Write the synthetic benchmark (Ped2 frames layout plus labels, masks, tracks, kinds).
  ssmtl data check NAME --root DIR [--json]
      Validate a dataset root and print its counts; exit 2 naming every problem.
  ssmtl baseline frame-diff NAME --root DIR --out FILE.npz
      Score every test frame by frame differencing (a no-training reference).
  ssmtl detect NAME --root DIR --split train|test --detector KIND --out FILE.npz
      Detect objects in every frame of a split (section 3.1), keeping the 80 class scores.
  ssmtl teachers NAME --root DIR --split S --detections FILE --out FILE.npy
      Distillation targets: ImageNet logits + detector class probabilities (task 4).
  ssmtl tubes NAME --root DIR --split S --detections FILE --t 3 --out DIR
      Object-centric sequences, cached on disk (memory-mapped, atomic, resumable).
  ssmtl train --tubes DIR --teachers FILE --arch A --tasks T1,T2,.. --out MODEL.pt
      Joint training on the proxy tasks (section 3.3), one MLflow run.
  ssmtl score NAME --root DIR --model MODEL.pt --tubes DIR --out-scores FILE.npz
      Object scores (eq. 6), anomaly maps and frame scores (section 3.4).
  ssmtl fuse --object-scores FILE --frame-scores FILE --out FILE.npz
      Late fusion of object-level and frame-level frame scores (section 3.5).
  ssmtl evaluate NAME --root DIR --scores FILE.npz [--regions FILE] [--json]
      Frame-level AUC (micro and macro) and, with regions, RBDC and TBDC.
  ssmtl convergence NAME --root DIR --checkpoints DIR --tubes DIR --out FILE.json
      AUCs, RBDC/TBDC and per-head AUCs after every epoch of a run (train --checkpoint-dir).
  ssmtl search NAME --root DIR --detections FILE --teachers FILE --out FILE.json
      Optuna search of t and lambda on the validation joint loss (section 4.2), resumable.
  ssmtl ablation prepare|run NAME --root DIR ...
      Table 4: the shared tube caches, then rows x seeds (train, score, evaluate).
  ssmtl report [--metrics DIR] [--out reports]
      Tables 2-4 (micro and macro AUC, ours next to published) from the metrics files.
  ssmtl summary --metrics metrics/NAME --out metrics/NAME/summary.json
      The numbers-only headline metrics that `dvc exp show` and `dvc metrics diff` compare.
  ssmtl gate [--profiles NAME ...] [--override KEY=VALUE] [--write-reference --seeds 0 1 2]
      CI regression gate: small CPU profiles against stored reference AUCs.
  ssmtl bench tubes|model|fps ...
      Benchmarks: tubes/s and peak memory, samples/s and objects/s, end-to-end FPS.

Commands that print a result take ``--json``: one JSON document on stdout, every other line
on stderr (``ssmtl evaluate ... --json | jq .auc_micro``).

``ssmtl --version`` prints the package version and the git commit of the working directory.

Every command takes a leading ``--threads N`` (``ssmtl --threads 2 train ...``): torch's CPU
threads, which results depend on (the sums split differently across threads); params.yaml
``threads`` gives it to every pipeline stage. Without it torch uses all cores.

Dataset names: ped1, ped2, avenue, shanghaitech, synthetic. Exit codes: 0 success, 2 bad input or
usage (a named error: the message names each file, the problem and the fix), 1 an internal error
(a bug: its traceback is printed), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM; an MLflow
run open at the time ends KILLED). See docs/reliability.md.
"""

from __future__ import annotations

import argparse
import sys

from bench.cli import (
    ablation,
    bench,
    convergence,
    data,
    evaluate,
    gate,
    pipeline,
    report,
    search,
)
from bench.cli.args import ranged
from bench.cli.output import json_mode, wants_json
from bench.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    BenchError,
    Terminated,
    terminate_as_interrupt,
)

# OS errors about a named path the user gave: bad input, not a bug
PATH_ERRORS = (FileExistsError, FileNotFoundError, IsADirectoryError, NotADirectoryError)


class VersionAction(argparse.Action):
    """``--version``: print the package version and git commit, then exit (computed only when
    asked, so building the parser runs no git)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        from bench.tracking import version_line

        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ssmtl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--threads",
        type=ranged(int, 0),  # a usage error (exit 2) for -1, not a bare SystemExit (exit 1)
        metavar="N",
        help="torch CPU threads for the command (0 = all cores; default: torch's own choice)",
    )
    parser.add_argument(
        "--version", action=VersionAction, help="print the version and git commit, then exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (data, pipeline, evaluate, convergence, search, ablation, gate, bench, report):
        module.add_commands(commands)
    return parser


def set_threads(threads: int | None) -> None:
    """Pin torch's CPU threads before any work: results depend on the count (float sums are
    split differently), so params.yaml gives every stage the same one."""
    if threads is None:
        return
    if threads < 0:
        raise SystemExit("ssmtl: error: --threads needs a whole number >= 0 (0 = all cores)")
    from bench.train import set_threads as set_torch_threads

    set_torch_threads(threads)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    set_threads(args.threads)
    try:
        # SIGTERM unwinds like Ctrl-C: unfinished outputs removed, an MLflow run ended KILLED;
        # --json: stdout holds the one result document
        with terminate_as_interrupt(), json_mode(wants_json(args)):
            return args.func(args)
    except BenchError as error:
        for line in error.lines():
            print(f"error: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PATH_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PermissionError as error:
        print(f"error: {error}; check the file's permissions", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as interrupt:
        print("interrupted: finished outputs are kept, unfinished ones removed", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(interrupt, Terminated) else EXIT_INTERRUPTED
    # anything else is a bug: Python prints the traceback and exits with 1 (EXIT_INTERNAL)


if __name__ == "__main__":
    sys.exit(main())
