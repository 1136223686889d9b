"""Run every benchmark: ``python bench/run_all.py [--quick] [--only NAME ...]``.

Prints each result (value, baseline measured in the same run, ratio, goal), writes
``bench/results.json`` (``{name: {value, baseline, ratio, goal, unit, met, note}}``) and a
Markdown table (``bench/results.md``, also printed) for the README's Performance section.
``--quick`` takes under 2 minutes, the full run under 10 on a 2-core machine (the briefing's
million readings are generated once into PostgreSQL database ``roomvitals_bench_briefing``
and reused).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Result, markdown_table, say, write_results

BENCHMARKS = {  # name -> module; cheapest first
    "sse_fanout": "bench.sse_fanout",
    "gateway_throughput": "bench.gateway_throughput",
    "briefing": "bench.briefing",
    "ingest": "bench.ingest",
    "latency": "bench.latency",
    "gateway_load": "bench.gateway_load",
}
QUICK = {  # what --quick runs of each (smaller sizes; SQLite ingest left out)
    "ingest": {"sqlite": False},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), default=None,
                        help="run only this benchmark (repeatable)")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("results.json"))
    args = parser.parse_args(argv)
    results: list[Result] = []
    started = time.monotonic()
    failed = []
    for name, module in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        say(f"=== {name}")
        extra = QUICK.get(name, {}) if args.quick else {}
        try:
            found = importlib.import_module(module).run(quick=args.quick, **extra)
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            say(f"{name} failed: {exc!r}")
            failed.append(name)
            continue
        for result in found:
            print(result.line(), flush=True)
        results.extend(found)
    elapsed = time.monotonic() - started
    write_results(results, args.out)
    table = markdown_table(results)
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    mode = "quick" if args.quick else "full"
    args.out.with_suffix(".md").write_text(f"{mode} run, {stamp}, {elapsed:.0f} s\n\n{table}\n")
    print(f"\n{mode} run, {stamp}, {elapsed:.0f} s\n\n{table}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
