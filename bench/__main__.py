"""`python -m bench [NAME ...]`: run benchmarks one after another (default: the quick ones).

Each benchmark is also a module of its own (`python -m bench.media_load --help`); this only
lists them and runs a chosen set with their default options.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Short enough together to run on a laptop in a few minutes; the load benches take longer.
QUICK = ("media_frames", "pipeline_latency", "providers_openai_compatible", "recording_tap")


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(p.stem for p in here.glob("*.py") if not p.stem.startswith("_"))


def main(argv: list[str]) -> int:
    if argv in (["--help"], ["-h"]):
        sys.stdout.write(f"benchmarks: {', '.join(available())}\nquick set: {' '.join(QUICK)}\n")
        return 0
    names = argv or list(QUICK)
    unknown = sorted(set(names) - set(available()))
    if unknown:
        sys.stderr.write(f"unknown benchmark(s): {', '.join(unknown)}\n")
        return 2
    failed = 0
    for name in names:
        sys.stdout.write(f"==== bench.{name} ====\n")
        sys.stdout.flush()
        failed += subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
