"""Picture of a simulated cut: the blank seen from above, parts coloured by deviation from the design.

Blank frame (mm): x along the blank's length, y across. Red is material left above the design, blue
is a cut below it (a gouge), on the scale of the leftover tolerance; grey hatching marks surface the
finishing ball cannot reach (narrower than the ball). Outside the parts the simulated surface is
shaded in greys. matplotlib is used without pyplot.
"""

from __future__ import annotations

import io

import numpy as np

from orthogen.lab.cut_sim import CutResult


def cut_png(cut: CutResult, title: str, subtitle: str, dpi: int = 110) -> bytes:
    """PNG bytes of the simulated surface coloured by deviation (deterministic)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LightSource
    from matplotlib.figure import Figure

    g = cut.grid
    nx, ny = g.shape
    extent = (0.0, nx * g.spacing, 0.0, ny * g.spacing)
    width = 10.0
    fig = Figure(figsize=(width, max(3.5, width * ny / nx * 0.9 + 1.4)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shade = LightSource(azdeg=315, altdeg=45).hillshade(
        cut.surface.T, vert_exag=2.0, dx=g.spacing, dy=g.spacing
    )
    ax.imshow(shade, origin="lower", extent=extent, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    tol = cut.stats["leftover_tolerance_mm"]
    im = ax.imshow(
        np.ma.masked_invalid(cut.deviation.T),
        origin="lower",
        extent=extent,
        cmap="coolwarm",
        vmin=-tol,
        vmax=tol,
        interpolation="nearest",
    )
    unreached = (cut.inside & ~cut.reached).T
    if unreached.any():
        ax.contourf(
            np.linspace(extent[0], extent[1], nx),
            np.linspace(extent[2], extent[3], ny),
            unreached.astype(float),
            levels=[0.5, 1.5],
            colors="none",
            hatches=["////"],
        )
    ax.set_aspect("equal")
    ax.set_xlabel("x (mm, along the blank)")
    ax.set_ylabel("y (mm)")
    ax.set_title(f"{title}\n{subtitle}", fontsize=9)
    bar = fig.colorbar(im, ax=ax, shrink=0.8)
    bar.set_label("deviation along the normal (mm): + left, − gouge", fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})  # no metadata: same bytes
    return buf.getvalue()
