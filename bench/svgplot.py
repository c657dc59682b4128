"""Plots for the HTML page as inline SVG: a forest plot of differences to a reference, rank
intervals, alignment/uniformity and singular spectra.

Inline SVG needs no network, no script and no image file, scales with the window (a
``viewBox`` and ``width: 100%``, so it is never clipped), and carries its numbers: every
marker holds them as ``data-*`` attributes and a ``<title>`` (the tooltip), so a reader or a
test can check what a plot shows against the reports. Labels come from report files: every
one is escaped (``bench.textsafe.printable``, then HTML-escaped, quotes too)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.textsafe import printable

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#17becf", "#7f7f7f", "#bcbd22")
FONT = 12  # px; labels are measured with about 0.6 em per character
CHAR = 0.6 * FONT


def _e(text: object) -> str:
    return html.escape(printable(text))


def _n(value: float) -> str:
    return f"{value:.1f}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _tick_text(value: float, ticks: list[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else 1.0
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    return f"{value:.{decimals}f}"


@dataclass
class _Frame:
    """A plot area: data ranges mapped onto pixels inside margins."""

    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    x: tuple[float, float]
    y: tuple[float, float]

    def px(self, v: float) -> float:
        lo, hi = self.x
        return self.left + (v - lo) / (hi - lo) * (self.width - self.left - self.right)

    def py(self, v: float) -> float:
        lo, hi = self.y
        return self.height - self.bottom - (v - lo) / (hi - lo) * (
            self.height - self.top - self.bottom)


def _padded(values: Sequence[float], share: float = 0.06) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * share
    return lo - pad, hi + pad


def _svg(width: int, height: int, kind: str, label: str, body: list[str]) -> str:
    """The plot, titled by ``label`` (its tooltip and accessible name; the page prints the
    title above it, where a long one can wrap)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="{kind}" '
            f'role="img" aria-label="{_e(label)}" viewBox="0 0 {width} {height}" '
            f'width="100%" style="max-width:{width}px;height:auto" '
            f'font-family="system-ui,sans-serif" font-size="{FONT}">'
            f"<title>{_e(label)}</title>" + "".join(body) + "</svg>")


def _x_axis(f: _Frame, ticks: list[float], label: str) -> list[str]:
    base = f.height - f.bottom
    out = [f'<line x1="{_n(f.left)}" y1="{_n(base)}" x2="{_n(f.width - f.right)}" '
           f'y2="{_n(base)}" stroke="#444"/>']
    for t in ticks:
        x = f.px(t)
        out.append(f'<line x1="{_n(x)}" y1="{_n(f.top)}" x2="{_n(x)}" y2="{_n(base)}" '
                   'stroke="#e5e5e5"/>')
        out.append(f'<text x="{_n(x)}" y="{_n(base + 16)}" text-anchor="middle">'
                   f"{_tick_text(t, ticks)}</text>")
    mid = (f.left + f.width - f.right) / 2
    out.append(f'<text x="{_n(mid)}" y="{_n(f.height - 6)}" text-anchor="middle">'
               f"{_e(label)}</text>")
    return out


def _y_axis(f: _Frame, ticks: list[float], label: str) -> list[str]:
    out = [f'<line x1="{_n(f.left)}" y1="{_n(f.top)}" x2="{_n(f.left)}" '
           f'y2="{_n(f.height - f.bottom)}" stroke="#444"/>']
    for t in ticks:
        y = f.py(t)
        out.append(f'<line x1="{_n(f.left)}" y1="{_n(y)}" x2="{_n(f.width - f.right)}" '
                   f'y2="{_n(y)}" stroke="#e5e5e5"/>')
        out.append(f'<text x="{_n(f.left - 6)}" y="{_n(y + 4)}" text-anchor="end">'
                   f"{_tick_text(t, ticks)}</text>")
    cy = (f.top + f.height - f.bottom) / 2
    out.append(f'<text transform="translate(14 {_n(cy)}) rotate(-90)" '
               f'text-anchor="middle">{_e(label)}</text>')
    return out


def _legend(names: Sequence[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<rect x="{_n(x)}" y="{_n(y + 16 * i - 9)}" width="10" height="10" '
                   f'fill="{colour}"/><text x="{_n(x + 15)}" y="{_n(y + 16 * i)}">'
                   f"{_e(name)}</text>")
    return out


# ------------------------------------------------------------------------------ forest plot

@dataclass
class ForestPoint:
    task: str  # a task name or "avg"
    label: str  # its heading (STS-B, Avg.)
    delta: float  # points, model minus reference
    ci: tuple[float, float] | None = None  # 95% interval of the difference
    significant: bool = False  # after the page's multiple-testing correction


@dataclass
class ForestSeries:
    model: str
    points: list[ForestPoint] = field(default_factory=list)


def forest_svg(title: str, reference: str, series: Sequence[ForestSeries]) -> str:
    """Each model's difference to ``reference`` per task and Avg.: a dot with its interval
    as a bar, one band per task, a line at zero. A filled dot: significant after the
    correction; a hollow one: not."""
    labels = list(dict.fromkeys(p.label for s in series for p in s.points))
    rows = len(labels)
    per = max(len(series), 1)
    band = 10 + 14 * per
    legend = len(series) * 16 + 8
    width = 900
    height = int(10 + legend + band * rows + 40)
    values = [v for s in series for p in s.points
              for v in (p.delta, *(p.ci or ())) if math.isfinite(v)]
    lo, hi = _padded([*values, 0.0])
    f = _Frame(width, height, 70, 20, 10 + legend, 40, (lo, hi), (0, 1))
    body = _legend([s.model for s in series], f.left, 16)
    body += _x_axis(f, nice_ticks(lo, hi), f"difference to {reference} (points)")
    zero = f.px(0.0)
    body.append(f'<line x1="{_n(zero)}" y1="{_n(f.top)}" x2="{_n(zero)}" '
                f'y2="{_n(height - f.bottom)}" stroke="#444" stroke-dasharray="4 3"/>')
    for r, name in enumerate(labels):
        top = f.top + band * r
        body.append(f'<text x="{_n(f.left - 8)}" y="{_n(top + band / 2 + 4)}" '
                    f'text-anchor="end">{_e(name)}</text>')
        for i, s in enumerate(series):
            point = next((p for p in s.points if p.label == name), None)
            if point is None or not math.isfinite(point.delta):
                continue
            colour = COLOURS[i % len(COLOURS)]
            y = top + 12 + 14 * i
            tip = f"{s.model} - {reference}, {name}: {point.delta:+.2f}"
            attrs = (f'data-model="{_e(s.model)}" data-task="{_e(point.task)}" '
                     f'data-delta="{point.delta:.2f}"')
            bar = ""
            if point.ci is not None and all(math.isfinite(c) for c in point.ci):
                tip += f" [{point.ci[0]:+.2f}, {point.ci[1]:+.2f}]"
                attrs += f' data-lo="{point.ci[0]:.2f}" data-hi="{point.ci[1]:.2f}"'
                bar = (f'<line x1="{_n(f.px(point.ci[0]))}" y1="{_n(y)}" '
                       f'x2="{_n(f.px(point.ci[1]))}" y2="{_n(y)}" stroke="{colour}" '
                       'stroke-width="2"/>')
            if point.significant:
                tip += " (significant)"
            fill = colour if point.significant else "white"
            body.append(f'<g class="mark" {attrs}><title>{_e(tip)}</title>{bar}'
                        f'<circle cx="{_n(f.px(point.delta))}" cy="{_n(y)}" r="4" '
                        f'fill="{fill}" stroke="{colour}" stroke-width="2"/></g>')
    return _svg(width, height, "forest", title, body)


# ---------------------------------------------------------------------------- rank intervals

def rank_svg(rows: Sequence[tuple[str, int, int, int]], title: str = "Rank intervals") -> str:
    """(model, rank, low, high) per model: the rank as a dot, its interval as a bar; rank 1
    (the best) on the left, models top to bottom in rank order."""
    ordered = sorted(rows, key=lambda r: (r[1], r[0]))
    count = max([len(rows), *(r[3] for r in rows)] or [1])
    name_width = min(max([len(printable(r[0])) for r in rows] or [5]) * CHAR + 16, 360)
    width = int(max(520, name_width + 60 * count + 40))
    height = 20 + 22 * len(ordered) + 40
    f = _Frame(width, height, name_width, 30, 10, 40, (0.5, count + 0.5), (0, 1))
    body = _x_axis(f, list(range(1, count + 1)), "rank (1 = best)")
    for i, (model, rank, low, high) in enumerate(ordered):
        y = f.top + 12 + 22 * i
        colour = COLOURS[i % len(COLOURS)]
        body.append(f'<text x="{_n(f.left - 8)}" y="{_n(y + 4)}" text-anchor="end">'
                    f"{_e(model)}</text>")
        body.append(f'<g class="mark" data-model="{_e(model)}" data-rank="{int(rank)}" '
                    f'data-low="{int(low)}" data-high="{int(high)}"><title>'
                    f"{_e(model)}: rank {int(rank)} [{int(low)}, {int(high)}]</title>"
                    f'<line x1="{_n(f.px(low))}" y1="{_n(y)}" x2="{_n(f.px(high))}" '
                    f'y2="{_n(y)}" stroke="{colour}" stroke-width="3"/>'
                    f'<circle cx="{_n(f.px(rank))}" cy="{_n(y)}" r="5" fill="{colour}"/></g>')
    return _svg(width, height, "ranks", title, body)


# ----------------------------------------------------------------- analyses (Figures 2, F.1)

def align_uniform_svg(title: str, points: Sequence[tuple[str, float, float]],
                      runs: dict[str, list[tuple[int, float, float]]] | None = None) -> str:
    """l_uniform (x) against l_align (y), both lower-is-better (SimCSE Figures 2 and 3):
    ``points`` (label, uniform, align) as labelled dots; ``runs`` (name -> (step, uniform,
    align) in training order) as paths of checkpoints, the first one a larger dot."""
    runs = runs or {}
    xs = [p[1] for p in points] + [c[1] for r in runs.values() for c in r]
    ys = [p[2] for p in points] + [c[2] for r in runs.values() for c in r]
    legend = len(runs) * 16 + (8 if runs else 0)
    width, height = 720, 420 + legend
    f = _Frame(width, height, 70, 20, 10 + legend, 46, _padded(xs, 0.12), _padded(ys, 0.1))
    body = _legend(list(runs), f.left + 10, 20)
    body += _x_axis(f, nice_ticks(*f.x), "l_uniform (lower is better)")
    body += _y_axis(f, nice_ticks(*f.y), "l_align (lower is better)")
    middle = (f.x[0] + f.x[1]) / 2
    for label, u, a in points:
        anchor, dx = ("end", -7) if u > middle else ("start", 7)
        body.append(f'<g class="mark" data-model="{_e(label)}" data-uniform="{u:.4f}" '
                    f'data-align="{a:.4f}"><title>{_e(label)}: l_uniform {u:.4f}, l_align '
                    f'{a:.4f}</title><circle cx="{_n(f.px(u))}" cy="{_n(f.py(a))}" r="5" '
                    f'fill="#1f77b4" stroke="#222"/><text x="{_n(f.px(u) + dx)}" '
                    f'y="{_n(f.py(a) - 6)}" text-anchor="{anchor}">{_e(label)}</text></g>')
    for i, (run, steps) in enumerate(runs.items()):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{_n(f.px(u))},{_n(f.py(a))}" for _, u, a in steps)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                    'stroke-width="1.5"/>')
        for k, (step, u, a) in enumerate(steps):
            body.append(f'<g class="mark" data-model="{_e(run)}" data-step="{int(step)}" '
                        f'data-uniform="{u:.4f}" data-align="{a:.4f}"><title>{_e(run)} step '
                        f"{int(step)}: l_uniform {u:.4f}, l_align {a:.4f}</title>"
                        f'<circle cx="{_n(f.px(u))}" cy="{_n(f.py(a))}" '
                        f'r="{6 if k == 0 else 3.5}" fill="{colour}"/></g>')
    return _svg(width, height, "align-uniform", title, body)


def spectrum_svg(title: str, series: Sequence[tuple[str, Sequence[float]]]) -> str:
    """Each model's normalised singular values against their index (SimCSE Figure F.1)."""
    longest = max([len(v) for _, v in series] or [1])
    legend = len(series) * 16 + 8
    width, height = 720, 380 + legend
    f = _Frame(width, height, 60, 20, 10 + legend, 46, (1, max(longest, 2)), (0, 1.05))
    body = _legend([f"{name} (d={len(v)})" for name, v in series], f.left + 10, 20)
    body += _x_axis(f, nice_ticks(1, max(longest, 2)), "index of singular value")
    body += _y_axis(f, nice_ticks(0, 1), "singular value / largest")
    for i, (name, values) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(f"{_n(f.px(k + 1))},{_n(f.py(v))}" for k, v in enumerate(values))
        shown = ", ".join(f"{v:.3f}" for v in values[:3])
        body.append(f'<g class="mark" data-model="{_e(name)}" data-dim="{len(values)}">'
                    f"<title>{_e(name)}: {shown}, ...</title>"
                    f'<polyline points="{path}" fill="none" stroke="{colour}" '
                    'stroke-width="1.6"/></g>')
    return _svg(width, height, "spectrum", title, body)
