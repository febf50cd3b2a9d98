"""Check KQL with Microsoft's own Kusto language service (npm, run by node) against the
project's classic and workspace schemas (from telemetry.schema, so they cannot drift)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from telemetry.schema import classic_schema, workspace_schema

KQL_DIR = Path(__file__).resolve().parent / "kql"
CHECKER = KQL_DIR / "check.js"


@dataclass(frozen=True)
class KqlCheck:
    schema: str
    query: str
    ok: bool
    diagnostics: list[dict] = field(default_factory=list)
    string_literals: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"[{self.schema}] {'ok' if self.ok else 'INVALID'}:", self.query]
        for d in self.diagnostics:
            span = self.query[d["start"] : d["start"] + d["length"]]
            lines.append(f"  {d['severity']}: {d['message']} at {d['start']} ({span!r})")
        return "\n".join(lines)


def ensure_kusto() -> Path:
    """The checker script, after installing the npm package once if it is missing."""
    if not (KQL_DIR / "node_modules" / "@kusto" / "language-service-next").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install Kusto's language service (tests/kql)")
        subprocess.run([npm, "ci", "--prefix", str(KQL_DIR), "--no-audit", "--no-fund"], check=True)
    if shutil.which("node") is None:
        raise RuntimeError("node is needed to run Kusto's language service")
    return CHECKER


def check_kql(checks: Sequence[tuple[str, str]]) -> list[KqlCheck]:
    """Check (schema name, query) pairs in one node process; schema is classic or workspace."""
    payload = {
        "schemas": {"classic": classic_schema(), "workspace": workspace_schema()},
        "checks": [{"schema": schema, "query": query} for schema, query in checks],
    }
    answer = subprocess.run(
        ["node", str(ensure_kusto())], input=json.dumps(payload), capture_output=True, text=True,
        check=True, cwd=KQL_DIR,
    )
    results = json.loads(answer.stdout)["results"]
    return [
        KqlCheck(schema, query, r["ok"], r["diagnostics"], r["string_literals"])
        for (schema, query), r in zip(checks, results, strict=True)
    ]


class KustoSession:
    """One long-lived checker process, for many small checks (property-based tests)."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            ["node", str(ensure_kusto()), "--lines"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, cwd=KQL_DIR,
        )
        self._send({"schemas": {"classic": classic_schema(), "workspace": workspace_schema()}})

    def _send(self, message: dict) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()

    def check(self, schema: str, query: str) -> KqlCheck:
        self._send({"schema": schema, "query": query})
        assert self._process.stdout is not None
        r = json.loads(self._process.stdout.readline())
        return KqlCheck(schema, query, r["ok"], r["diagnostics"], r["string_literals"])

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(timeout=10)


def assert_valid_kql(checks: Sequence[tuple[str, str]]) -> list[KqlCheck]:
    results = check_kql(checks)
    bad = [r for r in results if not r.ok]
    assert not bad, f"{len(bad)} of {len(results)} queries fail Kusto's checks:\n\n" + "\n\n".join(map(str, bad))
    return results
