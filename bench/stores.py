"""The benchmark's demo stores: built once under bench/stores/ and reused while they match.

    python -m bench.stores [--dir bench/stores] 10m     build one store in this process; prints its record

A store is `<label>.duckdb` beside `<label>.json`, the record of what it holds: the demo's
parameters, a hash of telemetry/demo/ (other code makes other rows), row counts, and how long
the build took and its peak memory. A store whose record does not match is built again. The
runner builds in a child process so the build's peak memory is its own, not the runner's.
"""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import duckdb

ROOT: Final = Path(__file__).resolve().parents[1]
STORE_DIR: Final = ROOT / "bench" / "stores"
DAYS: Final = 7
END: Final = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # fixed: the same rows on every machine
SEED: Final = 42


def parse_size(label: str) -> int:
    """"100k" -> 100_000, "1m" -> 1_000_000, "2000" -> 2_000."""
    text = label.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = text[:-1] if scale > 1 else text
    if not number.isdigit() or int(number) <= 0:
        raise ValueError(f"not a store size: {label!r} (use e.g. 100k, 1m, 10m)")
    return int(number) * scale


@dataclass(frozen=True)
class StoreSpec:
    label: str
    requests: int  # the size asked for; the demo's own count comes out within ~0.1 %
    directory: Path = STORE_DIR

    @property
    def requests_per_day(self) -> int:
        # The demo's requests_per_day counts stored rows with weekends and noise averaged in:
        # 7 days at requests/7 gave 100,042 rows for 100k.
        return max(1, round(self.requests / DAYS))

    @property
    def path(self) -> Path:
        return self.directory / f"{self.label}.duckdb"

    @property
    def record_path(self) -> Path:
        return self.directory / f"{self.label}.json"

    def params(self) -> dict[str, Any]:
        return {"requests_per_day": self.requests_per_day, "days": DAYS, "end": END.isoformat(), "seed": SEED,
                "demo_sha256": _demo_hash()}


def spec(label: str, directory: Path = STORE_DIR) -> StoreSpec:
    return StoreSpec(label.strip().lower(), parse_size(label), Path(directory).resolve())


def _demo_hash() -> str:
    digest = hashlib.sha256()
    for part in sorted((ROOT / "telemetry" / "demo").glob("*.py")):
        digest.update(part.read_bytes())
    return digest.hexdigest()[:16]


def current_record(store: StoreSpec) -> dict[str, Any] | None:
    """The store's record when the store is there and was built from these parameters."""
    if not (store.path.exists() and store.record_path.exists()):
        return None
    record = json.loads(store.record_path.read_text())
    return record if record.get("params") == store.params() else None


def build_here(store: StoreSpec) -> dict[str, Any]:
    """Build the store in this process and write its record (build time, peak RSS, row counts)."""
    from telemetry.demo import build_demo_store

    started = time.perf_counter()
    build_demo_store(store.path, requests_per_day=store.requests_per_day, days=DAYS, end=END, seed=SEED)
    seconds = time.perf_counter() - started
    record = {
        "params": store.params(),
        "build_s": round(seconds, 1),
        "build_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "file_mb": round(store.path.stat().st_size / 2**20, 1),
        "rows": row_counts(store.path),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    store.record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def row_counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
                for t in ("requests", "dependencies", "exceptions", "traces")}


def ensure(store: StoreSpec, log: Any = print) -> dict[str, Any]:
    """The store's record, building the store first (in a child process) unless it matches."""
    record = current_record(store)
    if record is not None:
        log(f"store {store.label}: reusing {store.path} ({record['rows']['requests']:,} requests)")
        return {**record, "reused": True}
    log(f"store {store.label}: building {store.requests:,} requests over {DAYS} days …")
    subprocess.run([sys.executable, "-m", "bench.stores", "--dir", str(store.directory), store.label], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    record = current_record(store)
    if record is None:
        raise RuntimeError(f"the build of {store.path} left no matching record")
    log(f"store {store.label}: built in {record['build_s']} s, peak RSS {record['build_peak_rss_mb']:,} MB")
    return {**record, "reused": False}


def main(argv: list[str]) -> int:
    directory = STORE_DIR
    if argv[:1] == ["--dir"]:
        directory, argv = Path(argv[1]), argv[2:]
    for label in argv:
        print(json.dumps(build_here(spec(label, directory)), indent=2))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))
