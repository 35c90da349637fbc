"""Command line: ``python -m cnncourse info`` prints the set-up, like the course's first cell."""
from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cnncourse", description=__doc__)
    parser.add_argument("command", choices=["info"], help="info: versions, device, profile and data sets")
    parser.parse_args(argv)
    from .runtime import describe

    describe()
    return 0


if __name__ == "__main__":
    sys.exit(main())
