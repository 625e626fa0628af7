"""Charts as SVG with matplotlib's object API (no pyplot: no global state, so
reports may be drawn in several threads). Text stays text in the SVG and is
set by the PDF renderer in the system's fonts."""

from __future__ import annotations

import io
from typing import Any

from matplotlib.figure import Figure

from reporting_service.render.document import Chart

COLOURS = ("#2e7d32", "#1565c0", "#f9a825", "#6a1b9a")
_RC: Any = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 8.0}


def svg(chart: Chart, width_in: float = 7.0, height_in: float = 2.6) -> str:
    import matplotlib

    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(width_in, height_in))
        axes = figure.add_subplot()
        positions = list(range(len(chart.labels)))
        count = max(len(chart.series), 1)
        width = 0.8 / count
        for i, (name, values) in enumerate(chart.series.items()):
            colour = COLOURS[i % len(COLOURS)]
            if chart.kind == "bar":
                axes.bar(
                    [p + (i - (count - 1) / 2) * width for p in positions],
                    values,
                    width=width,
                    label=name,
                    color=colour,
                )
            else:
                axes.plot(positions, values, label=name, color=colour, linewidth=1.4)
        step = max(1, len(chart.labels) // 16)
        axes.set_xticks(positions[::step], chart.labels[::step])
        axes.set_ylabel(chart.unit)
        axes.set_title(chart.title, loc="left", fontsize=9)
        axes.spines[["top", "right"]].set_visible(False)
        axes.grid(axis="y", linewidth=0.3, color="#cccccc")
        # Above the plot, beside the title: never over the bars.
        axes.legend(
            frameon=False, ncols=count, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7
        )
        figure.tight_layout()
        out = io.StringIO()
        figure.savefig(out, format="svg")
    return out.getvalue()
