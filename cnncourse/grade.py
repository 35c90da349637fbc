"""The instructor's grader: ``python -m cnncourse grade SUBMISSIONS --out grades.csv``.

``SUBMISSIONS`` holds the learners' exercise notebooks: ``alice.ipynb`` (the student is the file's
stem) or ``alice/02_convolution.ipynb, alice/07_loss_functions.ipynb`` (the student is the folder).
Each notebook is matched with the course's exercise notebook of the same name (else the one whose
functions it defines). The grader writes ``grades.csv`` (one row per student: ``student``, one
column per exercise with the points earned, ``total``) and ``feedback/<student>.md`` beside it
(each exercise's one-line verdict).

Nothing a submission does can change a grade. Its printed outputs are ignored. Its code cells are
reduced to imports, function and class definitions and plain constants, and run in a fresh child
process (in an empty temporary folder, with a time limit per case and a hard limit enforced by
killing the child); the child only calls the learner's functions on the checker's inputs and sends
back what they returned. The course's checks run in this process, which never executes learner
code and loaded every checker, reference and notebook before the first child started: redefining
``check``, patching ``torch.allclose`` or writing files touches only the child. A function that
loops gets 0 for its exercise; the child is restarted for the notebook's other exercises.

Points per exercise come from the course notebook's check cell metadata in nbgrader's form,
``{"nbgrader": {"grade": true, "grade_id": "conv2d", "points": 2, ...}}``, else 1. An exercise
earns its points when every case passes.
"""
from __future__ import annotations

import argparse
import ast
import base64
import csv
import io
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Exercise", "Grade", "course_exercises", "find_submissions", "grade_folder", "grade_notebooks", "main"]

CASE_LIMIT = 10.0      # seconds one case may run (in the child, then the child is killed after a grace)
GRACE = 5.0            # extra seconds before a silent child is killed
START_LIMIT = 120.0    # seconds for the child to start (import torch) and run the notebook's definitions


# ----------------------------------------------------------------------------- reading notebooks

@dataclass(frozen=True)
class Exercise:
    """One graded exercise: the checker's name, the learner's function, its points, its notebook."""

    name: str
    function: str
    points: float = 1.0
    notebook: str = ""


def _cells(nb: dict) -> list[tuple[int, str, dict]]:
    out = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            out.append((index, source if isinstance(source, str) else "".join(source), cell.get("metadata", {}) or {}))
    return out


def _check_calls(source: str) -> list[tuple[str, str]]:
    """``check("conv2d", conv2d)`` calls at a cell's top level, as (exercise, function) pairs."""
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return []
    calls = []
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "check"
                and len(call.args) >= 2 and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)
                and isinstance(call.args[1], ast.Name)):
            calls.append((call.args[0].value, call.args[1].id))
    return calls


def _points(metadata: dict) -> float | None:
    grader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if isinstance(grader, dict) and isinstance(grader.get("points"), (int, float)) and not isinstance(grader.get("points"), bool):
        return float(grader["points"])
    return None


def notebook_exercises(nb: dict, notebook: str = "") -> list[Exercise]:
    """The exercises of a course notebook: its check cells, with nbgrader points (else 1 each).

    The points are read from the check cell's ``nbgrader`` metadata, else from the cell that
    defines the function.
    """
    cells = _cells(nb)
    defined_in: dict[str, dict] = {}
    for _, source, metadata in cells:
        for name in _defined_functions(source):
            defined_in[name] = metadata
    exercises = []
    for _, source, metadata in cells:
        for name, function in _check_calls(source):
            points = _points(metadata)
            if points is None:
                points = _points(defined_in.get(function, {}))
            exercises.append(Exercise(name, function, 1.0 if points is None else points, notebook))
    return exercises


def course_exercises(folder: str | Path | None = None) -> dict[str, list[Exercise]]:
    """The course's exercise notebooks (``exercises/`` of the checkout), by file stem."""
    if folder is None:
        from .runtime import checkout_dir

        root = checkout_dir()
        if root is None:
            raise FileNotFoundError("no exercises folder found; pass --exercises DIR (the course's exercise notebooks)")
        folder = root / "exercises"
    key = {}
    for path in sorted(Path(folder).glob("*.ipynb")):
        exercises = notebook_exercises(json.loads(path.read_text(encoding="utf-8")), path.stem)
        if exercises:
            key[path.stem] = exercises
    return key


def _strip_magics(source: str) -> str:
    """Jupyter's ``%magic`` and ``!shell`` lines commented out, so the cell parses as Python."""
    return "\n".join("# " + line if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))


def _defined_functions(source: str) -> list[str]:
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _has_call(node: ast.AST) -> bool:
    return any(isinstance(n, (ast.Call, ast.Await, ast.Yield, ast.YieldFrom, ast.NamedExpr)) for n in ast.walk(node))


def _kept(node: ast.stmt) -> bool:
    """The statements of a cell that are run: imports, definitions, constants assigned to names."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and not _has_call(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.value is not None and not _has_call(node.value)
    return False


def learner_code(nb: dict) -> tuple[list[tuple[str, str]], list[str]]:
    """The notebook's code cells reduced to what is run: ``[(label, source)]``, and the cells that do not parse."""
    kept, broken = [], []
    for index, source, _ in _cells(nb):
        text = _strip_magics(source)
        try:
            tree = ast.parse(text)
        except SyntaxError as err:
            broken.append(f"cell {index}: SyntaxError line {err.lineno}: {err.msg}")
            continue
        tree.body = [node for node in tree.body if _kept(node)]
        if tree.body:
            kept.append((f"<cell {index}>", ast.unparse(tree) if False else _select_lines(text, tree.body)))
    return kept, broken


def _select_lines(text: str, nodes: list[ast.stmt]) -> str:
    """The kept statements' own lines, other lines blanked (line numbers stay those of the cell)."""
    lines = text.split("\n")
    keep = set()
    for node in nodes:
        first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        keep.update(range(first, (node.end_lineno or node.lineno) + 1))
    return "\n".join(line if number in keep else "" for number, line in enumerate(lines, start=1))


# ----------------------------------------------------------------------------- forbidden calls, read from the source

def forbidden_in_source(cells: list[tuple[str, str]], function: str, forbids) -> str:
    """The forbidden call that ``function`` (or a helper it calls) names in the notebook's source, or ""."""
    from .checks.core import _short, forbidden_leaves

    if not forbids:
        return ""
    leaves = forbidden_leaves(forbids)
    functions: dict[str, ast.AST] = {}
    aliases: dict[str, str] = {}
    for _, source in cells:
        tree = ast.parse(source)
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[node.name] = node
                aliases.pop(node.name, None)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in leaves:
                        aliases[alias.asname or alias.name] = leaves[alias.name]
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute) and node.value.attr in leaves:
                for target in node.targets:
                    aliases[target.id] = leaves[node.value.attr]
    seen = set()

    def scan(name: str) -> str:
        if name in seen or name not in functions:
            return ""
        seen.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Attribute) and node.attr in leaves:
                return _short(leaves[node.attr])
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.name in leaves:
                        return _short(leaves[alias.name])
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in leaves:
                return _short(leaves[node.value])  # getattr(F, "conv2d")
            if isinstance(node, ast.Name) and node is not functions[name]:
                if node.id in aliases:
                    return f"{_short(aliases[node.id])} (as {node.id})"
                found = scan(node.id)
                if found:
                    return found
        return ""

    return scan(function)


# ----------------------------------------------------------------------------- the child: run the learner's functions

def _encode(value, depth: int = 0):
    import torch

    from .checks.core import _plain_number

    value = _plain_number(value)
    if depth > 20:
        return {"__foreign__": "deeply nested object", "repr": ""}
    if isinstance(value, torch.Tensor):
        buffer = io.BytesIO()
        plain = torch.Tensor.as_subclass(value.detach(), torch.Tensor).cpu().clone()
        torch.save(plain, buffer)
        return {"__tensor__": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value if not isinstance(value, int) or abs(value) < 2 ** 62 else float(value)
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_encode(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, (str, int)) for k in value):
        return {"__dict__": [[k, _encode(v, depth + 1)] for k, v in value.items()]}
    try:
        text = repr(value)[:80]
    except Exception:  # noqa: BLE001
        text = ""
    return {"__foreign__": type(value).__name__, "repr": text}


class _Foreign:
    """A returned object of a type the grader does not take back (a numpy array, a learner's class)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other) -> bool:
        return False

    __hash__ = object.__hash__


def _decode(value):
    """The child's answer rebuilt here: plain tensors (loaded with ``weights_only``), numbers, containers."""
    import torch

    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if "__tensor__" in value:
            return torch.load(io.BytesIO(base64.b64decode(value["__tensor__"])), weights_only=True, map_location="cpu")
        if "__tuple__" in value:
            return tuple(_decode(v) for v in value["__tuple__"])
        if "__dict__" in value:
            return {k: _decode(v) for k, v in value["__dict__"]}
        if "__foreign__" in value:
            kind = type(str(value["__foreign__"])[:40] or "object", (_Foreign,), {})
            return kind(str(value.get("repr", ""))[:80])
        return _Foreign("?")
    return value


def _child() -> int:
    """Run in the child: read the job from stdin, send one JSON line per event on the protocol channel."""
    job = json.loads(sys.stdin.read())
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    capture = open(os.devnull, "w")  # noqa: SIM115 - the learner's printing goes nowhere
    os.dup2(capture.fileno(), 1)
    os.dup2(capture.fileno(), 2)
    sys.stdout = sys.stderr = capture

    def send(**message):
        channel.write(json.dumps(message) + "\n")
        channel.flush()

    import torch

    from .checks.core import _CaseTimeout, _time_limit, call_case, checkers, forbidden_in_code, limit_for

    registry = checkers()
    case_limit = job["case_limit"]
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    errors = []
    for label, source in job["cells"]:
        try:
            with _time_limit(case_limit):
                exec(compile(source, label, "exec"), namespace)  # noqa: S102 - the learner's definitions, in this child only
        except _CaseTimeout:
            errors.append(f"{label[1:-1]} did not finish within {case_limit:g} s")
        except BaseException as err:  # noqa: BLE001
            errors.append(f"{label[1:-1]}: {type(err).__name__}: {str(err)[:120]}")
    send(ready=True, errors=errors)
    for name, function in job["exercises"]:
        send(start=name)
        checker = registry[name]
        fn = namespace.get(function)
        if not callable(fn):
            send(missing=function)
            continue
        call = forbidden_in_code(fn, checker.forbids)
        if call:
            send(forbidden=call)
            continue
        cases = list(checker.cases(torch.Generator().manual_seed(job["seed"])))
        for index, case in enumerate(cases):
            send(running=index)
            outcome = call_case(checker, fn, case, limit_for(checker, case_limit))
            send(case=index, value=_encode(outcome.value), args_after=_encode(tuple(outcome.args_after)),
                 error=list(outcome.error) if outcome.error else None, not_implemented=outcome.not_implemented,
                 timed_out=outcome.timed_out, forbidden=outcome.forbidden, seconds=outcome.seconds)
            if outcome.timed_out or outcome.not_implemented or outcome.forbidden:
                break
        send(end=name)
    send(done=True)
    return 0


# ----------------------------------------------------------------------------- the parent: judge

@dataclass
class Grade:
    """One student's result: points and verdict line per exercise (by name)."""

    student: str
    points: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(self.points.values())


class _Child:
    """A child process running one notebook's definitions, read line by line with timeouts."""

    def __init__(self, job: dict):
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONDONTWRITEBYTECODE="1",
                   CNNCOURSE_OFFLINE="1", HF_HUB_OFFLINE="1", no_proxy="*", NO_PROXY="*")
        for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
            env.pop(name, None)
        self.folder = tempfile.TemporaryDirectory(prefix="cnncourse-grade-")
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = package_root + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnncourse.grade", "--child"], cwd=self.folder.name, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8",
        )
        self.lines: queue.Queue = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.process.stdin.write(json.dumps(job))
        self.process.stdin.close()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float):
        """The next message; ``"timeout"`` when the child is silent too long, ``None`` when it has ended."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return "timeout"
        if line is None:
            return None
        try:
            message = json.loads(line)
        except ValueError:
            return self.next(timeout)
        return message if isinstance(message, dict) else self.next(timeout)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.reader.join(timeout=5)  # the pipe is at its end once the child is gone
        self.process.stdout.close()
        self.folder.cleanup()


def _outcome(message: dict):
    from .checks.core import Outcome

    error = message.get("error")
    return Outcome(
        value=_decode(message.get("value")), args_after=tuple(_decode(message.get("args_after")) or ()),
        error=tuple(str(e)[:300] for e in error[:3]) if isinstance(error, list) and len(error) == 3 else None,
        not_implemented=bool(message.get("not_implemented")), timed_out=bool(message.get("timed_out")),
        forbidden=str(message.get("forbidden") or "")[:80], seconds=float(message.get("seconds") or 0.0),
    )


def _judge(checker, cases, outcomes, case_limit):
    from .checks.core import _verdict

    return _verdict(checker, cases, outcomes, case_limit)


def grade_notebook(nb: dict, exercises: list[Exercise], registry: dict, seed: int = 0,
                   case_limit: float = CASE_LIMIT, start_limit: float = START_LIMIT) -> dict[str, str]:
    """Verdict lines, by exercise name, for one submitted notebook (run in children, judged here)."""
    import torch

    from .checks.core import CheckResult, Outcome, _forbidden_line, limit_for

    cells, broken = learner_code(nb)
    verdicts: dict[str, str] = {}
    todo = []
    for exercise in exercises:
        checker = registry[exercise.name]
        call = forbidden_in_source(cells, exercise.function, checker.forbids)
        if call:
            total = len(list(checker.cases(torch.Generator().manual_seed(seed))))
            verdicts[exercise.name] = str(CheckResult(exercise.name, 0, total, _forbidden_line(exercise.name, call)))
        else:
            todo.append(exercise)
    broken_note = f" ({'; '.join(broken)})" if broken else ""
    while todo:
        child = _Child({"cells": cells, "exercises": [[e.name, e.function] for e in todo], "seed": seed,
                        "case_limit": case_limit})
        try:
            message = child.next(start_limit)
            if not isinstance(message, dict) or not message.get("ready"):
                why = (f"the notebook's definitions did not finish within {start_limit:g} s" if message == "timeout"
                       else "the Python process running the notebook's definitions stopped")
                for exercise in todo:
                    verdicts[exercise.name] = f"✗ {exercise.name}: {why}{broken_note}."
                return verdicts
            cell_errors = "; ".join(str(e) for e in message.get("errors", []))[:300]
            current, cases, outcomes, running, limit = None, [], [], None, case_limit
            while True:
                message = child.next((limit if current is not None else case_limit) + GRACE)
                if message == "timeout" or message is None:
                    if current is None:
                        break
                    stopped = Outcome(timed_out=True) if message == "timeout" else Outcome(
                        error=("a crash", f"the Python process stopped (exit code {child.process.poll()})", ""))
                    if running is not None and running >= len(outcomes):
                        outcomes.append(stopped)
                    result = _judge(registry[current.name], cases, outcomes, limit)
                    verdicts[current.name] = str(result)
                    todo = todo[todo.index(current) + 1:]
                    break
                if "start" in message:
                    current = next((e for e in todo if e.name == message["start"]), None)
                    if current is None:
                        break
                    cases = list(registry[current.name].cases(torch.Generator().manual_seed(seed)))
                    outcomes, running = [], None
                    limit = limit_for(registry[current.name], case_limit)  # the exercise's own, if longer
                elif "running" in message:
                    running = int(message["running"])
                elif "case" in message and current is not None:
                    outcomes.append(_outcome(message))
                elif "missing" in message and current is not None:
                    extra = f" ({cell_errors})" if cell_errors else broken_note
                    verdicts[current.name] = f"✗ {current.name}: no function named {current.function} in the notebook{extra}."
                    current = None
                elif "forbidden" in message and current is not None:
                    result = CheckResult(current.name, 0, len(list(registry[current.name].cases(torch.Generator().manual_seed(seed)))),
                                         _forbidden_line(current.name, str(message["forbidden"])[:80]))
                    verdicts[current.name] = str(result)
                    current = None
                elif "end" in message:
                    if current is not None:
                        verdicts[current.name] = str(_judge(registry[current.name], cases, outcomes, limit))
                    current = None
                elif message.get("done"):
                    todo = []
                    break
            else:  # pragma: no cover
                pass
            todo = [e for e in todo if e.name not in verdicts]
        finally:
            child.close()
    return verdicts


def find_submissions(folder: str | Path) -> dict[str, list[Path]]:
    """Students and their notebooks: ``alice.ipynb`` -> alice, ``bob/*.ipynb`` -> bob (checkpoints skipped)."""
    folder = Path(folder)
    students: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_file() and path.suffix == ".ipynb":
            students.setdefault(path.stem, []).append(path)
        elif path.is_dir():
            notebooks = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
            if notebooks:
                students.setdefault(path.name, []).extend(notebooks)
    return students


def _match(path: Path, nb: dict, key: dict[str, list[Exercise]]) -> str | None:
    """The course notebook a submission answers: the same file name, else the one whose functions it defines."""
    if path.stem in key:
        return path.stem
    defined = {name for _, source, _ in _cells(nb) for name in _defined_functions(source)}
    best = max(key, key=lambda stem: len(defined & {e.function for e in key[stem]}), default=None)
    return best if best is not None and defined & {e.function for e in key[best]} else None


def grade_notebooks(students: dict[str, list[tuple[Path, dict]]], key: dict[str, list[Exercise]], seed: int = 0,
                    case_limit: float = CASE_LIMIT, progress: bool = True) -> tuple[list[Grade], list[Exercise]]:
    """Grade notebooks already read into memory; returns the grades and the graded exercises (the columns)."""
    from .checks import checkers

    registry = checkers()  # every checker and reference loaded before any learner code runs
    matched = {student: [(path, nb, _match(path, nb, key)) for path, nb in items] for student, items in students.items()}
    stems = [stem for stem in key if any(m == stem for items in matched.values() for _, _, m in items)]
    columns = [e for stem in stems for e in key[stem] if e.name in registry]
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        def tqdm(iterable, **_):
            return iterable
    grades = []
    bar = tqdm(list(matched.items()), desc="grading", unit="student", disable=not progress, file=sys.stderr)
    for student, items in bar:
        grade = Grade(student)
        start = time.perf_counter()
        for path, nb, stem in items:
            if stem is None:
                grade.notes.append(f"{path.name}: not one of the course's exercise notebooks (ignored).")
                continue
            exercises = [e for e in key[stem] if e.name in registry]
            verdicts = grade_notebook(nb, exercises, registry, seed, case_limit)
            for exercise in exercises:
                line = verdicts.get(exercise.name, f"✗ {exercise.name}: not graded.")
                grade.verdicts[exercise.name] = line
                grade.points[exercise.name] = exercise.points if line.startswith("✓") else 0.0
        for exercise in columns:
            if exercise.name not in grade.verdicts:
                grade.verdicts[exercise.name] = f"✗ {exercise.name}: not submitted ({exercise.notebook}.ipynb)."
                grade.points[exercise.name] = 0.0
        grade.seconds = time.perf_counter() - start
        grades.append(grade)
    return grades, columns


def _number(points: float) -> str:
    return f"{points:g}"


def write_results(grades: list[Grade], columns: list[Exercise], out: str | Path) -> Path:
    """``out`` (the CSV) and ``feedback/<student>.md`` beside it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student"] + [e.name for e in columns] + ["total"])
        for grade in grades:
            writer.writerow([grade.student] + [_number(grade.points.get(e.name, 0.0)) for e in columns] + [_number(grade.total)])
    feedback = out.parent / "feedback"
    feedback.mkdir(exist_ok=True)
    maximum = sum(e.points for e in columns)
    for grade in grades:
        lines = [f"# {grade.student}: {_number(grade.total)} / {_number(maximum)} points", ""]
        for exercise in columns:
            lines.append(f"- **{exercise.name}** ({_number(grade.points.get(exercise.name, 0.0))}/{_number(exercise.points)}): "
                         f"{grade.verdicts.get(exercise.name, '')}")
        lines += [f"- {note}" for note in grade.notes]
        (feedback / f"{grade.student}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def summary(grades: list[Grade], columns: list[Exercise], seconds: float) -> str:
    maximum = sum(e.points for e in columns)
    lines = [f"graded {len(grades)} student(s) on {len(columns)} exercise(s) in {seconds:.1f} s "
             f"({seconds / max(1, len(grades)):.1f} s per student)"]
    if grades:
        totals = sorted(g.total for g in grades)
        lines.append(f"total: mean {sum(totals) / len(totals):.2f} / {_number(maximum)}, "
                     f"median {totals[len(totals) // 2]:g}, full marks {sum(t == maximum for t in totals)}")
    for exercise in columns:
        passed = sum(1 for g in grades if g.points.get(exercise.name, 0) > 0)
        slow = sum(1 for g in grades if "did not finish" in g.verdicts.get(exercise.name, ""))
        banned = sum(1 for g in grades if "which this exercise asks you to write yourself" in g.verdicts.get(exercise.name, ""))
        extra = "".join([f", {slow} timed out" if slow else "", f", {banned} used a forbidden call" if banned else ""])
        lines.append(f"  {exercise.name:<20} passed by {passed}/{len(grades)}{extra}")
    return "\n".join(lines)


def grade_folder(submissions: str | Path, out: str | Path = "grades.csv", exercises: str | Path | None = None,
                 seed: int = 0, case_limit: float = CASE_LIMIT, progress: bool = True) -> tuple[list[Grade], list[Exercise]]:
    """Grade every submission under ``submissions``; write ``out`` and ``feedback/``; print a summary."""
    start = time.perf_counter()
    key = course_exercises(exercises)
    students = {}
    for student, paths in find_submissions(submissions).items():  # every notebook read before any child runs
        items = []
        for path in paths:
            try:
                items.append((path, json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError):
                items.append((path, {"cells": []}))
        students[student] = items
    grades, columns = grade_notebooks(students, key, seed, case_limit, progress)
    write_results(grades, columns, out)
    print(summary(grades, columns, time.perf_counter() - start))
    print(f"wrote {out} and {Path(out).parent / 'feedback'}/")
    return grades, columns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse grade", description="Grade a folder of submitted exercise notebooks.")
    parser.add_argument("submissions", help="folder of notebooks: STUDENT.ipynb, or STUDENT/NN_name.ipynb")
    parser.add_argument("--out", default="grades.csv", help="the CSV to write; feedback/ goes beside it")
    parser.add_argument("--exercises", default=None, help="the course's exercise notebooks (default: the checkout's exercises/)")
    parser.add_argument("--case-limit", type=float, default=CASE_LIMIT, help=f"seconds per case (default {CASE_LIMIT:g})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if not Path(args.submissions).is_dir():
        parser.error(f"{args.submissions} is not a folder")
    grade_folder(args.submissions, args.out, args.exercises, args.seed, args.case_limit, not args.no_progress)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.exit(_child())
    sys.exit(main())
