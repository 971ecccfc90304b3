#!/usr/bin/env python
"""Long fuzzing run of the scan readers and the prescription parser (a seeded mutation loop).

    python tools/fuzz_long.py --minutes 10            # both targets, half the time each
    python tools/fuzz_long.py --minutes 30 --target scan --seed 7

Every input must give a Scan or a one-line ScanError naming the file (readers), or a
Prescription or a one-line PrescriptionError (parser). Anything else, an input that takes longer
than ``--slow`` seconds, or one that runs out of the ``--memory-gb`` address space is a finding:
the input is saved under ``--out`` (default ``output/fuzz``) with the traceback, and the run exits 1.

Seeds: small valid files of every format and encoding (``tests/test_fuzz.py``), the bundled
synthetic sample scans in ``foot_scans/`` and the example prescriptions. Mutations: bit flips,
random runs, insertions, deletions, truncation, duplicated chunks, interesting integers and
tokens (``tests.test_fuzz.mutate``), 1-8 rounds per input. The same ``--seed`` replays the same
inputs. No third-party fuzzer is needed (atheris would also work with the same oracles).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import re
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_fuzz import (  # noqa: E402
    EXTENSIONS,
    RX_SUFFIXES,
    mutate,
    mutate_text,
    read_outcome,
    rx_outcome,
    seed_files,
    seed_prescriptions,
)


class Slow(Exception):
    """An input took longer than the time limit."""


def _alarm(signum, frame):
    raise Slow


def scan_seeds() -> dict[str, list[bytes]]:
    seeds = seed_files()
    for p in sorted((ROOT / "foot_scans").iterdir()):
        ext = p.suffix.lstrip(".").lower()
        if ext in seeds:
            seeds[ext].append(p.read_bytes())
    return seeds


def _category(outcome: str) -> str:
    """An outcome without its quoted values and numbers, cut at the first ':' '(' ';' after the kind."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "X", outcome)
    text = re.sub(r"[\w.]+ = (\[[^\]]*\]|\{[^}]*\}|\S+)", "KEY = V", text)
    text = re.sub(r"-?\d[\d,.e+]*", "N", text)
    kind, _, rest = text.partition(": ")
    return f"{kind}: {re.split(r'[(;:]', rest)[0].strip()[:60]}" if rest else kind


def run(target: str, seconds: float, seed: int, slow_s: float, out: Path, stats: dict) -> list[dict]:
    rng = np.random.default_rng(seed)
    findings: list[dict] = []
    seeds = scan_seeds() if target == "scan" else seed_prescriptions()
    keys = list(EXTENSIONS) if target == "scan" else list(RX_SUFFIXES)
    counts: collections.Counter = collections.Counter()
    end = time.monotonic() + seconds
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        while time.monotonic() < end:
            key = keys[int(rng.integers(0, len(keys)))]
            pool = seeds[key]
            base = pool[int(rng.integers(0, len(pool)))]
            if rng.random() < 0.05:
                data = rng.bytes(int(rng.integers(0, 4096)))
            elif target == "rx":
                data = mutate_text(base, rng, int(rng.integers(1, 9)))
            else:
                data = mutate(base, rng, int(rng.integers(1, 9)))
            n += 1
            t0 = time.monotonic()
            signal.setitimer(signal.ITIMER_REAL, slow_s)
            try:
                if target == "scan":
                    outcome = read_outcome(data, key, folder)
                else:
                    outcome = rx_outcome(data, key, folder)
            except Slow:
                outcome = None
                problem = f"took more than {slow_s:g} s"
            except Exception:  # a finding: anything but Scan/ScanError, Prescription/PrescriptionError
                outcome = None
                problem = traceback.format_exc()
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            dt = time.monotonic() - t0
            if outcome is None:
                digest = hashlib.sha256(data).hexdigest()[:16]
                out.mkdir(parents=True, exist_ok=True)
                saved = out / f"{target}-{digest}{'.' + key if target == 'scan' else key}"
                saved.write_bytes(data)
                saved.with_name(saved.name + ".txt").write_text(problem)
                findings.append({"target": target, "input": str(saved), "problem": problem.splitlines()[-1]})
                counts["FINDING"] += 1
                print(f"finding: {saved}: {problem.splitlines()[-1]}", flush=True)
            else:
                counts[_category(outcome)] += 1
            stats["max_seconds"] = max(stats.get("max_seconds", 0.0), dt)
    stats["inputs"] = n
    stats["outcomes"] = dict(counts.most_common())
    return findings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="total run time (default 10)")
    ap.add_argument("--target", choices=["scan", "rx", "both"], default="both")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same seed, same inputs)")
    ap.add_argument("--slow", type=float, default=10.0, help="seconds after which an input is a finding")
    ap.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit of this process")
    ap.add_argument("--out", type=Path, default=ROOT / "output" / "fuzz", help="where findings are saved")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    limit = int(args.memory_gb * (1 << 30))
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)
    targets = ["scan", "rx"] if args.target == "both" else [args.target]
    summary = {}
    findings = []
    for i, target in enumerate(targets):
        stats: dict = {}
        t0 = time.monotonic()
        findings += run(target, 60.0 * args.minutes / len(targets), args.seed + i, args.slow, args.out, stats)
        stats["seconds"] = round(time.monotonic() - t0, 1)
        stats["max_seconds"] = round(stats.get("max_seconds", 0.0), 2)
        summary[target] = stats
    if args.json:
        print(json.dumps({"summary": summary, "findings": findings}, indent=2))
    else:
        for target, stats in summary.items():
            print(
                f"{target}: {stats['inputs']} inputs in {stats['seconds']} s, "
                f"slowest {stats['max_seconds']} s"
            )
            for outcome, count in stats["outcomes"].items():
                print(f"  {count:7d}  {outcome}")
        print(f"{len(findings)} findings" + (f" (saved in {args.out})" if findings else ""))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
