"""`make bench`: every performance figure, each beside its baseline from the same run.

Each section is a module of this package with `main(argv) -> None` that prints its figures.
`make bench BENCH_ARGS="sender folders"` runs only the named sections.
"""

from __future__ import annotations

import importlib
import sys
import time

SECTIONS = [
    "seed",
    "sender",
    "folders",
    "classify",
    "verdict",
    "startup",
    "tracking",
    "web",
    "campaigns",
    "search",
]


def main(argv: list[str]) -> int:
    wanted = argv or SECTIONS
    unknown = [name for name in wanted if name not in SECTIONS]
    if unknown:
        print(f"unknown bench section(s): {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
        return 2
    for name in wanted:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"bench.{name}":
                raise
            print(f"== {name}: not built yet")
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module.main([])
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
