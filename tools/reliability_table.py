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

    damaged = {c[0] for c in B.DAMAGED_CASES}
    return (
        [("scan", *c) for c in B.SCAN_CASES if c[0] not in damaged]
        + [("damaged capture", *c) for c in B.DAMAGED_CASES]
        + [("prescription", *c) for c in B.RX_CASES]
    )


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


# ------------------------------------------------------------------------------ captures and safety
def _random_feet(n: int, seed: int) -> list[dict]:
    import numpy as np

    rng = np.random.default_rng(seed)
    feet = []
    for _ in range(n):
        length = float(rng.integers(120, 341))
        feet.append(dict(
            length_mm=length, ball_width_mm=length * rng.uniform(0.34, 0.42),
            arch_height_mm=rng.uniform(2.0, 20.0) * length / 260.0, side=str(rng.choice(["left", "right"])),
            kind=str(rng.choice(["full_foot", "plantar_shell", "impression"])),
            noise=float(rng.choice([0.0, 0.2, 0.5])), holes=float(rng.choice([0.0, 0.02, 0.05])),
            seed=int(rng.integers(0, 2**16)),
        ))  # fmt: skip
    return feet


def _whole_foot(f: dict):
    from orthogen.synth.model import FootSpec, synth_scan

    spec = FootSpec(length_mm=f["length_mm"], ball_width_mm=f["ball_width_mm"], heel_width_mm=None,
                    arch_height_mm=f["arch_height_mm"], side=f["side"])  # fmt: skip
    holes = f["holes"] if f["kind"] != "impression" else 0.0
    return synth_scan(spec, kind=f["kind"], noise_mm=f["noise"], hole_fraction=holes, rotation="random",
                      seed=f["seed"])  # fmt: skip


def run_captures(n_whole: int, n_damaged: int, seed: int) -> list[tuple[str, int, str]]:
    """Whole feet must pass the capture checks (measured right, side right); damaged ones be refused."""
    import numpy as np

    from orthogen.errors import OrthogenError
    from orthogen.foot.measure_scan import MeasureOptions, measure_scan
    from tests import damaged_captures as dc

    rows = []
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "scan.stl"
        outcome: collections.Counter = collections.Counter()
        for f in _random_feet(n_whole, seed):
            mesh, truth = _whole_foot(f)
            mesh.export(path)
            try:
                foot = measure_scan(path, MeasureOptions(require_side=True))
            except OrthogenError as err:
                outcome[f"refused: {_kind(err.problem)}"] += 1
                continue
            error = abs(foot.measurements.foot_length_mm - truth["foot_length_mm"])
            ok_len = error <= 2 + 0.02 * f["length_mm"]
            outcome["measured right" if ok_len and foot.side == f["side"] else "MEASURED WRONG"] += 1
        real = sorted((ROOT.parent / "shared" / "foot_scans").glob("*/*.[sSoOpP][tTbBlL][lLjJyY]"))
        for p in real:
            try:
                given = 270.0 if "polycron" in p.name else None  # the unscaled imprint needs its length
                opts = MeasureOptions(foot_length_mm=given, require_side=True)
                measure_scan(p, opts)
                outcome["real scan measured"] += 1
            except OrthogenError as err:
                outcome[f"REAL SCAN refused: {_kind(err.problem)}"] += 1
        text = "; ".join(f"{k}: {v}" for k, v in outcome.most_common())
        rows.append((f"whole feet through the capture checks ({n_whole} random synthetic, {len(real)} real)",
                     sum(outcome.values()), text))  # fmt: skip
        damaged: collections.Counter = collections.Counter()
        rng = np.random.default_rng(seed + 1)
        for _ in range(n_damaged):
            length = float(rng.integers(150, 341))
            side = str(rng.choice(["left", "right"]))
            full, shell = dc.foot(length, "full_foot", side), dc.foot(length, "plantar_shell", side)
            turn = float(rng.uniform(3, 12))
            variants = {
                "heel cut 15 %": dc.cut_heel(full, 0.15),
                "heel cut 20 % (shell)": dc.cut_heel(shell, 0.2),
                "heel cut 30 %": dc.cut_heel(full, 0.3),
                "heel cut 15 %, capped": dc.cut_heel(full, 0.15, True),
                "heel cut 20 %, capped": dc.cut_heel(full, 0.2, True),
                "two copies apart": dc.doubled(full, (float(rng.uniform(20, 80)), 0.0, 0.0)),
                "two copies turned": dc.doubled(full, turn_deg=turn),
                "two copies stacked": dc.doubled(full, (0.0, 0.0, float(rng.uniform(60, 200)))),
                "doubled sole, one surface": dc.doubled(shell, turn_deg=turn, connected=True),
                "float32 far away": dc.far_float32_stl(full, float(rng.choice([3e7, 1e8, 5e8]))),
            }  # fmt: skip
            for name, mesh in variants.items():
                if isinstance(mesh, bytes):
                    path.write_bytes(mesh)
                else:
                    mesh.export(path)
                try:
                    measure_scan(path, MeasureOptions(require_side=True))
                    damaged[f"ACCEPTED: {name}"] += 1
                except OrthogenError:
                    damaged["refused"] += 1
        text = "; ".join(f"{k}: {v}" for k, v in damaged.most_common())
        rows.append((f"damaged captures from {n_damaged} random synthetic feet (10 kinds of damage each)",
                     sum(damaged.values()), text))  # fmt: skip
    return rows


def run_safety_tests() -> list[tuple[str, int, str]]:
    """The scenario tests of the output folder, order files, CLI edges and wrong-device refusals."""
    import subprocess

    groups = [
        ("output folder: look-alike user files through killed, finished and forced batches; foreign order "
         "folders and summaries; stale summary; CSV injection; Ctrl-C; all-or-nothing design; full and "
         "read-only tmpfs, -o under a file, dangling link", ["tests/test_output_folder.py"]),
        ("order files: columns twice, Unicode line separators, missing columns, ids (bytes, bidi, "
         "zero-width, NFD), look-alike ids, side vs column, override messages", ["tests/test_orders.py", "-k",
         "twice or separators or missing or ids_that or look_alike or contradicting or patching"]),
        ("CLI edges: --version, one-line usage errors, help without Python types",
         ["tests/test_cli.py", "-k", "version or usage or help"]),
        ("never a wrong device: --side / side: / column contradicting the scan, mirror, template as --rx, "
         "leg-length pair, batch hints", ["tests/test_never_wrong_device.py"]),
    ]  # fmt: skip
    rows = []
    for name, args in groups:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-n", "0", "-rA", *args],
                              cwd=ROOT, capture_output=True, text=True)  # fmt: skip
        lines = proc.stdout.splitlines()
        outcomes = ("PASSED", "FAILED", "SKIPPED")
        counts = collections.Counter(ln.split()[0] for ln in lines if ln.startswith(outcomes))
        skipped = [ln.split(" - ", 1)[-1][:120] for ln in lines if ln.startswith("SKIPPED")]
        text = f"as expected: {counts['PASSED']}"
        if counts["FAILED"]:
            first = next(ln for ln in lines if ln.startswith("FAILED")).split("::")[-1][:100]
            text += f"; **FAILED: {counts['FAILED']}** (first: {first})"
        if skipped:
            text += f"; skipped: {len(skipped)} ({skipped[0]})"
        rows.append((name, sum(counts.values()), text))
    return rows


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
    parts = ["props", "corpus", "captures", "safety", "fuzz", "determinism"]
    ap.add_argument("--skip", nargs="*", default=[], choices=parts)
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
        for group in ("scan", "damaged capture", "prescription"):
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
    if "captures" not in args.skip:
        for name, n, text in run_captures(12 if args.quick else 40, 3 if args.quick else 8, args.seed):
            unexpected += ("WRONG" in text) + ("ACCEPTED" in text) + ("REAL SCAN" in text)
            print(f"| {name} | {n} | {text} |")
    if "safety" not in args.skip:
        for name, n, text in run_safety_tests():
            unexpected += "FAILED" in text
            print(f"| {name} | {n} | {text} |")
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
