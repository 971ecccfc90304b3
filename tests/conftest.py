"""Shared test fixtures: where the real scans live, and synthetic scans written to disk."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_SCANS = ROOT.parent / "shared" / "foot_scans"
BUNDLED_SCANS = ROOT / "foot_scans"


def real_scan(relpath: str) -> Path:
    """Path of a real scan in ../shared/foot_scans, or skip the test when that folder is absent."""
    p = SHARED_SCANS / relpath
    if not SHARED_SCANS.is_dir():
        pytest.skip(f"{SHARED_SCANS} not found: real-scan tests need ../shared/foot_scans beside the project")
    if not p.exists():
        pytest.skip(f"{p} not found in ../shared/foot_scans")
    return p


@pytest.fixture
def write_synth(tmp_path):
    """Write a synthetic scan to tmp_path and return (path, truth)."""
    from orthogen.synth.model import synth_scan

    def make(spec, name="scan.stl", **kw):
        mesh, truth = synth_scan(spec, **kw)
        path = tmp_path / name
        mesh.export(path)
        return path, truth

    return make
