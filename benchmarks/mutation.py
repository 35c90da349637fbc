"""Mutation testing of a few modules: flip an operator or a constant, run the module's tests, count the kills.

A test suite that passes whatever the code does is no test. This script makes small mutants
(``<`` -> ``<=``, ``==`` -> ``!=``, ``and`` -> ``or``, ``+`` -> ``-``, ``not x`` -> ``x``, ``n`` -> ``n + 1``,
``True`` <-> ``False``, ``return x`` -> ``return None``) inside chosen functions, one at a time, and runs
the tests that cover them. A mutant the tests notice is *killed*; one they pass is a *survivor*
(either a missing test or an equivalent mutant, e.g. ``>= 1`` vs ``> 0`` on integers: read the list).

It never touches the working tree: modules and tests are copied to a temporary folder and mutated
there. Heavy imports (torch, ...) happen once; every mutant runs in a forked child, so one mutant costs
about as long as its tests. Not part of CI (minutes of CPU); run it by hand::

    OMP_NUM_THREADS=1 python benchmarks/mutation.py                 # every target below, ~25 mutants each
    OMP_NUM_THREADS=1 python benchmarks/mutation.py --target data --per-target 60 --budget 900

It prints one line per survivor, then the score per target and in total (killed / mutants).
"""
from __future__ import annotations

import argparse
import ast
import copy
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Target:
    """A module, the functions in it to mutate (``Class.method`` or ``function``), and the tests that cover them."""

    module: str
    functions: tuple[str, ...]
    tests: tuple[str, ...]


TARGETS = {
    "runtime": Target("cnncourse/runtime.py", ("profile", "_whole_number", "device", "profile_name"),
                      ("tests/test_runtime.py",)),
    "data": Target("cnncourse/data.py",
                   ("load_dataset", "_load_torchvision", "_cannot_download", "download_timeout", "_socket_timeout",
                    "_is_network_error", "_is_permission_error", "_download_reason", "_integrity", "_md5_problem",
                    "_idx_problem", "available_datasets"),
                   ("tests/test_data.py", "-k", "not stalled_network")),
    "checkpoints": Target("cnncourse/train.py",
                          ("check_checkpoint_path", "save_checkpoint", "_plain", "load_checkpoint", "_load_optimizer"),
                          ("tests/test_train.py", "-k", "checkpoint or optimizer or metadata or save")),
    "widgets": Target("cnncourse/widgets.py", ("Explorer.refresh", "Explorer.describe", "Explorer._on_change",
                                               "Explorer._values_text", "Explorer.__init__"),
                      ("tests/test_widgets.py",)),
    "folders": Target("cnncourse/folders.py", ("writable_problem",),
                      ("tests/test_folders.py", "tests/test_train.py", "tests/test_data.py", "-k",
                       "folders or read_only or failed_save")),
}

_COMPARE = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
            ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_BINARY = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
           ast.Mod: ast.Mult}


def _selected_functions(tree: ast.Module, names: tuple[str, ...]):
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            yield node
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and f"{node.name}.{item.name}" in names:
                    yield item


def mutation_points(tree: ast.Module, names: tuple[str, ...]) -> list[tuple[int, int, str]]:
    """(node id in a walk of the tree, variant, description) for every mutation inside the chosen functions."""
    inside = {id(n) for f in _selected_functions(tree, names) for n in ast.walk(f)}
    docstrings = {id(f.body[0].value) for f in _selected_functions(tree, names)
                  if f.body and isinstance(f.body[0], ast.Expr) and isinstance(f.body[0].value, ast.Constant)}
    points = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) not in inside:
            continue
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Compare):
            for k, op in enumerate(node.ops):
                if type(op) in _COMPARE:
                    points.append((index, k, f"line {line}: {type(op).__name__} -> {_COMPARE[type(op)].__name__}"))
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            points.append((index, 0, f"line {line}: {type(node.op).__name__} -> {_BINARY[type(node.op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            points.append((index, 0, f"line {line}: {type(node.op).__name__} -> {'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((index, 0, f"line {line}: drop `not`"))
        elif isinstance(node, ast.Constant) and id(node) not in docstrings:
            if isinstance(node.value, bool):
                points.append((index, 0, f"line {line}: {node.value} -> {not node.value}"))
            elif isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
                points.append((index, 0, f"line {line}: {node.value!r} -> {node.value!r} + 1"))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            points.append((index, 0, f"line {line}: return ... -> return None"))
    return points


def mutate(tree: ast.Module, index: int, variant: int) -> str:
    """The module's source with mutation (index, variant) applied."""
    tree = copy.deepcopy(tree)
    node = next(n for i, n in enumerate(ast.walk(tree)) if i == index)
    if isinstance(node, ast.Compare):
        node.ops[variant] = _COMPARE[type(node.ops[variant])]()
    elif isinstance(node, ast.BinOp):
        node.op = _BINARY[type(node.op)]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.UnaryOp):
        node.op = ast.UAdd()  # `+x` on a bool is an int with the same truth value: `not` is gone
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, ast.Return):
        node.value = ast.Constant(None)
    return ast.unparse(ast.fix_missing_locations(tree))


# pytest plugins the unit tests do not use; each costs an import per mutant
_NO_PLUGINS = [arg for name in ("xdist", "xdist.looponfail", "nbval", "anyio", "platformdirs") for arg in ("-p", f"no:{name}")]


def run_tests(tests: tuple[str, ...], timeout: float) -> str:
    """Run pytest on ``tests`` in a forked child: "passed", "failed" or "timeout"."""
    pid = os.fork()
    if pid == 0:  # the child: the mutated module is imported fresh here
        try:
            import pytest

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *_NO_PLUGINS, *tests])
        except BaseException:  # noqa: BLE001 - a mutant that breaks the import is killed too
            code = 99
        os._exit(int(code))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", choices=sorted(TARGETS), help="default: all")
    parser.add_argument("--per-target", type=int, default=25, help="mutants per target, drawn with --seed (default 25)")
    parser.add_argument("--budget", type=float, default=600.0, help="stop starting mutants after this many seconds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = args.target or list(TARGETS)

    work = Path(tempfile.mkdtemp(prefix="cnncourse-mutation-"))
    for item in ("cnncourse", "tests", "pyproject.toml", "conftest.py"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, work / item, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, work / item)
    sys.dont_write_bytecode = True  # mutants of equal size in the same second must not reuse a stale .pyc
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("CNNCOURSE_PROFILE", "smoke")
    os.chdir(work)
    sys.path.insert(0, str(work))
    import matplotlib

    matplotlib.use("Agg")
    import IPython  # noqa: F401 - imported once here, inherited by every forked child
    import ipywidgets  # noqa: F401
    import pytest  # noqa: F401
    import numpy  # noqa: F401
    import sklearn.model_selection  # noqa: F401
    import torch
    import torchvision  # noqa: F401

    torch.set_num_threads(1)
    started = time.monotonic()
    totals = {"killed": 0, "mutants": 0}
    report = []
    try:
        for name in names:
            target = TARGETS[name]
            path = work / target.module
            original = path.read_text()
            tree = ast.parse(original)
            points = mutation_points(tree, target.functions)
            random.Random(args.seed).shuffle(points)
            points = points[:args.per_target]
            t0 = time.monotonic()
            if run_tests(target.tests, timeout=600) != "passed":
                print(f"{name}: the unmutated tests fail; fix them first")
                return 1
            baseline = time.monotonic() - t0
            killed = timeouts = tried = 0
            try:
                for index, variant, description in points:
                    if time.monotonic() - started > args.budget:
                        break
                    path.write_text(mutate(tree, index, variant))
                    outcome = run_tests(target.tests, timeout=3 * baseline + 10)
                    tried += 1
                    killed += outcome != "passed"
                    timeouts += outcome == "timeout"
                    if outcome == "passed":
                        print(f"  survived  {target.module} {description}", flush=True)
            finally:
                path.write_text(original)
            totals["killed"] += killed
            totals["mutants"] += tried
            report.append(f"{name:<12} {killed:>3}/{tried:<3} killed ({timeouts} by time-out) of {len(mutation_points(tree, target.functions))} "
                          f"possible; tests {baseline:.1f} s each")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(report))
    score = totals["killed"] / totals["mutants"] if totals["mutants"] else float("nan")
    print(f"mutation score: {totals['killed']}/{totals['mutants']} = {score:.0%} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
