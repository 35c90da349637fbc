"""The developers' notebook tool: convert, execute and strip the course notebooks.

Authors may write a notebook as a Python script in "percent" format and convert it;
the committed source of truth is always the ``.ipynb``::

    python tools/nbtool.py py2nb notebooks/02_convolution.py notebooks/02_convolution.ipynb
    python tools/nbtool.py nb2py notebooks/02_convolution.ipynb /tmp/02_convolution.py
    python tools/nbtool.py run notebooks/*.ipynb --profile smoke
    python tools/nbtool.py strip notebooks/*.ipynb
    python tools/nbtool.py bootstrap notebooks/*.ipynb solutions/*.ipynb
    python tools/nbtool.py zh-stale notebooks/*.ipynb exercises/*.ipynb    # the Chinese edition (tools/nbzh.py)
    python tools/nbtool.py zh-messages                 # stale translations in cnncourse/messages/zh.json
    python tools/nbtool.py zh-messages --stamp KEY ... # after translating them

``bootstrap`` makes each notebook's first code cell the text of ``tools/bootstrap_cell.py``
(it installs cnncourse where it is missing, then prints the set-up report) and puts
"Open in Colab" / "Open in Kaggle" links under its title, built from ``[project.urls]``
in pyproject.toml; run ``python -m cnncourse.exercises`` afterwards.

Saving rule (``run`` and ``strip``): outputs are kept only in code cells with a comment
line ``# NBVAL_CHECK_OUTPUT`` (the cells ``pytest --nbval-lax`` compares), every
execution count is reset, widget state and timing metadata are removed. So the
committed file holds only the outputs that CI checks.

Percent format::

    # %% [markdown] tags=["intro"]
    # # Title
    #
    # Some prose.

    # %% tags=["parameters"]
    epochs = 1

This file is a script, not part of the ``cnncourse`` package.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import nbformat

__all__ = [
    "CHECK_OUTPUT_MARKER",
    "checks_output",
    "PROFILES",
    "py_to_notebook",
    "notebook_to_py",
    "strip_notebook",
    "run_notebook",
    "bootstrap_source",
    "repository_url",
    "open_urls",
    "open_links",
    "link_target",
    "bootstrap_notebook",
    "main",
]

CHECK_OUTPUT_MARKER = "NBVAL_CHECK_OUTPUT"
PROFILES = ("smoke", "cpu", "gpu")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}

# "# %%", optionally "[markdown]" / "[raw]", optionally tags=[...]; "# %%time" is not a header.
_HEADER = re.compile(r"^# %%(?:\s+\[(?P<kind>[a-z]+)\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")
_LOOKS_LIKE_HEADER = re.compile(r"^# %%(\s|$)")
_CELL_KINDS = {None: "code", "markdown": "markdown", "md": "markdown", "raw": "raw"}


# ----------------------------------------------------------------------------- conversion


def _parse_header(line: str, where: str) -> tuple[str, list[str]]:
    """Return (cell_type, tags) of a ``# %%`` header line."""
    match = _HEADER.match(line)
    if match is None or match["kind"] not in _CELL_KINDS:
        raise ValueError(f"{where}: cannot read cell header {line!r}; expected e.g. '# %% [markdown] tags=[\"x\"]'.")
    tags = json.loads(match["tags"]) if match["tags"] else []
    if not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"{where}: tags must be a JSON list of strings, got {match['tags']}.")
    return _CELL_KINDS[match["kind"]], tags


def _uncomment(line: str) -> str:
    """Strip the ``# `` (or a lone ``#``) that prefixes markdown lines."""
    if line.startswith("# "):
        return line[2:]
    return "" if line == "#" else line


def _strip_blank_lines(lines: list[str]) -> list[str]:
    """Drop leading and trailing blank lines."""
    start, stop = 0, len(lines)
    while start < stop and not lines[start].strip():
        start += 1
    while stop > start and not lines[stop - 1].strip():
        stop -= 1
    return lines[start:stop]


def py_to_notebook(text: str, name: str = "script") -> nbformat.NotebookNode:
    """Parse a percent-format script into a notebook with deterministic cell ids ``cell-00``, ...

    ``name`` only appears in error messages.
    """
    cells: list[tuple[str, list[str], list[str]]] = []  # (cell_type, tags, lines)
    cell_type, tags, lines = "code", [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if _LOOKS_LIKE_HEADER.match(line):
            cells.append((cell_type, tags, lines))
            cell_type, tags = _parse_header(line, f"{name} line {number}")
            lines = []
        else:
            lines.append(line)
    cells.append((cell_type, tags, lines))
    # Text before the first header becomes a code cell only if it is not blank.
    if not _strip_blank_lines(cells[0][2]):
        cells.pop(0)

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    for index, (cell_type, tags, lines) in enumerate(cells):
        if cell_type != "code":
            lines = [_uncomment(line) for line in lines]
        source = "\n".join(_strip_blank_lines(lines))
        metadata = {"tags": tags} if tags else {}
        make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                "raw": nbformat.v4.new_raw_cell}[cell_type]
        nb.cells.append(make(source, id=f"cell-{index:02d}", metadata=metadata))
    nbformat.validate(nb)
    return nb


def notebook_to_py(nb: nbformat.NotebookNode, name: str = "notebook") -> str:
    """Render a notebook as a percent-format script (cells, their type and tags; no outputs)."""
    blocks = []
    for index, cell in enumerate(nb.cells):
        header = "# %%" + {"code": "", "markdown": " [markdown]", "raw": " [raw]"}[cell.cell_type]
        tags = cell.get("metadata", {}).get("tags", [])
        if tags:
            header += " tags=" + json.dumps(list(tags))
        lines = cell.source.splitlines()
        if cell.cell_type != "code":
            lines = [f"# {line}" if line else "#" for line in lines]
        for line in lines:
            if _LOOKS_LIKE_HEADER.match(line):
                raise ValueError(f"{name}: cell {index} has a line {line!r} that would read back as a cell header.")
        blocks.append("\n".join([header, *lines]))
    return "\n\n".join(blocks) + "\n"


# ----------------------------------------------------------------------------- saving rule


def checks_output(source: str) -> bool:
    """True if a line of ``source`` is the comment ``# NBVAL_CHECK_OUTPUT`` (nbval's rule)."""
    for line in source.splitlines():
        line = line.strip()
        if line.startswith("#") and line.lstrip("#").strip() == CHECK_OUTPUT_MARKER:
            return True
    return False


def strip_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Apply the saving rule to ``nb`` in place and return it.

    Keeps outputs only in ``# NBVAL_CHECK_OUTPUT`` code cells; those get the execution
    count of their position among the code cells (nbval skips a cell whose count is None
    but fails it as "unrun" if it has outputs), every other cell gets None. Removes widget
    state and execution timing metadata. Deterministic, so re-running gives the same file.
    """
    nb.metadata.pop("widgets", None)
    position = 0
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type != "code":
            continue
        position += 1
        checked = checks_output(cell.source)
        if not checked:
            cell.outputs = []
        cell.execution_count = position if checked and cell.outputs else None
        for output in cell.outputs:
            if "execution_count" in output:
                output.execution_count = cell.execution_count
    return nb


def _save(nb: nbformat.NotebookNode, path: Path) -> None:
    """Validate, then write with nbformat's layout (indent 1, trailing newline)."""
    nbformat.validate(nb)
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------- bootstrap cell and links

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP_TEMPLATE = Path(__file__).resolve().with_name("bootstrap_cell.py")
BRANCH = "main"  # the branch the Colab and Kaggle links open
# The folder a notebook's links open: solutions/ are the source of exercises/, so they link the exercise.
LINK_FOLDERS = {"notebooks": "notebooks", "solutions": "exercises"}
LINKS_PREFIX = "[![Open in Colab]"
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
KAGGLE_BADGE = "https://kaggle.com/static/images/open-in-kaggle.svg"


def bootstrap_source(template: Path = BOOTSTRAP_TEMPLATE) -> str:
    """The first code cell of every notebook: ``tools/bootstrap_cell.py`` without its final newline."""
    return template.read_text(encoding="utf-8").rstrip("\n")


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``[project.urls] Repository`` of pyproject.toml, the one place the repository's address is declared."""
    text = pyproject.read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: read the one line
        match = re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.MULTILINE)
        url = match[1] if match else None
    else:
        url = tomllib.loads(text).get("project", {}).get("urls", {}).get("Repository")
    if not url or not url.startswith("https://github.com/"):
        raise ValueError(f"{pyproject}: [project.urls] needs Repository = \"https://github.com/OWNER/NAME\", got {url!r}")
    return url.rstrip("/")


def open_urls(repo_path: str, repository: str | None = None) -> dict[str, str]:
    """The Colab and Kaggle addresses that open ``repo_path`` (e.g. ``notebooks/01_introduction.ipynb``)."""
    repository = repository or repository_url()
    blob = f"{repository}/blob/{BRANCH}/{repo_path}"
    return {
        "colab": f"https://colab.research.google.com/github/{repository.removeprefix('https://github.com/')}/blob/{BRANCH}/{repo_path}",
        "kaggle": f"https://kaggle.com/kernels/welcome?src={blob}",
    }


def open_links(repo_path: str, repository: str | None = None) -> str:
    """The title cell's line of "Open in Colab" and "Open in Kaggle" badges for ``repo_path``."""
    urls = open_urls(repo_path, repository)
    return f"{LINKS_PREFIX}({COLAB_BADGE})]({urls['colab']}) [![Open in Kaggle]({KAGGLE_BADGE})]({urls['kaggle']})"


def link_target(path: Path) -> str:
    """The repository path a notebook's links open, from its folder and name (works on copies elsewhere)."""
    folder = path.resolve().parent.name
    if folder not in LINK_FOLDERS:
        hint = " (exercises/ is generated: bootstrap solutions/, then run python -m cnncourse.exercises)" \
            if folder == "exercises" else ""
        raise ValueError(f"{path}: bootstrap works on notebooks in {' or '.join(f'{f}/' for f in LINK_FOLDERS)}, "
                         f"not in {folder}/{hint}")
    return f"{LINK_FOLDERS[folder]}/{path.name}"


_OLD_SETUP_LINE = re.compile(r"^(from cnncourse import runtime|runtime\.describe\(\)|runtime\.require\([^)]*\))$")


def _is_setup_cell(cell_source: str, source: str) -> bool:
    """Whether a code cell is a set-up cell that the bootstrap cell replaces."""
    lines = [line.strip() for line in cell_source.splitlines() if line.strip()]
    if lines and lines[0] == source.splitlines()[0]:
        return True
    return bool(lines) and all(_OLD_SETUP_LINE.match(line) for line in lines)


def bootstrap_notebook(nb: nbformat.NotebookNode, repo_path: str, source: str | None = None,
                       repository: str | None = None, name: str = "notebook") -> nbformat.NotebookNode:
    """Give ``nb`` (in place) the bootstrap first code cell and the links line under its title.

    A first code cell that is a set-up cell (an earlier bootstrap cell, recognised by its first
    line, or the old ``from cnncourse import runtime`` / ``runtime.require(...)`` /
    ``runtime.describe()`` cell) is replaced by ``source`` (default: the template); any other
    first code cell keeps its code and the bootstrap cell goes before it. The title cell (the
    first cell, a markdown ``# `` heading) gets :func:`open_links` as its second paragraph,
    replacing an earlier links line. Running it twice changes nothing.
    """
    source = bootstrap_source() if source is None else source
    if not nb.cells or nb.cells[0].cell_type != "markdown" or not nb.cells[0].source.startswith("# "):
        raise ValueError(f"{name}: the first cell must be the markdown title ('# NN — ...')")
    index = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), len(nb.cells))
    if index < len(nb.cells) and _is_setup_cell(nb.cells[index].source, source):
        code = nb.cells[index]
        code.source, code.outputs, code.execution_count = source, [], None
    else:
        taken = {cell.get("id") for cell in nb.cells}
        cell_id = next(f"setup-{n}" if n else "setup" for n in range(len(nb.cells) + 1)
                       if (f"setup-{n}" if n else "setup") not in taken)
        nb.cells.insert(index, nbformat.v4.new_code_cell(source, id=cell_id))
    heading, *rest = nb.cells[0].source.split("\n")
    rest = [line for line in rest if not line.startswith(LINKS_PREFIX)]
    while rest and not rest[0].strip():
        rest.pop(0)
    nb.cells[0].source = "\n".join([heading, "", open_links(repo_path, repository)] + ([""] + rest if rest else []))
    return nb


# ----------------------------------------------------------------------------- execution


def _kernel_manager_class(python: str | Path | None = None):
    """An nbclient kernel manager that always starts ipykernel on *this* interpreter.

    A ``python3`` kernelspec found on the machine could point at another Python; the
    course must run in the environment that runs the tool. ``python`` names another
    interpreter instead (the lone-notebook test runs a fresh virtual environment).
    """
    import zmq
    from ipykernel.kernelspec import get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisPythonKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            # -Xfrozen_modules=off: what `ipykernel install` uses, so the debugger does not warn.
            python_arguments = ["-Xfrozen_modules=off"] if sys.version_info >= (3, 11) else []
            spec = get_kernel_dict(python_arguments=python_arguments)
            if python is not None:
                spec["argv"][0] = str(python)
            return KernelSpec(argv=spec["argv"], display_name=KERNELSPEC["display_name"],
                              language="python", metadata=spec.get("metadata", {}))

    class ThisPythonKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            kwargs.setdefault("kernel_spec_manager", ThisPythonKernelSpecManager())
            # Recent jupyter_client can encrypt the local connection (else ipykernel warns).
            if self.class_traits().get("transport_encryption") is not None and zmq.has("curve"):
                kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

    return ThisPythonKernelManager


def _last_line(text: str) -> str:
    """Last non-blank line of ``text`` (or "" if none)."""
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def run_notebook(path: str | Path, profile: str = "smoke", timeout: int = 600) -> tuple[bool, str]:
    """Execute the notebook at ``path`` and, if every cell succeeds, save it with the saving rule.

    The kernel runs in the notebook's folder with ``CNNCOURSE_PROFILE=profile``;
    ``timeout`` is per cell, in seconds. Returns (ok, one-line report). On failure the
    file is left untouched and the report names the cell index (0-based, counting all
    cells), its first line and the error's last line.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    metadata = copy.deepcopy(nb.metadata)  # nbclient writes the kernel's language_info into it
    current = {"index": None}

    def on_cell_execute(cell, cell_index):
        current["index"] = cell_index

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=_kernel_manager_class(),
        record_timing=False,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        on_cell_execute=on_cell_execute,
    )
    start = time.perf_counter()
    try:
        client.execute(env={**os.environ, "CNNCOURSE_PROFILE": profile})
    except Exception as error:  # any failure: report it, keep the file as it was
        elapsed = time.perf_counter() - start
        if isinstance(error, CellExecutionError):
            message = f"{error.ename}: {_last_line(error.evalue)}"
        elif isinstance(error, CellTimeoutError):
            message = f"the cell ran longer than --timeout {timeout} s"
        else:
            message = _last_line(f"{type(error).__name__}: {error}")
        index = current["index"]
        if index is None:
            return False, f"{path}: FAILED after {elapsed:.1f} s before any cell ran: {message}"
        first = nb.cells[index].source.strip().splitlines()[0] if nb.cells[index].source.strip() else ""
        return False, f"{path}: FAILED after {elapsed:.1f} s in cell {index} (`{first}`): {message}"
    elapsed = time.perf_counter() - start
    nb.metadata = metadata
    _save(strip_notebook(nb), path)
    return True, f"{path}: ok in {elapsed:.1f} s"


# ----------------------------------------------------------------------------- command line


def zh_messages(stamp: Sequence[str] = (), stamp_stale: bool = False, lang: str = "zh") -> int:
    """List the message-catalogue keys whose translation is stale; record (stamp) the ones now translated.

    A stamp writes, into cnncourse/messages/<lang>.sources.json, the hash of the English template the
    translation in <lang>.json now renders. Exit status: 0 when nothing is left stale, 1 otherwise, 2 for a
    key that is not in both catalogues.
    """
    from cnncourse import i18n

    folder = Path(i18n.__file__).resolve().parent / "messages"
    english, translated = i18n.catalogue("en"), i18n.catalogue(lang)
    wanted = list(i18n.stale_messages(lang)) if stamp_stale else list(stamp)
    unknown = [key for key in wanted if key not in english or key not in translated]
    if unknown:
        print(f"error: not a key of both en.json and {lang}.json: {', '.join(unknown)}", file=sys.stderr)
        return 2
    if wanted:
        recorded = dict(i18n.sources(lang))
        recorded.update({key: i18n.source_hash(english[key]) for key in wanted})
        ordered = {key: recorded[key] for key in translated if key in recorded}
        (folder / f"{lang}.sources.json").write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")
        i18n.sources.cache_clear()
        i18n._stale_set.cache_clear()
        print(f"{len(wanted)} translations recorded as up to date")
    stale = i18n.stale_messages(lang)
    for key in stale:
        print(f"{key}: {english.get(key, '(no longer in en.json: delete it)')}\n    {lang}: {translated[key]}")
    print(f"{len(stale)} message{'s' if len(stale) != 1 else ''} to (re)translate in cnncourse/messages/{lang}.json, "
          f"then --stamp {'them' if len(stale) != 1 else 'it'}" if stale
          else f"the {lang} message catalogue is up to date")
    return 1 if stale else 0


def _zh_command(args) -> int:
    """zh-sync, zh-stale, zh-export, zh-import (the Chinese edition; see tools/nbzh.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nbzh

    def pair(path):
        target = nbzh.zh_path(path)
        return nbformat.read(path, as_version=4), (nbformat.read(target, as_version=4) if target.is_file() else None), target

    if args.command == "zh-sync":
        for path in args.notebooks:
            english, zh, target = pair(path)
            target.parent.mkdir(exist_ok=True)
            _save(strip_notebook(nbzh.sync(english, zh, where=str(path))), target)
            todo = nbzh.stale_cells(english, nbformat.read(target, as_version=4))
            print(f"{target}: written; {len(todo)} markdown cells to translate")
        return 0
    if args.command == "zh-stale":
        count = 0
        for path in args.notebooks:
            english, zh, target = pair(path)
            if zh is None:
                print(f"{target}: missing (run zh-sync)")
                count += 1
                continue
            problems = nbzh.code_differences(english, zh)
            todo = nbzh.stale_cells(english, zh)
            for line in problems:
                print(f"{target}: {line}")
            for item in todo:
                first = item.english.strip().splitlines()[0][:90] if item.english.strip() else ""
                print(f"{target}: {item.cell_id} {item.status}: {first}")
            count += len(problems) + len(todo)
        print(f"{count} cells to (re)translate or re-sync" if count else "the Chinese edition is up to date")
        return 1 if count else 0
    english, zh, target = pair(args.notebooks[0])
    if args.command == "zh-export":
        args.to.write_text(nbzh.export_text(english, zh, everything=args.all), encoding="utf-8")
        print(f"{args.to}: {args.to.read_text(encoding='utf-8').count('<!-- cell ')} cells to translate")
        return 0
    if zh is None:
        target.parent.mkdir(exist_ok=True)
    zh = nbzh.sync(english, zh, where=str(args.notebooks[0]))  # cells added to the English since get a place
    taken = nbzh.import_text(english, zh, args.text.read_text(encoding="utf-8"))
    _save(strip_notebook(nbzh.sync(english, zh, where=str(args.notebooks[0]))), target)
    print(f"{target}: {len(taken)} cells translated; {len(nbzh.stale_cells(english, nbformat.read(target, as_version=4)))} left")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit status (0 ok, 1 a notebook failed, 2 bad input)."""
    parser = argparse.ArgumentParser(prog="python tools/nbtool.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    py2nb = commands.add_parser("py2nb", help="convert a percent-format script to a notebook")
    py2nb.add_argument("src", type=Path)
    py2nb.add_argument("dest", type=Path)
    nb2py = commands.add_parser("nb2py", help="convert a notebook to a percent-format script")
    nb2py.add_argument("src", type=Path)
    nb2py.add_argument("dest", type=Path)
    run = commands.add_parser("run", help="execute notebooks and save them with only the checked outputs")
    run.add_argument("notebooks", nargs="+", type=Path)
    run.add_argument("--profile", choices=PROFILES, default="smoke", help="sets CNNCOURSE_PROFILE (default: smoke)")
    run.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default: 600)")
    strip = commands.add_parser("strip", help="keep only the NBVAL_CHECK_OUTPUT outputs, without executing")
    strip.add_argument("notebooks", nargs="+", type=Path)
    bootstrap = commands.add_parser("bootstrap", help="set the first code cell from tools/bootstrap_cell.py and "
                                    "the Colab/Kaggle links under the title (notebooks/ and solutions/)")
    bootstrap.add_argument("notebooks", nargs="+", type=Path)
    zh_sync = commands.add_parser("zh-sync", help="write notebooks/zh/ (or exercises/zh/) from English notebooks, "
                                  "keeping the translations (tools/nbzh.py)")
    zh_sync.add_argument("notebooks", nargs="+", type=Path, help="English notebooks")
    zh_stale = commands.add_parser("zh-stale", help="list the Chinese cells to (re)translate; exit 1 if any")
    zh_stale.add_argument("notebooks", nargs="+", type=Path, help="English notebooks")
    zh_export = commands.add_parser("zh-export", help="write the cells to translate to a text file")
    zh_export.add_argument("notebooks", nargs=1, type=Path, help="one English notebook")
    zh_export.add_argument("--to", type=Path, required=True, help="the text file to write")
    zh_export.add_argument("--all", action="store_true", help="every markdown cell, not only stale ones")
    zh_import = commands.add_parser("zh-import", help="read a translated zh-export file into the Chinese notebook")
    zh_import.add_argument("notebooks", nargs=1, type=Path, help="one English notebook")
    zh_import.add_argument("--text", type=Path, required=True, help="the translated file")
    zh_msg = commands.add_parser("zh-messages", help="list the stale translations of the message catalogue "
                                 "(cnncourse/messages/zh.json); exit 1 if any")
    zh_msg.add_argument("--stamp", nargs="+", default=(), metavar="KEY",
                        help="record these keys' translations as made from today's English")
    zh_msg.add_argument("--stamp-stale", action="store_true", help="record every stale key's translation")
    args = parser.parse_args(argv)
    if args.command == "zh-messages":
        return zh_messages(args.stamp, args.stamp_stale)

    inputs = [args.src] if args.command in ("py2nb", "nb2py") else args.notebooks
    missing = [str(path) for path in inputs if not path.is_file()]
    if missing:
        print(f"error: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        if args.command == "py2nb":
            _save(py_to_notebook(args.src.read_text(encoding="utf-8"), name=str(args.src)), args.dest)
        elif args.command == "nb2py":
            text = notebook_to_py(nbformat.read(args.src, as_version=4), name=str(args.src))
            args.dest.write_text(text, encoding="utf-8")
        elif args.command == "strip":
            for path in args.notebooks:
                _save(strip_notebook(nbformat.read(path, as_version=4)), path)
        elif args.command.startswith("zh-"):
            return _zh_command(args)
        elif args.command == "bootstrap":
            targets = [(path, link_target(path)) for path in args.notebooks]  # every path checked before any write
            source, repository = bootstrap_source(), repository_url()
            for path, target in targets:
                before = path.read_text(encoding="utf-8")
                nb = bootstrap_notebook(nbformat.read(path, as_version=4), target, source, repository, name=str(path))
                _save(nb, path)
                print(f"{path}: {'unchanged' if path.read_text(encoding='utf-8') == before else 'updated'}")
        else:
            failed = 0
            for path in args.notebooks:
                ok, report = run_notebook(path, profile=args.profile, timeout=args.timeout)
                print(report, flush=True)
                failed += not ok
            return 1 if failed else 0
    except (ValueError, nbformat.ValidationError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
