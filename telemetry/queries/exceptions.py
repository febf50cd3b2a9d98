"""Exception panels: groups over time, the groups table with what is new, one group's samples.

A group is a problemId (App Insights' "<type> at <method>") in one service. "New in this period"
means the group has no exception in the period of the same length just before the range.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from telemetry.comparison import FIRST_SEEN
from telemetry.derived import REQ_ID
from telemetry.model import (
    Column,
    DistinctCount,
    Earliest,
    Equals,
    ItemCount,
    Latest,
    Listing,
    PanelFactory,
    Period,
    SampleValue,
    Summary,
    TimeBin,
)

__all__ = ["COVERAGE", "GROUPS", "OVER_TIME", "PANELS", "SAMPLE_LIMIT", "group_table", "samples_listing"]

_GROUP: Final = (Column("problemId", "problem"), Column("type"), Column("cloud_RoleName", "service"))

OVER_TIME: Final = Summary(
    name="exceptions.over_time",
    table="exceptions",
    measures=(ItemCount("exceptions"),),
    by=(TimeBin(), *_GROUP),
    order_by=(("bucket", "asc"), ("problem", "asc"), ("service", "asc")),
    description="Exceptions per bin (sum of itemCount) per problemId, type and service.",
)

GROUPS: Final = Summary(
    name="exceptions.groups",
    table="exceptions",
    measures=(
        ItemCount("exceptions"),
        DistinctCount("operations", REQ_ID, weighted=True),
        Earliest("first_seen"),
        Latest("last_seen"),
        SampleValue("message", "outerMessage"),
    ),
    by=(*_GROUP, Period()),
    compare_previous=True,
    order_by=(("exceptions", "desc"), ("problem", "asc"), ("service", "asc")),
    limit=1_000,
    description=("Per problemId and service: exceptions (sum of itemCount), affected requests (distinct "
                 "operation_Id, each weighted by the group's mean itemCount like the exceptions), first and last "
                 "seen, in the range and in the period before it."),
)

# Whether the period before is covered at all (telemetry.comparison): exceptions are too sparse to
# tell, so the requests of the same services answer. Without it no group can be called new.
COVERAGE: Final = Summary(
    name="exceptions.coverage",
    table="requests",
    measures=(FIRST_SEEN,),
    by=(Period(),),
    compare_previous=True,
    description="The first request in the range and in the period before it: whether the data covers that "
                "period, so that a group can be called new.",
)

SAMPLE_LIMIT: Final = 20


def samples_listing(problem: str = "") -> Listing:
    return Listing(
        name="exceptions.samples",
        table="exceptions",
        columns=(Column("timestamp"), Column(REQ_ID, "operation_Id"), *(Column(c) for c in (
            "cloud_RoleName", "cloud_RoleInstance", "type", "outerType",
            "outerMessage", "innermostType", "innermostMessage", "details", "itemCount"))),
        where=(Equals("problemId", problem),),
        limit=SAMPLE_LIMIT,
        description=f"The newest {SAMPLE_LIMIT} exceptions of the chosen problemId.",
    )


PANELS: Final[dict[str, PanelFactory]] = {
    "exceptions.over_time": lambda: OVER_TIME,
    "exceptions.groups": lambda: GROUPS,
    "exceptions.coverage": lambda: COVERAGE,
    "exceptions.samples": samples_listing,
}

_KEYS: Final = ["problem", "type", "service"]


def group_table(frame: pd.DataFrame, previous_covered: bool = True) -> pd.DataFrame:
    """The groups of the range with the previous period's count and whether they are new (none
    before, in a previous period the data covers: otherwise no group is new).

    Columns: problem, type, service, exceptions, operations, first_seen, last_seen, message,
    previous, new; busiest first.
    """
    current = frame[frame["period"] == "current"].drop(columns="period")
    previous = frame.loc[frame["period"] == "previous", [*_KEYS, "exceptions"]].rename(
        columns={"exceptions": "previous"})
    table = current.merge(previous, on=_KEYS, how="left")
    table["previous"] = table["previous"].fillna(0).astype("Int64")
    table["new"] = (table["previous"] == 0) & previous_covered
    table = table.sort_values(["exceptions", "problem", "service"], ascending=[False, True, True], kind="stable")
    return table.reset_index(drop=True)
