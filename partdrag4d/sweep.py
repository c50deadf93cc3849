"""The end of a ``--multirun``: one table of every job's overrides, status, metrics and
stage times (``sweep_summary.csv`` and ``.md`` in the sweep folder) and a bar chart per
headline metric (``sweep_<metric>.png``). A Hydra callback (``hydra.callbacks``), so it
runs in the launching process after the basic, joblib or submitit launcher is done.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

log = logging.getLogger(__name__)

HEADLINE = ("axis_angle_deg", "axis_pos_err_rel", "seg_miou", "missing_joints", "extra_joints")
"""Metrics plotted per job (when a job has them)."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _overrides(job: Path) -> str:
    path = job / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return ""
    lines = [ln[2:].strip() for ln in path.read_text().splitlines() if ln.startswith("- ")]
    return " ".join(lines)


def job_row(job: Path) -> dict:
    """One job of the sweep as a flat row (overrides, status, error, metrics, times)."""
    status = _read_json(job / "status.json") or {"status": "missing"}
    out = Path(status.get("out_dir") or job)
    metrics = _read_json(out / "metrics.json") or {}
    stages = (_read_json(out / "artefacts.json") or {}).get("stages", [])
    row: dict = {
        "job": job.name,
        "overrides": _overrides(job),
        "status": status.get("status", "missing"),
        "error": (status.get("error") or "").splitlines()[0] if status.get("error") else "",
    }
    row.update({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
    for s in stages:
        row[f"time_{s['stage']}_s"] = round(float(s.get("compute_time_s", s["wall_time_s"])), 2)
    return row


def summarize(sweep_dir: Path) -> list[dict]:
    """Write the summary files of the sweep in ``sweep_dir``; return the rows."""
    jobs = sorted(
        (p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()),
        key=lambda p: (len(p.name), p.name),
    )
    rows = [job_row(job) for job in jobs]
    if not rows:
        return rows
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(sweep_dir / "sweep_summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    shown = [c for c in columns if not c.startswith("time_") or c == "time_articulate_s"]
    lines = ["| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    for row in rows:
        cells = [_cell(row.get(c, "")) for c in shown]
        lines.append("| " + " | ".join(cells) + " |")
    (sweep_dir / "sweep_summary.md").write_text("\n".join(lines) + "\n")
    _plots(rows, sweep_dir)
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/")


def _short(override: str) -> str:
    """``a.b.c=0.12345678`` -> ``c=0.1235`` (a plot label)."""
    key, _, value = override.partition("=")
    with contextlib.suppress(ValueError):  # not a number: kept as written
        value = _cell(float(value)) if "." in value or "e" in value else value
    return f"{key.rsplit('.', 1)[-1]}={value}"


def _labels(rows: list[dict]) -> list[str]:
    """Per job, the overrides that differ between the jobs (shortened), else its number."""
    split = [str(r.get("overrides") or "").split() for r in rows]
    common = set.intersection(*(set(s) for s in split)) if split else set()
    labels = [", ".join(_short(o) for o in s if o not in common) for s in split]
    return [label or str(r["job"]) for label, r in zip(labels, rows, strict=True)]


def _plots(rows: list[dict], sweep_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for metric in HEADLINE:
        have = [r for r in rows if isinstance(r.get(metric), (int, float))]
        if not have:
            continue
        fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(have) + 2), 3.2))
        ax.bar(range(len(have)), [r[metric] for r in have], color="#0072B2")
        ax.set_xticks(range(len(have)), _labels(have), rotation=60, ha="right")
        ax.tick_params(axis="x", labelsize=7)
        ax.set_ylabel(metric)
        fig.savefig(sweep_dir / f"sweep_{metric}.png", dpi=100, bbox_inches="tight")
        plt.close(fig)


class SweepSummary(Callback):
    """Hydra callback writing the sweep summary when a multirun ends."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        rows = summarize(sweep_dir)
        failed = sum(r["status"] != "ok" for r in rows)
        print(
            f"partdrag4d: sweep of {len(rows)} jobs ({failed} failed): "
            f"{sweep_dir / 'sweep_summary.md'}"
        )
