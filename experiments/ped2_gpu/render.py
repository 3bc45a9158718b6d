"""Print a DVC stage's command with its params filled in, for a machine without DVC.

    python experiments/ped2_gpu/render.py experiments/ped2/dvc.yaml tubes@train --set root=/data

A lent GPU machine has torch but not DVC (experiments/ped2_gpu/device.sh): it runs the very
commands of the stages, rendered here from ``dvc.yaml`` and the ``params.yaml`` beside it the
way DVC renders them (``${a.b}`` from params; in a ``foreach`` stage ``${key}`` and
``${item.x}``; booleans as ``true``/``false``). ``--set a.b=value`` overrides a param (a path
that differs on that machine); ``--append`` adds arguments (``--device cuda``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

VARIABLE = re.compile(r"\$\{([^}]+)\}")


def lookup(context: dict[str, Any], name: str) -> Any:
    value: Any = context
    for part in name.strip().split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"${{{name}}}: no {part!r} in the params or the stage's item")
        value = value[part]
    return value


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(template: Any, context: dict[str, Any]) -> Any:
    """``template`` with every ``${...}``; a string that is one variable keeps its value's type
    (a ``foreach: ${runs}`` is the runs' mapping)."""
    if not isinstance(template, str):
        return template
    whole = VARIABLE.fullmatch(template.strip())
    if whole:
        return lookup(context, whole.group(1))
    return VARIABLE.sub(lambda m: text(lookup(context, m.group(1))), template)


def stage_command(dvc_file: Path, name: str, overrides: list[str]) -> str:
    params = yaml.safe_load((dvc_file.parent / "params.yaml").read_text())
    for override in overrides:
        key, _, value = override.partition("=")
        *parents, last = key.split(".")
        target = params
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = yaml.safe_load(value)
    stages = yaml.safe_load(dvc_file.read_text())["stages"]
    stage, _, key = name.partition("@")
    if stage not in stages:
        raise SystemExit(f"{dvc_file}: no stage {stage!r}")
    definition = stages[stage]
    if "foreach" not in definition:
        return render(definition["cmd"], params)
    items = render(definition["foreach"], params)
    if isinstance(items, list):  # DVC names a list's stages by the item's value
        items = {text(value): value for value in items}
    if key not in items:
        raise SystemExit(f"{dvc_file}: stage {stage!r} has no item {key!r} ({', '.join(items)})")
    item = items[key]
    if isinstance(item, dict):  # an item's own values may name params (${teachers.imagenet})
        item = {k: render(v, params) for k, v in item.items()}
    return render(definition["do"]["cmd"], {**params, "key": key, "item": item})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dvc_file", type=Path)
    parser.add_argument("stage", help="stage name; stage@key for a foreach stage")
    parser.add_argument("--set", action="append", default=[], help="param override a.b=value")
    parser.add_argument("--append", default="", help="arguments added to the command")
    args = parser.parse_args()
    command = stage_command(args.dvc_file, args.stage, args.set)
    print(f"{command} {args.append}".strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
