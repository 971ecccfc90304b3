"""The clinician report: self-contained HTML with the facts a clinician checks, rendered by a real browser."""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from orthogen.device.design import design_scan
from orthogen.output.clinician_report import render_report
from orthogen.rx.load import load_prescription

REPO = Path(__file__).resolve().parents[1]
SCANS = REPO / "foot_scans"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ORDER = {
    "order_id": "R-77",
    "patient_ref": "PAT <b>&amp; 'x'",
    "quantity": 2,
    "notes": "right leg short",
    "prescription": "example_rx.yaml",
    "overrides": ["left.heel_lift_mm=3", "right.heel_lift_mm=9"],
}


@pytest.fixture(scope="module")
def pair():
    """A left and a right device with heel lifts 3 and 9 mm, and their pictures."""
    from orthogen.output.preview import pair_png, preview_png

    rx = REPO / "templates" / "example_rx.yaml"
    feet = (("left", "synth_left_full_foot.stl", 3), ("right", "synth_right_plantar_shell.obj", 9))
    designs = {}
    for side, scan, lift in feet:
        prescription = load_prescription(rx, [f"side={side}", f"heel_lift_mm={lift}"])
        designs[side] = design_scan(SCANS / scan, prescription)
    previews = {s: preview_png(d) for s, d in designs.items()}
    return designs, previews, pair_png(designs["left"], designs["right"])


@pytest.fixture(scope="module")
def pair_html(pair, tmp_path_factory) -> Path:
    designs, previews, picture = pair
    path = tmp_path_factory.mktemp("report") / "R-77_report.html"
    text = render_report(ORDER, designs, previews, picture, files=["R-77_left.stl"])
    path.write_text(text, encoding="utf-8")
    return path


def test_report_is_self_contained(pair_html):
    text = pair_html.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text
    external = (r"<script", r"<link", r"https?://", r"url\(", r"src=\"(?!data:image/png;base64,)", r"href=")
    for pattern in external:
        assert not re.search(pattern, text), pattern
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 3  # the pair, and each foot in detail
    assert all(base64.b64decode(img).startswith(b"\x89PNG\r\n\x1a\n") for img in images)


def test_report_content(pair, pair_html):
    designs = pair[0]
    text = pair_html.read_text(encoding="utf-8")
    assert "PAT &lt;b&gt;&amp;amp; &#x27;x&#x27;" in text and "<b>&amp;" not in text  # escaped
    assert "R-77" in text and "Quantity <b>2</b>" in text
    foot = designs["left"].report()["foot"]
    assert f"{foot['foot_type']} arch" in text
    assert "Foot type</b>: arch_index &lt;= 0.21 high" in text  # the definition
    assert re.search(r"<td>Heel lift \(mm\)</td><td>3 mm</td><td>9 mm</td>", text)
    assert '<tr class="diff"><td>Heel lift (mm)</td>' in text
    assert "heel_lift_mm = 9 is above the ~6 mm" in text and "<b>Right:</b>" in text
    assert text.count("mark pass") >= 12 and "mark fail" not in text
    assert "Output checks passed" in text
    for side in ("left", "right"):  # every clinical check, measured on the mesh, with its prescription
        for item in designs[side].report()["intent"]:
            assert html.escape(item["check"][:1].upper() + item["check"][1:]) in text
    assert "Heel seat frontal angle against the floor" in text and "(Rx 0 ± 0.5)" in text


def test_single_foot_report_renders_its_own_pictures(pair):
    designs = pair[0]
    text = render_report({"order_id": "S-1", "patient_ref": "P"}, {"left": designs["left"]})
    assert len(re.findall(r"data:image/png;base64,", text)) == 1
    assert "<th>Left</th>" in text and "<th>Right</th>" not in text
    assert ("No warnings" in text) != ("Warnings (" in text)


def test_report_is_deterministic(pair):
    designs, previews, picture = pair
    a = render_report(ORDER, designs, previews, picture)
    assert a == render_report(ORDER, designs, previews, picture)


def test_report_renders_in_headless_chromium(pair_html, tmp_path):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get update && apt-get install -y chromium)")
    shot = tmp_path / "report.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,1800",
        f"file://{pair_html}",
    ]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert shot.is_file(), "chromium wrote no screenshot"
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[:2] == (1800, 1200)
    grey = img[..., :3].mean(axis=2)
    assert (grey < 0.3).mean() > 0.002  # dark text was drawn
    colourful = np.ptp(img[..., :3], axis=2) > 0.3
    assert colourful.mean() > 0.01  # the pictures (thickness colour map) are visible
