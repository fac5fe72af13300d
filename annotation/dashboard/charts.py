"""Charts for the dashboard as server-rendered SVG: no chart library, no CDN, no script.

Each function takes plain numbers and returns markup ready for a template; every text that
comes from data (model names, profile answers) is escaped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from annotation.selectors.leaderboard import WinCell

INK = "#1b1f24"
MUTED = "#57606a"
GRID = "#d0d7de"
ACCENT = "#0a58ca"
FONT = 'font-family="system-ui, sans-serif" font-size="12"'


def _svg(width: int, height: int, body: list[str], label: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every text from data is escaped by the callers below
        # Drawn at its own size, shrunk (never blown up) to fit a narrow screen by the CSS.
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'preserveAspectRatio="xMinYMin meet" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg" {FONT}><title>{escape(label)}</title>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def time_series(points: Sequence[tuple[datetime, int]], *, bucket: str) -> SafeString:
    """Judgments per hour or day, as bars."""
    width, height, left, bottom, top = 1000, 180, 40, 24, 12
    if not points:
        return _svg(width, 60, [_text(10, 30, "No judgments yet.", fill=MUTED)], "No judgments")
    peak = max(n for _, n in points) or 1
    plot_w, plot_h = width - left - 10, height - bottom - top
    bar = plot_w / len(points)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        f'stroke="{GRID}"/>',
        _text(left - 6, top + 10, str(peak), anchor="end", fill=MUTED),
        _text(left - 6, top + plot_h, "0", anchor="end", fill=MUTED),
    ]
    fmt = "%d %b %H:00" if bucket == "hour" else "%d %b"
    for k, (at, n) in enumerate(points):
        h = plot_h * n / peak
        x = left + k * bar
        body.append(
            f'<rect x="{x + bar * 0.1:.1f}" y="{top + plot_h - h:.1f}" width="{bar * 0.8:.1f}" '
            f'height="{h:.1f}" fill="{ACCENT}"><title>{escape(at.strftime(fmt))}: {n}</title>'
            "</rect>"
        )
    body.append(_text(left, height - 6, points[0][0].strftime(fmt), fill=MUTED))
    last = points[-1][0].strftime(fmt)
    body.append(_text(width - 10, height - 6, last, anchor="end", fill=MUTED))
    return _svg(width, height, body, f"Judgments per {bucket}")


def intervals(
    rows: Sequence[tuple[str, float, float, float]], *, label: str, centre: float | None = None
) -> SafeString:
    """A forest plot: one row per item, its estimate as a dot and its interval as a line."""
    if not rows:
        return _svg(400, 40, [_text(10, 25, "Nothing to show yet.", fill=MUTED)], label)
    name_w, width, row_h, top = 180, 720, 26, 10
    height = top + row_h * len(rows) + 24
    lo = min(r[2] for r in rows)
    hi = max(r[3] for r in rows)
    if centre is not None:
        lo, hi = min(lo, centre), max(hi, centre)
    pad = (hi - lo) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    plot_w = width - name_w - 20

    def x(v: float) -> float:
        return name_w + (v - lo) / (hi - lo) * plot_w

    body = []
    if centre is not None:
        body.append(
            f'<line x1="{x(centre):.1f}" y1="{top}" x2="{x(centre):.1f}" '
            f'y2="{top + row_h * len(rows)}" stroke="{GRID}" stroke-dasharray="4 3"/>'
        )
    for k, (name, est, low, high) in enumerate(rows):
        y = top + row_h * k + row_h / 2
        body += [
            _text(name_w - 8, y + 4, name, anchor="end"),
            f'<line x1="{x(low):.1f}" y1="{y:.1f}" x2="{x(high):.1f}" y2="{y:.1f}" '
            f'stroke="{ACCENT}" stroke-width="3" stroke-linecap="round"/>',
            f'<circle cx="{x(est):.1f}" cy="{y:.1f}" r="5" fill="{INK}">'
            f"<title>{escape(name)}: {est:.0f} ({low:.0f} to {high:.0f})</title></circle>",
        ]
    base = top + row_h * len(rows) + 16
    body += [
        _text(name_w, base, f"{lo:.0f}", fill=MUTED),
        _text(width - 20, base, f"{hi:.0f}", anchor="end", fill=MUTED),
    ]
    return _svg(width, height, body, label)


def _rate_colour(rate: float) -> str:
    """Red below 50%, blue above, white at 50%."""
    t = max(-1.0, min(1.0, (rate - 0.5) * 2))
    if t >= 0:
        r, g, b = 255 - int(245 * t), 255 - int(167 * t), 255 - int(53 * t)
    else:
        r, g, b = 255 - int(48 * -t), 255 - int(220 * -t), 255 - int(200 * -t)
    return f"rgb({r},{g},{b})"


def heatmap(labels: Sequence[str], cells: Sequence[Sequence[WinCell | None]]) -> SafeString:
    """The win-rate matrix: how often the row model beat the column model."""
    n = len(labels)
    if not n:
        return _svg(400, 40, [_text(10, 25, "Nothing to show yet.", fill=MUTED)], "Win rates")
    name_w, cell, top = 160, 64, 96
    # Room on the right for the last column's slanted name.
    width, height = name_w + cell * n + 90, top + cell * n + 10
    body = []
    for k, name in enumerate(labels):
        cx = name_w + cell * k + cell / 2
        body.append(
            f'<text transform="translate({cx:.1f},{top - 8}) rotate(-35)" fill="{INK}">'
            f"{escape(name[:22])}</text>"
        )
        body.append(_text(name_w - 8, top + cell * k + cell / 2 + 4, name[:22], anchor="end"))
    for a, row in enumerate(cells):
        for b, c in enumerate(row):
            x, y = name_w + cell * b, top + cell * a
            if c is None:
                body.append(
                    f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="#f6f8fa" '
                    f'stroke="#fff"/>'
                )
                continue
            tip = f"{labels[a]} beat {labels[b]} {c.rate:.0%} of {c.n}"
            body.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" '
                f'fill="{_rate_colour(c.rate)}" stroke="#fff"><title>{escape(tip)}</title></rect>'
            )
            body.append(_text(x + cell / 2, y + cell / 2 + 4, f"{c.rate:.0%}", anchor="middle"))
    return _svg(width, height, body, "Win rate of the row model against the column model")


def histogram(
    values: Sequence[float], *, label: str, bins: int = 10, lo: float = 0.0, hi: float = 1.0
) -> SafeString:
    """How many values fall in each of `bins` equal ranges of [lo, hi]."""
    width, height, left, bottom, top = 480, 160, 30, 24, 10
    counts = [0] * bins
    for v in values:
        k = min(bins - 1, max(0, int((v - lo) / (hi - lo) * bins)))
        counts[k] += 1
    peak = max(counts) or 1
    plot_w, plot_h = width - left - 10, height - bottom - top
    bar = plot_w / bins
    body = [_text(left - 6, top + 10, str(peak), anchor="end", fill=MUTED)]
    for k, n in enumerate(counts):
        h = plot_h * n / peak
        a, b = lo + (hi - lo) * k / bins, lo + (hi - lo) * (k + 1) / bins
        body.append(
            f'<rect x="{left + k * bar + 1:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{bar - 2:.1f}" height="{h:.1f}" fill="{ACCENT}">'
            f"<title>{a:.0%}–{b:.0%}: {n}</title></rect>"
        )
    body += [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        f'stroke="{GRID}"/>',
        _text(left, height - 6, f"{lo:.0%}", fill=MUTED),
        _text(width - 10, height - 6, f"{hi:.0%}", anchor="end", fill=MUTED),
    ]
    return _svg(width, height, body, label)


def share_bars(
    items: Sequence[tuple[str, float | None, int]], *, label: str, reference: float = 0.5
) -> SafeString:
    """Horizontal bars of shares (0 to 1) with a dashed line at the share chance would give."""
    name_w, width, row_h, top = 170, 600, 26, 6
    height = top + row_h * len(items) + 8
    plot_w = width - name_w - 110
    body = []
    for k, (name, share, n) in enumerate(items):
        y = top + row_h * k
        body.append(_text(name_w - 8, y + 17, name, anchor="end"))
        if share is None:
            body.append(_text(name_w, y + 17, "—", fill=MUTED))
            continue
        body.append(
            f'<rect x="{name_w}" y="{y + 5}" width="{plot_w * share:.1f}" height="16" '
            f'fill="{ACCENT}"><title>{escape(name)}: {share:.0%} of {n}</title></rect>'
        )
        body.append(_text(name_w + plot_w + 6, y + 17, f"{share:.0%} (n={n})", fill=MUTED))
    rx = name_w + plot_w * reference
    body.append(
        f'<line x1="{rx:.1f}" y1="{top}" x2="{rx:.1f}" y2="{height - 4}" stroke="{INK}" '
        f'stroke-dasharray="4 3"/>'
    )
    return _svg(width, height, body, label)


def target_bars(
    items: Sequence[tuple[str, float | None, float | None, int]], *, label: str
) -> SafeString:
    """Horizontal bars of shares (0 to 1), each with a tick at its own target share:
    (name, share, target share or None, count)."""
    name_w, width, row_h, top = 190, 600, 26, 6
    height = top + row_h * max(len(items), 1) + 8
    plot_w = width - name_w - 150
    body = []
    for k, (name, share, target, n) in enumerate(items):
        y = top + row_h * k
        body.append(_text(name_w - 8, y + 17, name, anchor="end"))
        w = plot_w * (share or 0)
        body.append(
            f'<rect x="{name_w}" y="{y + 5}" width="{w:.1f}" height="16" fill="{ACCENT}">'
            f"<title>{escape(name)}: {(share or 0):.0%} (n={n})</title></rect>"
        )
        caption = f"{(share or 0):.0%} (n={n})"
        if target is not None:
            tx = name_w + plot_w * target
            body.append(
                f'<line x1="{tx:.1f}" y1="{y + 2}" x2="{tx:.1f}" y2="{y + 24}" stroke="{INK}" '
                f'stroke-width="2"><title>target {target:.0%}</title></line>'
            )
            caption += f" · target {target:.0%}"
        body.append(_text(name_w + plot_w + 6, y + 17, caption, fill=MUTED))
    return _svg(width, height, body, label)
