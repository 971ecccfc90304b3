"""The device stages one by one on exact arrays: regions, balance, construction, corrections, verify."""

from __future__ import annotations

import numpy as np
import pytest
from shapely import contains_xy
from shapely.geometry import Point, Polygon

from orthogen.device import balance as bal
from orthogen.device import construction as cons
from orthogen.device import corrections as corr
from orthogen.device.regions import Regions, frontal_angle, parabola_heads
from orthogen.device.template import end_line, trim_to_length
from orthogen.device.verify import Intent, IntentItem, edge_topology
from orthogen.errors import GeometryError
from orthogen.foot.heightmap import Grid

GRID = Grid((0.0, -60.0), 1.0, (280, 121))
X, Y = GRID.mesh()


def _regions(side: str = "left") -> Regions:
    s = -1.0 if side == "left" else 1.0
    return Regions.from_points(
        side=side,
        heel_centre=(40.0, 0.0),
        heel_half_width=32.0,
        met_head_1=(190.0, 38.0 * s),
        met_head_5=(166.0, -42.0 * s),
        sulcus=(215.0, 195.0),
        arch_apex=(110.0, 20.0 * s),
        length_mm=260.0,
    )


# --- regions ------------------------------------------------------------------------------------
def test_met_heads_lie_on_the_metatarsal_parabola_with_the_second_most_distal():
    heads = parabola_heads((190.0, -38.0), (166.0, 42.0))
    xs = [h[0] for h in heads]
    assert heads[0] == pytest.approx((190.0, -38.0)) and heads[4] == pytest.approx((166.0, 42.0))
    assert xs[1] == max(xs) and xs[0] == pytest.approx(xs[2])  # the formula 2 > 1 = 3 > 4 > 5
    assert xs[1] > xs[0] and xs[2] > xs[3] > xs[4]
    r = _regions()
    assert r.met_arc_x(np.array(r.met_heads[1][1])) == pytest.approx(r.met_heads[1][0])


@pytest.mark.parametrize("side", ["left", "right"])
def test_forefoot_band_lies_between_the_heads_behind_their_line(side):
    r = _regions(side)
    band = r.forefoot_band(GRID)
    assert band.any()
    xs, ys = X[band], Y[band]
    assert np.all(xs <= r.met_line_x(ys) - 1.9) and np.all(xs >= r.met_line_x(ys) - 12.1)
    lo, hi = sorted((r.met_head_1[1], r.met_head_5[1]))
    assert ys.min() > lo and ys.max() < hi
    seat = r.heel_seat(GRID)
    assert np.hypot(X[seat].mean() - 40.0, Y[seat].mean()) < 0.6  # centred on the heel centre
    assert r.medial_offset(np.array(40.0), np.array(r.medial_sign * 10.0)) == pytest.approx(10.0)


def test_weights_blend_from_rearfoot_to_forefoot_and_toes():
    r = _regions()
    assert r.forefoot_weight(np.array(40.0), np.array(0.0)) == 0.0
    assert r.forefoot_weight(np.array(170.0), np.array(0.0)) == 1.0
    assert (
        r.toe_weight(np.array(150.0), np.array(0.0)) == 0.0
        and r.toe_weight(np.array(230.0), np.array(0.0)) == 1.0
    )


# --- balance ------------------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("captured_heel,captured_fore", [(-8.0, -3.0), (6.0, 2.0), (0.0, 5.0)])
def test_twist_brings_both_planes_exactly_to_their_targets(side, captured_heel, captured_fore):
    r = _regions(side)
    ms = r.medial_sign
    lam = r.forefoot_weight(X, Y)
    slope = np.tan(np.radians(captured_heel)) * (1 - lam) + np.tan(np.radians(captured_fore)) * lam
    z = 3.0 + ms * Y * slope + 0.02 * (X - 100.0) ** 2 / 100.0  # a sagittal curve does not matter
    b = bal.plan_balance(
        z, GRID, r, rearfoot_post_deg=4.0, forefoot_post_deg="auto", balance_inversion_deg=2.0
    )
    assert b.heel_seat_captured_deg == pytest.approx(captured_heel, abs=1e-6)
    assert b.forefoot_to_rearfoot_deg == pytest.approx(captured_fore - captured_heel, abs=1e-6)
    out = z + bal.twist(GRID, r, b)
    assert frontal_angle(out, GRID, r.heel_seat(GRID), ms) == pytest.approx(6.0, abs=0.01)  # 2 + 4
    assert frontal_angle(out, GRID, r.forefoot_band(GRID), ms) == pytest.approx(
        2.0 + b.forefoot_to_rearfoot_deg, abs=0.01
    )
    lifted = z + bal.twist(GRID, r, b, lift_only=True)
    assert frontal_angle(lifted, GRID, r.heel_seat(GRID), ms) == pytest.approx(6.0, abs=0.01)
    assert np.all(bal.twist(GRID, r, b, lift_only=True) >= -1e-9)  # only adds material


def test_seating_sets_heel_and_ball_on_the_footbed_and_never_below():
    r = _regions()
    z = np.where(X < 100, 5.0, 2.0) - 3.0 * (np.abs(Y - 30) < 3) * (X > 120) * (X < 140)
    seated, g_rear, g_fore = bal.seat_on_footbed(z, GRID, r, r.heel_seat(GRID), r.forefoot_band(GRID))
    assert (g_rear, g_fore) == pytest.approx((-5.0, -2.0))
    assert seated[r.heel_seat(GRID)].min() == pytest.approx(0.0) and seated.min() == 0.0


def test_footbed_follows_the_shoe_drop():
    r = _regions()
    bed = bal.footbed(GRID, r, 10.0)
    assert bed[40, 60] == pytest.approx(10.0) and bed[200, 60] == pytest.approx(0.0)
    assert np.all(np.diff(bed[:, 60]) <= 1e-9)  # falls from heel to ball


def test_forefoot_down_flattens_a_rounded_forefoot_but_keeps_its_tilt():
    r = _regions("right")
    tilt = np.tan(np.radians(3.0)) * Y
    yc = 0.5 * (r.met_head_1[1] + r.met_head_5[1])
    z = 2.0 + tilt + 0.004 * (Y - yc) ** 2  # a convex forefoot, tilted 3 deg
    out = bal.forefoot_down(z, GRID, r, r.forefoot_band(GRID))
    ahead = X > r.met_line_x(Y) - 10
    resid = (out - tilt)[ahead & (np.abs(Y) < 50)]
    assert resid.max() - resid.min() < 2.0  # flat within the rise + knee
    assert frontal_angle(out, GRID, r.forefoot_band(GRID), 1.0) == pytest.approx(3.0, abs=0.3)


# --- construction -------------------------------------------------------------------------------
def test_shell_underside_is_one_thickness_below_a_plane_and_follows_a_wall():
    flat = np.full(GRID.shape, 10.0)
    inside = np.ones(GRID.shape, bool)
    under = cons.shell_underside(flat, inside, GRID, 3.0)
    assert under[100, 60] == pytest.approx(7.0)
    slope = 10.0 + 0.5 * X  # a 26.6 deg wall: the normal offset is 3 / cos
    under = cons.shell_underside(slope, inside, GRID, 3.0)
    assert slope[100, 60] - under[100, 60] == pytest.approx(3.0 / np.cos(np.arctan(0.5)), abs=0.1)


def test_edge_caps_feather_and_skive():
    poly = Polygon([(0, -50), (200, -50), (200, 50), (0, 50)])
    thick = np.full(GRID.shape, 3.0)
    toe = (X > 150).astype(float)
    cap = np.minimum(*cons.edge_caps(GRID, poly, None, toe, np.zeros(GRID.shape), thick, skived=False))
    x_in = np.arange(150, 200)
    prof = cap[150:200, 60]
    assert np.all(prof[x_in >= 197] <= 1.5) and prof[x_in == 170][0] >= 3.0  # full thickness 30 mm in
    line = np.array([[120.0, -60.0], [120.0, 60.0]])
    cut = Polygon([(0, -50), (120, -50), (120, 50), (0, 50)])  # the outline is trimmed at its end line
    cap = np.minimum(
        *cons.edge_caps(GRID, cut, line, np.zeros(GRID.shape), np.zeros(GRID.shape), thick, skived=True)
    )
    prof = cap[100:121, 60]  # x = 100 .. 120
    assert prof[-1] <= 1.5 and prof[-10] < 3.0 and prof[0] >= 3.0  # tapers over more than 10 mm
    # the cells inside the outline, when the caller has them, give the same caps
    known = cons.edge_caps(GRID, cut, line, toe, toe, thick, True, contains_xy(cut, X, Y))
    for a, b in zip(known, cons.edge_caps(GRID, cut, line, toe, toe, thick, True), strict=True):
        assert np.array_equal(a, b)


def test_trimline_is_a_fair_curve_without_notches():
    cand = Point(140, 0).buffer(60).intersection(Polygon([(20, -45), (260, -45), (260, 45), (20, 45)]))
    rise = np.where((np.abs(Y) > 30) & (np.abs(X - 140) < 6), 1.0, -1.0)  # a 12 mm long notch of foot side
    out = cons.device_outline(GRID, rise, cand, cand.buffer(5), np.zeros(GRID.shape[0]), 3.0)
    # the narrow notch is bridged by the smoothing: no point of the contact's edge is 15 mm in
    assert out.contact.buffer(0.5).contains(Point(140, 28)) and out.contact.area > 0.85 * cand.area
    known = cons.device_outline(
        GRID, rise, cand, cand.buffer(5), np.zeros(GRID.shape[0]), 3.0, contains_xy(cand, X, Y)
    )
    assert known.polygon.equals_exact(out.polygon, 0.0) and known.contact.equals_exact(out.contact, 0.0)


def test_trim_to_length_rounds_the_corners():
    r = _regions()
    poly = Polygon([(0, -50), (270, -50), (270, 50), (0, 50)])
    cut = trim_to_length(poly, end_line("three_quarter", r, 6.0))
    assert cut.bounds[2] <= r.met_line_x(np.array(r.met_head_1[1])) - 6.0 + 1e-6
    assert cut.area < poly.area and not cut.equals(poly)
    assert end_line("full", r, 6.0) is None


def test_thicknesses_shell_forefoot_is_the_extension():
    from orthogen.device.template import TemplateGeometry
    from orthogen.rx.model import Prescription

    g = TemplateGeometry()
    assert cons.thicknesses(Prescription(), g) == (3.0, 3.0, 2.0)
    assert cons.thicknesses(Prescription(construction="shell", top_cover_mm=1.0), g) == (4.0, 3.0, 3.0)


# --- corrections --------------------------------------------------------------------------------
def test_corrections_sit_at_their_landmarks():
    r = _regions()
    cut = corr.first_mpj_cutout(X, Y, r, 2.0, 14.0)
    w = -cut
    centre = ((w * X).sum() / w.sum(), (w * Y).sum() / w.sum())
    assert centre == pytest.approx(r.met_head_1, abs=0.6) and cut.min() == pytest.approx(-2.0, abs=0.01)
    pad = corr.met_pad(X, Y, r, 5.0, 30.0, 22.0, 8.0)
    i = np.unravel_index(np.argmax(pad), pad.shape)
    cx, cy = corr.met_pad_centre(r, 30.0, 8.0)
    assert (X[i], Y[i]) == pytest.approx((cx, cy), abs=0.6)
    assert X[pad > 0].max() <= r.met_arc_x(np.array(cy)) - 8.0 + 0.6  # distal edge 8 mm behind the heads
    skive = corr.medial_heel_skive(X, Y, r, 4.0)
    assert skive[40, 60] == 0.0 and skive[40, 60 + int(r.medial_sign * 32)] == pytest.approx(4.0)
    lift = corr.heel_lift(X, Y, r, 6.0)
    assert lift[40, 60] == 6.0 and lift[200, 60] == 0.0


# --- verify -------------------------------------------------------------------------------------
def test_intent_items_pass_and_fail_by_their_kind():
    ok = IntentItem("a", "k", 4.0, 4.3, 0.5, "deg")
    assert ok.passed and not IntentItem("a", "k", 4.0, 4.6, 0.5, "deg").passed
    assert IntentItem("b", "k", 1.5, 1.4, 0.05, "mm", kind="max").passed
    assert not IntentItem("b", "k", 1.5, float("nan"), 0.05, "mm", kind="max").passed
    assert IntentItem("c", "k", 10.0, 9.0, 0.0, "mm", kind="min").passed is False
    with pytest.raises(GeometryError, match=r"met_pad\.height_mm: met pad height measured 2\.00"):
        Intent((ok, IntentItem("met pad height", "met_pad.height_mm", 5.0, 2.0, 0.5, "mm"))).require()


def test_edge_topology_sees_an_open_or_flipped_mesh():
    tet = np.array([[0, 2, 1], [0, 1, 3], [1, 2, 3], [0, 3, 2]])
    assert edge_topology(tet) == (True, True)
    assert edge_topology(tet[:3]) == (False, True)
    flipped = tet.copy()
    flipped[0] = flipped[0, ::-1]
    assert edge_topology(flipped) == (True, False)
