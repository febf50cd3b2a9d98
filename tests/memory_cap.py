"""Run hostile input in a child process whose address space is capped (RLIMIT_AS) `headroom`
bytes above its peak after a warm-up, so a test fails when the code holds the input whole."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_CHILD = """
import json, resource, sys
sys.path.insert(0, {root!r})
{warm_up}
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmPeak")) * 1024
resource.setrlimit(resource.RLIMIT_AS, (peak + {headroom}, peak + {headroom}))
{run}
print(json.dumps(answer))
"""


def run_capped(warm_up: str, run: str, *, headroom: int, timeout_s: float = 300) -> Any:
    """`warm_up` (imports, a small run: what the code needs anyway), then `run` under the cap;
    `run` sets `answer`, which comes back decoded from JSON."""
    code = _CHILD.format(root=str(ROOT), warm_up=textwrap.dedent(warm_up), headroom=headroom,
                         run=textwrap.dedent(run))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])
