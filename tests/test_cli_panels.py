"""The command line takes a panel's own parameters (what the pages read from the URL): an
operation id, search text, a dependency, an exception group."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from telemetry.__main__ import main


def _query(capsys: pytest.CaptureFixture[str], store: Path, end: datetime, *args: str) -> pd.DataFrame:
    start = end - timedelta(days=7)
    assert main(["query", *args, "--store", str(store), "--from", start.strftime("%Y-%m-%dT%H:%MZ"),
                 "--to", end.strftime("%Y-%m-%dT%H:%MZ")]) == 0
    return pd.read_csv(io.StringIO(capsys.readouterr().out))


def test_an_operations_requests_come_by_its_id(capsys: pytest.CaptureFixture[str], demo_store: Path,
                                               demo_frames: dict[str, pd.DataFrame], demo_end: datetime) -> None:
    request = demo_frames["requests"].iloc[100]
    frame = _query(capsys, demo_store, demo_end, "operation.requests", "--op", request["operation_Id"])
    assert list(frame["id"]) == [request["id"]]


def test_traces_are_searched_with_the_text_match_and_severity(
    capsys: pytest.CaptureFixture[str], demo_store: Path, demo_end: datetime
) -> None:
    frame = _query(capsys, demo_store, demo_end, "traces.search", "--q", "prediction", "--severity", "1")
    assert len(frame) > 0
    assert frame["severityLevel"].ge(1).all()
    assert (frame["message"].str.contains("prediction", case=False) |
            frame["customDimensions"].str.contains("prediction", case=False)).all()


def test_a_dependency_and_an_exception_group_are_chosen_by_name(
    capsys: pytest.CaptureFixture[str], demo_store: Path, demo_frames: dict[str, pd.DataFrame], demo_end: datetime
) -> None:
    target = demo_frames["dependencies"]["target"].value_counts().index[0]
    codes = _query(capsys, demo_store, demo_end, "dependencies.codes", "--dependency", target)
    calls = demo_frames["dependencies"]
    mine = calls[(calls["target"] == target) & (calls["timestamp"] >= demo_end - timedelta(days=7))
                 & (calls["timestamp"] < demo_end)]
    assert codes["calls"].sum() == mine["itemCount"].sum()
    problem = demo_frames["exceptions"]["problemId"].value_counts().index[0]
    samples = _query(capsys, demo_store, demo_end, "exceptions.samples", "--problem", problem)
    raised = demo_frames["exceptions"]
    assert len(samples) > 0 and set(samples["type"]) == set(raised.loc[raised["problemId"] == problem, "type"])


def test_kql_of_a_panel_that_needs_a_parameter_says_which(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kql", "operation.requests"]) == 2
    assert "operation.requests needs --op" in capsys.readouterr().err
    assert main(["kql", "operation.requests", "--op", "0af7651916cd43dd8448eb211c80319c"]) == 0
    # a request's id: its operation id, or the inference server's own Request Id (telemetry/derived.py)
    assert 'req_id == "0af7651916cd43dd8448eb211c80319c"' in capsys.readouterr().out
