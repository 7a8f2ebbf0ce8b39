"""The demo's report: one self-contained HTML file with its charts embedded as PNG.

It shows what a DSO, an FSP and an auditor each want to see after a market day: the
congested element before and after flexibility, the order book, the trades and the
settlements written on chain, and the audit's verdict.
"""

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on servers and CI

import matplotlib.pyplot as plt


@dataclass(frozen=True, slots=True)
class ElementSeries:
    """One grid element's quantity per slot, before and after flexibility."""

    name: str
    quantity: str  # e.g. "loading %" or "voltage p.u."
    limit: float
    before: Sequence[float]
    after: Sequence[float]
    upper_limit: bool = True  # False for a minimum (under-voltage)


@dataclass
class DemoReport:
    title: str
    network: str
    delivery_day: str
    slot_starts: Sequence[int]
    elements: list[ElementSeries] = field(default_factory=list)
    orders: list[dict[str, object]] = field(default_factory=list)
    trades: list[dict[str, object]] = field(default_factory=list)
    settlements: list[dict[str, object]] = field(default_factory=list)
    audit: dict[str, object] = field(default_factory=dict)
    facts: dict[str, object] = field(default_factory=dict)


def write_report(report: DemoReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    charts = "".join(_figure(series, report.slot_starts) for series in report.elements)
    body = (
        f"<h1>{_e(report.title)}</h1>"
        f"<p>Network <b>{_e(report.network)}</b>, delivery day {_e(report.delivery_day)}, "
        f"report written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>"
        + _table("Facts", [{"what": k, "value": v} for k, v in report.facts.items()])
        + f"<h2>Grid: before and after flexibility</h2>{charts}"
        + _table("Order book (all orders, as signed)", report.orders)
        + _table("Trades recorded on chain", report.trades)
        + _table("Settlements on chain", report.settlements)
        + _table("Audit from chain logs alone", [report.audit] if report.audit else [])
    )
    path.write_text(_page(report.title, body), encoding="utf-8")
    return path


def _figure(series: ElementSeries, slot_starts: Sequence[int]) -> str:
    hours = [(start - slot_starts[0]) / 3600 for start in slot_starts]
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=110)
    axes.plot(hours, series.before, label="forecast without flexibility", color="#c0392b")
    axes.plot(hours, series.after, label="metered with flexibility", color="#1e8449")
    axes.axhline(series.limit, color="#555", linestyle="--", linewidth=1, label="limit")
    axes.set_xlabel("hour of the delivery day (UTC)")
    axes.set_ylabel(series.quantity)
    axes.set_title(series.name)
    axes.grid(alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{_e(series.name)}" src="data:image/png;base64,{encoded}">'


def _table(title: str, rows: Sequence[dict[str, object]]) -> str:
    if not rows:
        return f"<h2>{_e(title)}</h2><p>none</p>"
    columns = list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(row.get(c, ''))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<h2>{_e(title)}</h2><table><tr>{head}</tr>{body}</table>"


def _page(title: str, body: str) -> str:
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
        "table{border-collapse:collapse;font-size:13px;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}"
        "th{background:#f2f2f2}img{display:block;margin:1em 0}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{style}</style></head><body>{body}</body></html>\n"
    )


def _e(value: object) -> str:
    return html.escape(str(value))
