"""A small raster canvas for the device pictures: numpy for the colour maps, Pillow to draw, zlib to encode.

Pixels, not points: a :class:`Canvas` is an RGB image of a fixed size with a ``scale`` (1.0 at
100 dpi) that every line width, marker and font size is multiplied by. A :class:`Panel` maps data
coordinates (mm) into a pixel box of the canvas, optionally with equal aspect and an inverted x
axis. Every text drawn is recorded with the panel it belongs to and its pixel box, so tests can
read what was written where without parsing pixels. The same calls give the same bytes (the PNG
holds no time or software chunk).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: viridis at 17 evenly spaced stops (matplotlib's table, rounded to bytes), interpolated linearly.
VIRIDIS_STOPS = np.array(
    [
        [68, 1, 84], [72, 24, 106], [71, 45, 123], [66, 64, 134], [59, 82, 139], [51, 99, 141],
        [44, 114, 142], [38, 130, 142], [33, 145, 140], [31, 160, 136], [40, 174, 128], [63, 188, 115],
        [94, 201, 98], [132, 212, 75], [173, 220, 48], [216, 226, 25], [253, 231, 37],
    ],
    float,
)  # fmt: skip
#: Font sizes are given in points, as on a page printed at 100 dpi.
PX_PER_PT = 100.0 / 72.0

RGB = tuple[int, int, int]
BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)


def hex_rgb(colour: str) -> RGB:
    """``"#1f4e79"`` -> (31, 78, 121)."""
    c = colour.lstrip("#")
    return (int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16))


def grey(level: float) -> RGB:
    """A grey from 0 (black) to 1 (white)."""
    v = round(255 * level)
    return (v, v, v)


@cache
def viridis_lut() -> np.ndarray:
    """(256, 3) uint8 colour table of viridis."""
    t = np.linspace(0.0, 1.0, 256)
    stops = np.linspace(0.0, 1.0, len(VIRIDIS_STOPS))
    cols = [np.interp(t, stops, VIRIDIS_STOPS[:, k]) for k in range(3)]
    return np.rint(np.stack(cols, axis=1)).astype(np.uint8)


def colourise(values: np.ndarray, vmin: float, vmax: float) -> tuple[np.ndarray, np.ndarray]:
    """RGB (…, 3) uint8 of ``values`` on viridis between ``vmin`` and ``vmax``, and where they are finite."""
    ok = np.isfinite(values)
    span = max(vmax - vmin, 1e-12)
    idx = np.clip(np.nan_to_num((values - vmin) / span * 255.0, nan=0.0), 0, 255).astype(np.intp)
    return viridis_lut()[idx], ok


@cache
def _font_file(bold: bool) -> str | None:
    """DejaVu Sans from matplotlib's data folder (found without importing matplotlib)."""
    spec = find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / name
    return str(path) if path.is_file() else None


@cache
def font(px: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A font of ``px`` pixels (DejaVu Sans; Pillow's own font when it cannot be found)."""
    path = _font_file(bold)
    if path is not None:
        return ImageFont.truetype(path, px)
    return ImageFont.load_default(px)


@lru_cache(maxsize=4096)
def _glyphs(s: str, px: int, bold: bool, anchor: str) -> tuple[Image.Image, int, int]:
    """``s`` rendered as a coverage mask with a one-pixel clear margin, and the offset of its top
    left corner from the anchor point (pixels). Cached: tick labels, units and captions recur on
    every picture, and Pillow lays out and rasterises each text anew (~0.1 ms)."""
    f = font(px, bold)
    x0, y0, x1, y1 = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), s, font=f, anchor=anchor)
    tile = Image.new("L", (int(x1 - x0) + 2, int(y1 - y0) + 2), 0)
    ImageDraw.Draw(tile).text((1 - x0, 1 - y0), s, font=f, fill=255, anchor=anchor)
    return tile, int(x0) - 1, int(y0) - 1


@dataclass(frozen=True)
class Text:
    """A text drawn on a canvas: its panel, string and pixel box (x0, y0, x1, y1; y down)."""

    panel: str
    text: str
    box: tuple[float, float, float, float]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


class Canvas:
    """An RGB picture of ``width`` x ``height`` pixels; sizes given at 100 dpi are multiplied by ``scale``."""

    def __init__(self, width: int, height: int, scale: float = 1.0) -> None:
        self.scale = scale
        self.image = Image.new("RGB", (int(width), int(height)), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.texts: list[Text] = []
        self.panels: dict[str, Panel] = {}

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def px(self, v: float) -> float:
        """A length given at 100 dpi, in this canvas's pixels."""
        return v * self.scale

    def text(
        self,
        xy: tuple[float, float],
        s: str,
        pt: float = 8.0,
        *,
        anchor: str = "la",
        fill: RGB = BLACK,
        bold: bool = False,
        panel: str = "",
        rotate: bool = False,
    ) -> Text:
        """Draw ``s`` at pixel ``xy`` (Pillow anchor: "la" left-ascender, "mm" middle, ...); recorded."""
        px = max(4, round(pt * PX_PER_PT * self.scale))
        if rotate:  # reading upward, centred on xy
            tile = _glyphs(s, px, bold, "lt")[0].transpose(Image.Transpose.ROTATE_90)
            left, top = round(xy[0] - tile.width / 2), round(xy[1] - tile.height / 2)
            self.image.paste(fill, (left, top, left + tile.width, top + tile.height), tile)
            box = (left, top, left + tile.width, top + tile.height)
        else:  # at the nearest whole pixel
            tile, dx, dy = _glyphs(s, px, bold, anchor)
            left, top = round(xy[0]) + dx, round(xy[1]) + dy
            self.image.paste(fill, (left, top, left + tile.width, top + tile.height), tile)
            box = (left + 1, top + 1, left + tile.width - 1, top + tile.height - 1)
        t = Text(panel, s, tuple(float(b) for b in box))
        self.texts.append(t)
        return t

    def text_width(self, s: str, pt: float, bold: bool = False) -> float:
        f = font(max(4, round(pt * PX_PER_PT * self.scale)), bold)
        return float(self.draw.textlength(s, font=f))

    def paste_rgb(self, rgb: np.ndarray, mask: np.ndarray, left: int, top: int) -> None:
        """Paste an (h, w, 3) uint8 array where ``mask`` is true, top-left corner at pixel (left, top)."""
        if rgb.size == 0:
            return
        tile = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
        self.image.paste(tile, (left, top), Image.fromarray(mask.astype(np.uint8) * 255, "L"))

    def png(self) -> bytes:
        """The picture as PNG bytes (no metadata: the same picture gives the same bytes)."""
        return png_rgb(np.asarray(self.image))


def png_rgb(rgb: np.ndarray, level: int = 3) -> bytes:
    """An (h, w, 3) uint8 picture as a PNG file: 8-bit RGB, no row filter, one zlib stream, no other
    chunk (so the same pixels give the same bytes).

    Pillow's encoder tries every row filter on every row, which costs 3 times as long as zlib here
    (21 ms against 7 ms for a 1300 x 900 preview) for files the same size (107 and 112 kB).

    Examples
    --------
    >>> png_rgb(np.zeros((2, 3, 3), np.uint8))[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    h, w, _ = rgb.shape
    rows = np.empty((h, 1 + 3 * w), np.uint8)
    rows[:, 0] = 0  # filter type "None" on every row
    rows[:, 1:] = np.ascontiguousarray(rgb, np.uint8).reshape(h, 3 * w)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8 bits, truecolour, deflate, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + chunk(b"IEND", b"")
    )


def nice_step(span: float, target: int = 6) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-9) / target
    mag = 10.0 ** np.floor(np.log10(raw))
    return float(next(m * mag for m in (1.0, 2.0, 5.0, 10.0) if m * mag >= raw))


class Panel:
    """A data rectangle ``xlim`` x ``ylim`` drawn into the pixel box ``box`` (x0, y0, x1, y1) of a canvas.

    ``equal``: one mm is as long along x as along y (the box shrinks about its centre to fit).
    ``xlim`` may run high to low (an inverted axis: a section seen from behind).
    """

    def __init__(
        self,
        canvas: Canvas,
        name: str,
        box: tuple[float, float, float, float],
        xlim: tuple[float, float],
        ylim: tuple[float, float],
        equal: bool = False,
    ) -> None:
        x0, y0, x1, y1 = box
        if equal:
            sx = (x1 - x0) / abs(xlim[1] - xlim[0])
            sy = (y1 - y0) / abs(ylim[1] - ylim[0])
            s = min(sx, sy)
            w, h = s * abs(xlim[1] - xlim[0]), s * abs(ylim[1] - ylim[0])
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            x0, x1, y0, y1 = cx - w / 2, cx + w / 2, cy - h / 2, cy + h / 2
        self.canvas, self.name = canvas, name
        self.box = (float(x0), float(y0), float(x1), float(y1))
        self.xlim, self.ylim = (float(xlim[0]), float(xlim[1])), (float(ylim[0]), float(ylim[1]))
        canvas.panels[name] = self

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    def to_px(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates of data points (y up in data, down in pixels)."""
        x0, y0, x1, y1 = self.box
        px = x0 + (np.asarray(x, float) - self.xlim[0]) / (self.xlim[1] - self.xlim[0]) * (x1 - x0)
        py = y1 - (np.asarray(y, float) - self.ylim[0]) / (self.ylim[1] - self.ylim[0]) * (y1 - y0)
        return px, py

    def _runs(self, x, y) -> list[np.ndarray]:
        """Pixel polylines of the finite stretches of (x, y), clipped loosely to the panel."""
        px, py = self.to_px(x, y)
        ok = np.isfinite(px) & np.isfinite(py)
        pts = np.column_stack([px, py])
        cuts = np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1
        return [seg for seg, good in zip(np.split(pts, cuts), np.split(ok, cuts), strict=True)
                if good.all() and len(seg) >= 2]  # fmt: skip

    def line(self, x, y, colour: RGB, width: float = 1.0, dash: tuple[float, float] | None = None) -> None:
        """A polyline (NaN breaks it); ``dash`` = (on, off) lengths in pixels at 100 dpi."""
        w = max(1, round(self.canvas.px(width)))
        for run in self._runs(x, y):
            if dash is None:
                self.canvas.draw.line(run.ravel().tolist(), fill=colour, width=w, joint="curve")
                continue
            for piece in _dashes(run, self.canvas.px(dash[0]), self.canvas.px(dash[1])):
                self.canvas.draw.line([v for p in piece for v in p], fill=colour, width=w)

    def fill_between(self, x, lo, hi, colour: RGB) -> None:
        """The area between two curves over x (finite stretches only)."""
        x, lo, hi = (np.asarray(a, float) for a in (x, lo, hi))
        ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
        cuts = np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1
        for idx in np.split(np.arange(len(x)), cuts):
            if len(idx) < 2 or not ok[idx].all():
                continue
            px, py = self.to_px(np.r_[x[idx], x[idx][::-1]], np.r_[hi[idx], lo[idx][::-1]])
            self.canvas.draw.polygon(list(zip(px.tolist(), py.tolist(), strict=True)), fill=colour)

    def marker(self, x: float, y: float, shape: str, size: float, fill: RGB, edge: RGB = BLACK) -> None:
        """A marker of ``size`` pixels (at 100 dpi) across: "o" circle, "^" triangle, "P" plus."""
        (px,), (py,) = self.to_px([x], [y])
        r = self.canvas.px(size) / 2
        w = max(1, round(self.canvas.px(1.0)))
        if shape == "o":
            self.canvas.draw.ellipse((px - r, py - r, px + r, py + r), fill=fill, outline=edge, width=w)
        elif shape == "^":
            pts = [(px, py - r), (px + r, py + 0.8 * r), (px - r, py + 0.8 * r)]
            self.canvas.draw.polygon(pts, fill=fill, outline=edge, width=w)
        else:  # a filled plus
            t = r / 3
            pts = [(px - t, py - r), (px + t, py - r), (px + t, py - t), (px + r, py - t), (px + r, py + t),
                   (px + t, py + t), (px + t, py + r), (px - t, py + r), (px - t, py + t), (px - r, py + t),
                   (px - r, py - t), (px - t, py - t)]  # fmt: skip
            self.canvas.draw.polygon(pts, fill=fill, outline=edge, width=w)

    def text(self, x: float, y: float, s: str, pt: float = 8.0, **kw) -> Text:
        """Text at data point (x, y); ``dx``/``dy`` (pixels at 100 dpi, y up) offset it."""
        dx, dy = kw.pop("dx", 0.0), kw.pop("dy", 0.0)
        (px,), (py,) = self.to_px([x], [y])
        return self.canvas.text(
            (float(px) + self.canvas.px(dx), float(py) - self.canvas.px(dy)), s, pt, panel=self.name, **kw
        )

    def label(self, fx: float, fy: float, s: str, pt: float = 8.0, **kw) -> Text:
        """Text at a fraction (fx, fy) of the panel box (0, 0 bottom left; 1, 1 top right)."""
        x0, y0, x1, y1 = self.box
        return self.canvas.text((x0 + fx * (x1 - x0), y1 - fy * (y1 - y0)), s, pt, panel=self.name, **kw)

    def image(self, rgb: np.ndarray, ok: np.ndarray, extent: tuple[float, float, float, float]) -> None:
        """A raster (rows along data x, columns along data y, as the grids are indexed) spanning
        ``extent`` = (x0, x1, y0, y1) of data, nearest neighbour; cells where ``ok`` is false stay clear.

        Pillow maps every pixel centre of the panel to its grid cell (one affine transform)."""
        x0, y0, x1, y1 = self.box
        left, top, right, bottom = (round(v) for v in (x0, y0, x1, y1))
        nx, ny = ok.shape
        # grid column i (data x) and row j (data y) of a panel pixel's centre (u + 0.5, v + 0.5)
        sx = (self.xlim[1] - self.xlim[0]) / (x1 - x0) / (extent[1] - extent[0]) * nx
        sy = (self.ylim[1] - self.ylim[0]) / (y1 - y0) / (extent[3] - extent[2]) * ny
        cx = (
            ((left - x0) / (x1 - x0) * (self.xlim[1] - self.xlim[0]) + self.xlim[0] - extent[0])
            / (extent[1] - extent[0])
            * nx
        )
        cy = (
            ((y1 - top) / (y1 - y0) * (self.ylim[1] - self.ylim[0]) + self.ylim[0] - extent[2])
            / (extent[3] - extent[2])
            * ny
        )
        size = (right - left, bottom - top)
        coeffs = (sx, 0.0, cx, 0.0, -sy, cy)
        src = Image.fromarray(np.ascontiguousarray(np.swapaxes(rgb, 0, 1)), "RGB")
        cover = Image.fromarray(np.ascontiguousarray(ok.T).astype(np.uint8) * 255, "L")
        tile = src.transform(size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.NEAREST)
        mask = cover.transform(size, Image.Transform.AFFINE, coeffs, resample=Image.Resampling.NEAREST)
        self.canvas.image.paste(tile, (left, top), mask)

    def frame(self, xlabel: str = "", ylabel: str = "", grid: bool = False, ticks: bool = True) -> None:
        """Axes box, ticks with their values, axis labels and (optionally) a light grid."""
        c = self.canvas
        x0, y0, x1, y1 = self.box
        w = max(1, round(c.px(0.8)))
        if ticks:
            lo_x, hi_x = sorted(self.xlim)
            lo_y, hi_y = sorted(self.ylim)
            for axis, (lo, hi) in (("x", (lo_x, hi_x)), ("y", (lo_y, hi_y))):
                step = nice_step(hi - lo, 6 if axis == "x" else 5)
                for v in np.arange(np.ceil(lo / step) * step, hi + 1e-9, step):
                    label = f"{v:g}" if abs(v) > 1e-9 else "0"
                    if axis == "x":
                        (px,), _ = self.to_px([v], [self.ylim[0]])
                        if grid:
                            c.draw.line([(px, y0), (px, y1)], fill=grey(0.88), width=1)
                        c.draw.line([(px, y1), (px, y1 + c.px(4))], fill=BLACK, width=w)
                        c.text((px, y1 + c.px(5)), label, 7, anchor="mt", panel=self.name + ".ticks")
                    else:
                        _, (py,) = self.to_px([self.xlim[0]], [v])
                        if grid:
                            c.draw.line([(x0, py), (x1, py)], fill=grey(0.88), width=1)
                        c.draw.line([(x0 - c.px(4), py), (x0, py)], fill=BLACK, width=w)
                        c.text((x0 - c.px(6), py), label, 7, anchor="rm", panel=self.name + ".ticks")
        c.draw.rectangle((x0, y0, x1, y1), outline=BLACK, width=w)
        if xlabel:
            c.text(((x0 + x1) / 2, y1 + c.px(20)), xlabel, 8, anchor="mt", panel=self.name + ".axis")
        if ylabel:
            c.text((x0 - c.px(40), (y0 + y1) / 2), ylabel, 8, panel=self.name + ".axis", rotate=True)


def _dashes(run: np.ndarray, on: float, off: float) -> list[list]:
    """A pixel polyline cut into dashes of ``on`` pixels every ``on + off``."""
    seg = np.hypot(*np.diff(run, axis=0).T)
    s = np.r_[0.0, np.cumsum(seg)]
    if s[-1] <= 0:
        return []
    starts = np.arange(0.0, s[-1], on + off)
    ends = np.minimum(starts + on, s[-1])
    pa = np.column_stack([np.interp(starts, s, run[:, 0]), np.interp(starts, s, run[:, 1])])
    pb = np.column_stack([np.interp(ends, s, run[:, 0]), np.interp(ends, s, run[:, 1])])
    first = np.searchsorted(s, starts, side="right")  # the vertices strictly inside each dash
    last = np.searchsorted(s, ends, side="left")
    pts, a, b = run.tolist(), pa.tolist(), pb.tolist()
    return [[a[k], *pts[first[k] : last[k]], b[k]] for k in range(len(starts))]


def colour_bar(
    canvas: Canvas, name: str, box: tuple[float, float, float, float], vmax: float, label: str
) -> None:
    """A vertical viridis colour bar from 0 to ``vmax`` with ticks and a rotated label."""
    x0, y0, x1, y1 = (round(v) for v in box)
    Panel(canvas, name, (x0, y0, x1, y1), (0.0, 1.0), (0.0, max(vmax, 1e-9)))
    h = max(1, y1 - y0)
    t = (1.0 - (np.arange(h) + 0.5) / h) * vmax
    rgb, _ = colourise(t, 0.0, vmax)
    canvas.paste_rgb(np.repeat(rgb[:, None, :], max(1, x1 - x0), axis=1), np.ones((h, max(1, x1 - x0)), bool),
                     x0, y0)  # fmt: skip
    canvas.draw.rectangle((x0, y0, x1, y1), outline=BLACK, width=max(1, round(canvas.px(0.8))))
    step = nice_step(vmax, 5)
    for v in np.arange(0.0, vmax + 1e-9, step):
        py = y1 - v / max(vmax, 1e-9) * (y1 - y0)
        canvas.draw.line([(x1, py), (x1 + canvas.px(4), py)], fill=BLACK, width=1)
        canvas.text((x1 + canvas.px(6), py), f"{v:g}", 7, anchor="lm", panel=name)
    canvas.text((x1 + canvas.px(38), (y0 + y1) / 2), label, 8, panel=name, rotate=True)
