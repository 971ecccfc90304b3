"""Print production sliced for real by PrusaSlicer's CLI (Debian's prusa-slicer, installed by .ci/run).

The 3MF is read back two ways: parsed here independently of orthogen's reader (each zone's volume must
hold its landmark), and loaded and re-saved by PrusaSlicer (its modifier volumes and settings must
survive). A softer zone prints with less filament than a firm one, an object off the bed fails the
slice instead of vanishing, a plate of a six-pair batch slices with every device on it, and a batch
with ``--slice --plates`` reports time, filament and cost per order. Slices are few: each takes seconds.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import zipfile
from functools import cache

import numpy as np
import pytest
import trimesh

from orthogen.device.design import design_scan
from orthogen.printing.production import PrintOptions, device_print, pack_plates, print_object, slice_devices
from orthogen.printing.slicer import SlicerError, find_slicer, slice_plate
from orthogen.printing.threemf import write_plate
from orthogen.rx.load import load_prescription
from tests.conftest import BUNDLED_SCANS

pytestmark = pytest.mark.skipif(
    find_slicer() is None,
    reason="prusa-slicer not installed (.ci/run installs it: apt-get install prusa-slicer)",
)
EXAMPLE_RX = BUNDLED_SCANS.parent / "templates" / "example_rx.yaml"
LEFT, RIGHT = BUNDLED_SCANS / "synth_left_full_foot.stl", BUNDLED_SCANS / "synth_right_plantar_shell.obj"


@cache
def _design(scan, *sets: str):
    return design_scan(scan, load_prescription(None, list(sets)))


def _volumes(path) -> dict[str, tuple[str, trimesh.Trimesh, dict]]:
    """The 3MF's volumes by name: (type, mesh in bed coordinates, settings), parsed from the package."""
    with zipfile.ZipFile(path) as z:
        model = z.read("3D/3dmodel.model").decode()
        cfg = z.read("Metadata/Slic3r_PE_model.config").decode()
    verts = np.array(re.findall(r'<vertex x="([^"]+)" y="([^"]+)" z="([^"]+)"', model), float)
    tris = np.array(re.findall(r'<triangle v1="(\d+)" v2="(\d+)" v3="(\d+)"', model), int)
    item = re.search(r'<item objectid="1"[^>]*?(?:transform="([^"]+)")?[^>]*/>', model)
    if item and item.group(1):  # PrusaSlicer stores the placement as the build item's transform
        m = np.array(item.group(1).split(), float).reshape(4, 3)
        verts = verts @ m[:3] + m[3]
    out = {}
    for a, b, body in re.findall(r'<volume firstid="(\d+)" lastid="(\d+)">(.*?)</volume>', cfg, re.S):
        meta = dict(re.findall(r'key="([^"]+)" value="([^"]*)"', body))
        f = tris[int(a) : int(b) + 1]
        out[meta["name"]] = (meta["volume_type"], trimesh.Trimesh(verts, f, process=True), meta)
    return out


def _to_bed(report, p, z):
    a = np.radians(report["placement"]["angle_deg"])
    dx, dy = report["placement"]["offset_mm"]
    x, y = p
    return [x * np.cos(a) - y * np.sin(a) + dx, x * np.sin(a) + y * np.cos(a) + dy, z]


def test_3mf_zones_hold_their_landmarks_and_prusaslicer_keeps_the_modifiers(tmp_path):
    d = _design(LEFT, "construction=shell", "template=heel_pain")
    dp = device_print(d, "RX-7_left", PrintOptions.make(bed="250x210"))
    path = dp.write(tmp_path / "RX-7_left.3mf")
    vols = _volumes(path)
    assert list(vols) == ["RX-7_left", "rearfoot", "heel_cushion", "arch", "forefoot", "posts"]
    assert vols["RX-7_left"][0] == "ModelPart" and {v[0] for k, v in vols.items() if k != "RX-7_left"} == {
        "ParameterModifier"
    }
    assert vols["heel_cushion"][2]["fill_density"] == "10%"  # heel_pain: a soft heel cushion
    # each landmark (from the foot's report, output frame) lies in its own zone's volume on the bed
    lm = d.report()["device"]["landmarks_mm"]
    mid = 0.5 * float(d.vertices[:, 2].max())
    where = {
        "heel_cushion": [lm["heel_centre"]],
        "arch": [lm["arch_apex"]],
        "forefoot": [lm["met_head_1"], lm["met_head_5"]],
    }
    for zone, points in where.items():
        for p in points:
            q = np.array([_to_bed(dp.report, p, mid)])
            inside = {k: bool(v[1].contains(q)[0]) for k, v in vols.items() if v[0] == "ParameterModifier"}
            assert inside.pop(zone), (zone, p)
            assert not any(v for k, v in inside.items() if k != "posts"), (zone, inside)
    # the post stands on the bed under the heel, behind the arch apex
    post = vols["posts"][1]
    apex = _to_bed(dp.report, lm["arch_apex"], 0.0)
    heel = _to_bed(dp.report, lm["heel_centre"], 0.0)
    assert post.bounds[0][2] < 0.0 and np.linalg.norm(post.centroid[:2] - heel[:2]) < np.linalg.norm(
        np.array(apex[:2]) - heel[:2]
    )
    # PrusaSlicer loads the object with its modifier volumes and settings and saves them back
    again = tmp_path / "again.3mf"
    proc = subprocess.run(
        [find_slicer(), "--export-3mf", "--dont-arrange", "--output", str(again), str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    back = _volumes(again)
    assert list(back) == list(vols)
    for name, (kind, mesh, meta) in vols.items():
        assert back[name][0] == kind and len(back[name][1].faces) == len(mesh.faces)
        for key in ("fill_density", "fill_pattern", "perimeters", "top_solid_layers", "bottom_solid_layers"):
            assert back[name][2].get(key) == meta.get(key), (name, key)
    assert np.allclose(back["heel_cushion"][1].bounds, vols["heel_cushion"][1].bounds, atol=0.01)


def test_a_softer_zone_prints_less_filament_than_a_firm_one():
    base = _design(LEFT, "length=three_quarter")
    opts = PrintOptions.make(bed="250x210", slice=True)
    results = {}
    for level in ("soft", "firm"):
        rx = load_prescription(None, ["length=three_quarter", f"stiffness.heel_cushion={level}"])
        d = dataclasses.replace(base, prescription=rx)
        results[level] = slice_devices({level: device_print(d, f"heel_{level}", opts)}, {level: d}, opts)[
            level
        ]
    soft, firm = (results[k].report["slice"] for k in ("soft", "firm"))
    assert soft["filament_g"] < firm["filament_g"] and soft["print_time_s"] < firm["print_time_s"]
    assert soft["objects"] == ["heel_soft"]
    assert soft["cost"]["total"] == pytest.approx(
        soft["filament_g"] / 1000 * 82.0 + soft["print_time_s"] / 3600 * 1.5, abs=0.02
    )


def test_an_object_off_the_bed_fails_the_slice_instead_of_vanishing(tmp_path):
    d = _design(LEFT, "length=three_quarter")
    dp = device_print(d, "off_bed", PrintOptions.make(bed="250x210"))
    off = dataclasses.replace(dp, obj=dp.obj.transformed(0.0, 400.0, 0.0))
    path = write_plate(tmp_path / "off.3mf", [off.obj], dp.config, "off")
    with pytest.raises(SlicerError) as err:
        slice_plate(path, ["off_bed"])
    assert "off the 250 x 210 mm bed" in str(err.value) and str(path) in str(err.value)


def test_a_plate_of_a_six_pair_batch_slices_with_every_device_on_it(tmp_path):
    pair = [_design(s, "length=three_quarter") for s in (LEFT, RIGHT)]
    objs, heights = [], []
    zoned = [print_object(d, "device")[0] for d in pair]
    for i in range(6):
        for side, d, obj in zip(("left", "right"), pair, zoned, strict=True):
            objs.append(obj.renamed(f"S-10{i}_{side}"))
            heights.append(float(d.vertices[:, 2].max()))
    opts = PrintOptions.make(bed="250x210")
    plates = pack_plates(objs, heights, opts.printer)
    assert len(plates) == 6 and sorted(n for p, _ in plates for n in p.names) == sorted(o.name for o in objs)
    plate, placed = plates[0]
    config = device_print(pair[0], "x", opts).config
    path = write_plate(tmp_path / "plate_01.3mf", placed, config, "plate 1")
    res = slice_plate(path, plate.names)  # raises on any warning, error or missing object
    assert sorted(res.objects) == sorted(plate.names) and res.filament_g > 0


def test_batch_slices_every_order_and_packs_plates(tmp_path):
    from orthogen.lab.batch import run_batch

    orders = tmp_path / "orders.csv"
    orders.write_text(
        "order_id,patient_ref,left_scan,right_scan,prescription,overrides,quantity,formats\n"
        f"P-1,PAT-1,{LEFT},,{EXAMPLE_RX},template=heel_pain;length=three_quarter;met_pad=false;label=P-1,2,stl\n",
        encoding="utf-8",
    )
    opts = PrintOptions.make(bed="250x210", slice=True, plates=True, machine_price=2.0)
    res = run_batch(orders, tmp_path / "out", workers=1, print_options=opts.as_dict())
    row = res["rows"][0]
    assert row["status"] == "done", row["reason"]
    assert (
        row["material"] == "tpu_95a" and row["print_time_h"] > 0 and row["filament_g"] > 0 and row["cost"] > 0
    )
    report = json.loads((tmp_path / "out" / "P-1" / "P-1_left.json").read_text())
    assert report["print"]["slice"]["cost"]["machine_price_per_h"] == 2.0
    assert report["print"]["zones"]["heel_cushion"]["stiffness"] == "soft"
    html = (tmp_path / "out" / "P-1" / "P-1_report.html").read_text()
    assert "<h2>Printing</h2>" in html and "Zone: heel cushion" in html and "Print time" in html
    plates = res["batch"]["plates"]
    names = [o["name"] for p in plates["plates"] for o in p["objects"]]
    assert sorted(names) == ["P-1_left", "P-1_left_2"] and plates["failed"] == 0
    assert all(p["slice"]["filament_g"] > 0 for p in plates["plates"])
    assert (tmp_path / "out" / "plates" / plates["plates"][0]["file"]).is_file()
    summary = (tmp_path / "out" / "summary.csv").read_text().splitlines()
    assert summary[0].endswith("material,print_time_h,filament_m,filament_g,cost")


def test_a_shell_on_supports_fitted_to_the_tightest_bed_prints_on_it(tmp_path):
    """PrusaSlicer's supports reach past a shell's outline and its skirt goes round them: the bed fit
    must allow for both (a full-length shell packed 3 mm from the edge printed 2.5 mm off the bed)."""
    from orthogen.printing.plates import BED_MARGIN_MM
    from orthogen.printing.production import bed_footprint

    d = _design(LEFT, "construction=shell")
    obj = print_object(d, "tight")[0]
    assert obj.prusa.get("support_material") == "1"
    x0, y0, x1, y1 = bed_footprint(obj).bounds  # the packer's idea of the room it needs, laid along x
    bed = f"{x1 - x0 + 2 * BED_MARGIN_MM + 0.5:.1f}x{y1 - y0 + 2 * BED_MARGIN_MM + 0.5:.1f}"
    dp = device_print(d, "tight", PrintOptions.make(bed=bed))
    path = write_plate(tmp_path / "tight.3mf", [dp.obj], dp.config, "tight")
    res = slice_plate(path, ["tight"])  # raises when anything prints off the bed
    assert list(res.objects) == ["tight"]
