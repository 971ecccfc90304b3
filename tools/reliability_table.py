#!/usr/bin/env python
"""Rerun the reliability experiments and print the RELIABILITY.md table from this fresh run.

    python tools/reliability_table.py                 # ~10-15 min on 2 cores
    python tools/reliability_table.py --quick         # ~3 min: fewer examples, shorter fuzzing
    python tools/reliability_table.py --examples 200 --fuzz-seconds 300

What it runs (the same generators and oracles as the test suite, without stopping at the first
failure; every outcome is counted):

* the three hypothesis properties of ``tests/test_reliability_props.py`` (random synthetic feet and
  prescriptions; devices checked read back from their STL bytes);
* every case of the bad-input corpus of ``tests/test_bad_inputs.py`` through a real
  ``python -m orthogen.cli.app`` process (exit code, one-line message naming the file, time, memory,
  nothing written);
* the seeded mutation fuzzer of ``tools/fuzz_long.py`` on the readers and the prescription parser;
* determinism: ``orthogen design`` in two processes, ``orthogen batch`` with 1 and 2 workers.

Known bugs are the cases listed in ``KNOWN_BUGS`` (tests marked xfail); the table says which of
them still misbehave. Exit code 0 when nothing but known bugs misbehaved, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _kind(message: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "X", message)
    text = re.sub(r"-?\d[\d,.]*", "N", text)
    return re.split(r"[(;:]", text)[0].strip()[:70]


# ------------------------------------------------------------------------------ properties
def _counting_body(check, counter: collections.Counter, bugs: list[str]):
    """A hypothesis test body that counts outcomes instead of failing."""
    from orthogen.errors import OrthogenError
    from tests import test_reliability_props as P

    def body(case, sets, **kw):
        try:
            problems = check(case, sets, **kw)
        except OrthogenError as err:
            counter[f"refused: {_kind(err.problem)}"] += 1
            problems = P.refusal_problems(err, case)
            if problems:
                bugs.append(f"{problems} {case} {sets}")
            return
        except Exception as err:  # anything else escaping is a bug
            counter["CRASH"] += 1
            bugs.append(f"{type(err).__name__}: {err} {case} {sets}")
            return
        if problems:
            counter["device with problems"] += 1
            bugs.append(f"{problems} {case} {sets}")
        else:
            counter["device, all checks passed"] += 1

    return body


def run_properties(examples: int, seed: int) -> list[dict]:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    from tests import test_reliability_props as P

    rows = []
    checks = (
        ("any foot x any prescription", P.check_any, {}),
        ("heel lift measured back (0.2 mm)", P.check_lift, {"lift": st.floats(0.5, 12)}),
        (
            "posts measured back (0.5 deg)",
            P.check_posts,
            {"rf": st.floats(-10, 10), "ff": st.floats(-10, 10)},
        ),
    )
    for name, check, extra in checks:
        counter: collections.Counter = collections.Counter()
        bugs: list[str] = []

        body = _counting_body(check, counter, bugs)

        s = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
        )
        t0 = time.monotonic()
        hseed(seed)(s(given(case=P.foot_cases(), sets=P.rx_sets(), **extra)(body)))()
        rows.append({"name": name, "counter": counter, "bugs": bugs, "seconds": time.monotonic() - t0})
    return rows


# ------------------------------------------------------------------------------ bad inputs
def _corpus_cases() -> list[tuple]:
    from tests import test_bad_inputs as B

    return [("scan", *c) for c in B.SCAN_CASES] + [("prescription", *c) for c in B.RX_CASES]


def _corpus_one(index: int) -> dict:
    """One corpus case in a fresh temporary folder (runs in a worker process: no threads, so the
    memory limit set in the CLI child's preexec_fn is safe)."""
    from tests import test_bad_inputs as B

    warnings.simplefilter("ignore")  # numpy warns while building the inf-vertex case: expected
    group, cid, build, pattern = _corpus_cases()[index]
    with tempfile.TemporaryDirectory() as d:
        try:
            res, problems = B.run_case(cid, build, pattern, Path(d))
        except Exception as err:
            return {"group": group, "id": cid, "problems": [f"harness: {err}"], "s": 0.0, "mb": 0.0}
    return {
        "group": group,
        "id": cid,
        "problems": problems,
        "known": cid in B.KNOWN_BUGS,
        "stderr": res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "",
        "s": res.seconds,
        "mb": res.max_rss_mb,
    }


def run_corpus(jobs: int) -> list[dict]:
    import multiprocessing

    n = len(_corpus_cases())
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_corpus_one, range(n)))


# ------------------------------------------------------------------------------ fuzzing
def run_fuzz(seconds: float, seed: int) -> dict:
    import signal

    from tools import fuzz_long

    signal.signal(signal.SIGALRM, fuzz_long._alarm)
    out = {}
    with tempfile.TemporaryDirectory() as d:
        for i, target in enumerate(("scan", "rx")):
            stats: dict = {}
            t0 = time.monotonic()
            findings = fuzz_long.run(target, seconds, seed + i, 10.0, Path(d), stats)
            stats["seconds"] = time.monotonic() - t0
            out[target] = {"stats": stats, "findings": findings}
    return out


# ------------------------------------------------------------------------------ determinism
def run_determinism() -> list[tuple[str, str]]:
    from tests import test_determinism as D

    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        try:
            (d / "design").mkdir()
            D.test_design_is_byte_identical_across_processes(d / "design")
            rows.append(("design: 2 processes + design_files in-process (STL, 3MF, JSON, PNG)", "identical"))
        except AssertionError as err:
            rows.append(("design: 2 processes + design_files in-process", f"DIFFERENT: {err}"))
        for orders in ("small", "sample"):
            (d / orders).mkdir()
            try:
                D.test_batch_is_byte_identical_across_worker_counts(d / orders, orders)
                rows.append((f"batch --workers 1 vs 2 ({orders} orders)", "identical (timings aside)"))
            except AssertionError as err:
                rows.append((f"batch --workers 1 vs 2 ({orders} orders)", f"DIFFERENT: {err}"))
    return rows


# ------------------------------------------------------------------------------ report
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer examples and shorter fuzzing (~3 min)")
    ap.add_argument("--examples", type=int, default=None, help="examples per property (default 40)")
    ap.add_argument("--fuzz-seconds", type=float, default=None, help="seconds per fuzz target (default 120)")
    ap.add_argument("--jobs", type=int, default=2, help="CLI processes run at once for the corpus")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", nargs="*", default=[], choices=["props", "corpus", "fuzz", "determinism"])
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # numpy warnings of the corpus builders (inf vertices) are expected
    examples = args.examples or (10 if args.quick else 40)
    fuzz_s = args.fuzz_seconds or (20.0 if args.quick else 120.0)
    t_start = time.monotonic()
    unexpected = 0
    print("| what was tried | cases | what happened |")
    print("|---|---:|---|")
    if "props" not in args.skip:
        for row in run_properties(examples, args.seed):
            c = row["counter"]
            n = sum(c.values())
            parts = [f"{k}: {v}" for k, v in c.most_common()]
            bugs = row["bugs"]
            if bugs:
                unexpected += 1
                parts.append(f"**{len(bugs)} bugs**, first: {bugs[0][:300]}")
            print(f"| property: {row['name']} ({row['seconds']:.0f} s) | {n} | {'; '.join(parts)} |")
    if "corpus" not in args.skip:
        results = run_corpus(args.jobs)
        for group in ("scan", "prescription"):
            rs = [r for r in results if r["group"] == group]
            good = [r for r in rs if not r["problems"]]
            known = [r for r in rs if r["problems"] and r.get("known")]
            new = [r for r in rs if r["problems"] and not r.get("known")]
            fixed = [r for r in good if r.get("known")]
            unexpected += len(new)
            slow = max(rs, key=lambda r: r["s"])
            big = max(rs, key=lambda r: r["mb"])
            text = (
                f"refused correctly (exit 2, one line naming the file, nothing written): {len(good)}; "
                f"slowest {slow['s']:.1f} s ({slow['id']}), most memory {big['mb']:.0f} MB ({big['id']})"
            )
            if known:
                text += "; **known bugs**: " + "; ".join(f"{r['id']} ({r['problems'][0]})" for r in known)
            if new:
                text += "; **new problems**: " + "; ".join(f"{r['id']}: {r['problems']}" for r in new)
            if fixed:
                text += "; known bugs now behaving: " + ", ".join(r["id"] for r in fixed)
            print(f"| bad {group} inputs through `python -m orthogen.cli.app design` | {len(rs)} | {text} |")
    if "fuzz" not in args.skip:
        for target, res in run_fuzz(fuzz_s, args.seed).items():
            st = res["stats"]
            outcomes = st["outcomes"]
            good = sum(v for k, v in outcomes.items() if k in ("scan", "ok"))
            refusals = {k: v for k, v in outcomes.items() if k not in ("scan", "ok", "FINDING")}
            top = "; ".join(f"{k.split(': ', 1)[-1]} {v}" for k, v in list(refusals.items())[:5])
            finds = res["findings"]
            unexpected += len(finds)
            what = "readers (load_scan)" if target == "scan" else "prescription parser (load_prescription)"
            ok_name = "Scan" if target == "scan" else "Prescription"
            err_name = "ScanError" if target == "scan" else "PrescriptionError"
            text = (
                f"{ok_name} {good}; one-line {err_name} {sum(refusals.values())} ({len(refusals)} kinds; "
                f"most common: {top}); **{len(finds)} findings** (other exception, > 10 s); "
                f"slowest input {st['max_seconds']:.2f} s"
            )
            print(f"| fuzz {what}, {st['seconds']:.0f} s | {st['inputs']} | {text} |")
    if "determinism" not in args.skip:
        for name, result in run_determinism():
            if not result.startswith("identical"):
                unexpected += 1
            print(f"| determinism: {name} | 1 | {result} |")
    print(f"\n(fresh run, {time.monotonic() - t_start:.0f} s; {unexpected} unexpected problems)")
    return 1 if unexpected else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception:
        traceback.print_exc()
        sys.exit(2)
