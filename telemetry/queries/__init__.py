"""Every panel's query, defined once and rendered to each dialect on demand.

`PANELS` maps a panel name ("requests.rate") to a function of the panel's own parameters
(a chosen dependency, a search text, a page offset) returning its query; panels without
parameters take none. The CLI, the pages and the KQL tests all read this one table.
"""

from __future__ import annotations

from typing import Final

from telemetry.model import PanelFactory, Query
from telemetry.queries import (
    checkup,
    dependencies,
    deployments,
    endpoint_traces,
    exceptions,
    failures,
    latency,
    overview,
    requests,
    traces,
)

__all__ = ["PANELS", "panel"]

PANELS: Final[dict[str, PanelFactory]] = {
    **requests.PANELS,
    **exceptions.PANELS,
    **traces.PANELS,
    **failures.PANELS,
    **dependencies.PANELS,
    **latency.PANELS,
    **overview.PANELS,
    **deployments.PANELS,
    **endpoint_traces.PANELS,
    **checkup.PANELS,
}


def panel(name: str, **params: object) -> Query:
    try:
        factory = PANELS[name]
    except KeyError:
        raise KeyError(f"unknown panel {name!r}; known: {', '.join(sorted(PANELS))}") from None
    return factory(**params)
