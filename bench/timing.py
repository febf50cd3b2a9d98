"""Median wall time of a call after a warm-up, and the process's peak memory while it ran; of
several calls, timed in turns.

Peak memory is Linux's VmHWM (the resident-set high-water mark), reset before the runs through
/proc/self/clear_refs, so each measurement gets its own peak rather than the process's lifetime one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Timing", "measure", "measure_interleaved", "rss_mb"]

_STATUS = Path("/proc/self/status")


@dataclass(frozen=True)
class Timing:
    median_s: float
    runs_s: tuple[float, ...]
    peak_rss_mb: float  # the process's resident memory at its highest during the runs
    rss_before_mb: float  # and just before them: the difference is what the runs added

    def as_json(self) -> dict[str, object]:
        return {
            "median_s": round(self.median_s, 4),
            "runs_s": [round(r, 4) for r in self.runs_s],
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "added_rss_mb": round(max(0.0, self.peak_rss_mb - self.rss_before_mb), 1),
        }


def _status_mb(field: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def rss_mb() -> float:
    return _status_mb("VmRSS")


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS (Linux >= 4.0)
    except OSError:
        pass  # without it the peak is the process's lifetime one: an upper bound


def measure(call: Callable[[], object], runs: int, *, warmups: int = 1, budget_s: float | None = None) -> Timing:
    """`runs` timed calls after `warmups` untimed ones; with `budget_s`, no new run starts once
    the timed runs have taken that long (a 60 s pandas run is not worth repeating)."""
    return measure_interleaved({"call": call}, runs, warmups={"call": warmups}, budgets={"call": budget_s})["call"]


def measure_interleaved(calls: Mapping[str, Callable[[], object]], runs: int, *, warmups: Mapping[str, int],
                        budgets: Mapping[str, float | None]) -> dict[str, Timing]:
    """Each call timed `runs` times in turns (a, b, c, then b, c, a…), not in consecutive blocks
    that let a burst of load on a shared machine land on one of them; the peak memory of each
    run is its own (reset before it). A call stops taking turns once its runs took its budget."""
    for name, call in calls.items():
        for _ in range(warmups.get(name, 1)):
            call()
    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    peaks = dict.fromkeys(names, 0.0)
    befores = dict.fromkeys(names, float("inf"))
    for turn in range(max(1, runs)):
        for name in names[turn % len(names):] + names[:turn % len(names)]:
            budget = budgets.get(name)
            if times[name] and budget is not None and sum(times[name]) >= budget:
                continue
            befores[name] = min(befores[name], rss_mb())
            _reset_peak()
            started = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - started)
            peaks[name] = max(peaks[name], _status_mb("VmHWM"))
    return {name: Timing(statistics.median(times[name]), tuple(times[name]), peaks[name], befores[name])
            for name in names}
