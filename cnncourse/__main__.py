"""Command line, also for Windows without make.

    cnncourse info    the set-up report (what every notebook's first cell prints)
    cnncourse lab     JupyterLab on the course's notebooks with its offline settings;
                      extra options go to JupyterLab, e.g. cnncourse lab --no-browser --port 8899
    cnncourse grade SUBMISSIONS --out grades.csv
                      grade a folder of submitted exercise notebooks (see cnncourse.grade)

``python -m cnncourse ...`` does the same. ``make lab`` calls ``cnncourse lab``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["lab_arguments", "main"]


def lab_arguments(extra: list[str] | None = None) -> list[str]:
    """JupyterLab's command-line options for the course (the one definition, used by ``make lab``).

    Rooted at the checkout (else the current folder), opening ``notebooks/``, with no news
    fetching and no extension manager (the course runs offline), the checkout's
    ``tools/lab-settings``, and ``--allow-root`` when run as root (containers, CI).
    """
    from .runtime import checkout_dir

    root = checkout_dir() or Path.cwd()
    args = [f"--ServerApp.root_dir={root}"]
    if (root / "notebooks").is_dir():
        args.append("--LabApp.default_url=/lab/tree/notebooks")
    args += ["--LabApp.news_url=None", "--LabApp.extension_manager=readonly"]
    settings = root / "tools" / "lab-settings"
    if settings.is_dir():
        args.append(f"--LabApp.app_settings_dir={settings}")
    if getattr(os, "geteuid", lambda: -1)() == 0:
        args.append("--allow-root")
    return args + list(extra or [])


def _launch_lab(args: list[str]) -> int:
    from jupyterlab.labapp import LabApp

    LabApp.launch_instance(argv=args)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("command", choices=["info", "lab", "grade"],
                        help="info: the set-up report; lab: open JupyterLab; grade: grade submissions")
    args, extra = parser.parse_known_args(argv)
    if args.command == "grade":
        from .grade import main as grade_main

        return grade_main(extra)
    if args.command == "lab":
        return _launch_lab(lab_arguments(extra))
    if extra:
        parser.error(f"'cnncourse info' takes no options, got {' '.join(extra)}")
    from .info import describe

    describe()
    return 0


if __name__ == "__main__":
    sys.exit(main())
