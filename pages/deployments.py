"""Deployments: an Azure ML online endpoint's own logs, per deployment. The traffic split, status
codes with their reasons, true latency percentiles and where the time goes, payload sizes, the
containers' events drawn on the charts, and two deployments side by side (blue against green)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.auth import require_sign_in
from components.charts import duration_histogram
from components.deployment_charts import PERCENTILE_DASH, event_clusters, mark_events, per_deployment_chart
from components.filters import current_filters, url_text
from components.panels import show_panel
from components.source import reads_endpoint_logs, run_panels
from components.url_params import choose_in_url
from components.view import focused_panel, live, page_heading, shows
from telemetry.endpoint_logs import EVENT_LOG, TRAFFIC_LOG, diagnostic_setting_hint, workspace_only_message
from telemetry.errors import WorkspaceOnlyError
from telemetry.filters import grain_name
from telemetry.markdown_text import plain
from telemetry.model import Query, RenderContext
from telemetry.queries.deployments import (
    DISTRIBUTION_BUCKET,
    EVENT_LIMIT,
    TROUBLE_EVENTS,
    code_table,
    comparison,
    default_pair,
    page_view,
    stage_table,
)
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
# These tables exist only in workspaces: a classic resource is told so and asked nothing; the
# local store keeps them under their workspace names, so its panels show workspace KQL.
_classic_scope = not reads_endpoint_logs()
schema = "workspace"
_ctx = RenderContext.of(filters)
page_heading("Deployments", f"{filters.time.label()} · bins of {grain_name(_ctx.grain)} · times in UTC · "
             "from the endpoint's own logs (every request, unsampled) · the sidebar's services, operation and "
             "code do not apply here")


def _failure_rate(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(failure_rate=frame["failed"].astype("float64") / frame["requests"].astype("float64"))


def _glance(result: QueryResult) -> None:
    frame = _failure_rate(result.frame)
    total = float(frame["requests"].sum())
    for col, row in zip(st.columns(max(len(frame), 1)), frame.itertuples(), strict=False):
        col.metric(f"{row.deployment}: requests", f"{int(row.requests):,}", help="Share of the endpoint's requests")
        col.caption(f"{row.requests / total:.1%} of traffic · failure rate {row.failure_rate:.2%} · "
                    f"p95 {row.total_p95_ms:,.0f} ms")


def _traffic(result: QueryResult) -> None:
    st.plotly_chart(per_deployment_chart(result.frame, "requests", y_title="requests", kind="bar"),
                    key="deployments.traffic.chart")


def _failures(result: QueryResult, clusters: pd.DataFrame) -> None:
    frame = _failure_rate(result.frame)
    fig = per_deployment_chart(frame, "failure_rate", y_title="failure rate")
    mark_events(fig, clusters, y=float(frame["failure_rate"].max() or 0.0))
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    st.plotly_chart(fig, key="deployments.failures.chart")
    st.caption("Failed: ResponseCode 400 or more. Triangles and dotted lines: container events (red: probe "
               "failures and back-offs of a crashing container; grey: starts and planned restarts); hover a triangle for what happened.")


def _codes(result: QueryResult) -> None:
    table = code_table(result.frame)
    st.dataframe(
        table, hide_index=True, key="deployments.codes.table",
        column_order=["deployment", "code", "reason", "requests", "share", "explanation"],
        column_config={
            "deployment": "Deployment", "code": st.column_config.NumberColumn("Code", format="%d"),
            "reason": "Reason", "requests": "Requests",
            "share": st.column_config.NumberColumn("Share of deployment", format="percent"),
            "explanation": st.column_config.TextColumn("What it means", width="large"),
        },
    )


def _latency(result: QueryResult, clusters: pd.DataFrame) -> None:
    fig = None
    for column, dash in PERCENTILE_DASH.items():
        fig = per_deployment_chart(result.frame, column, y_title="ms", dash=dash, figure=fig,
                                   suffix=" " + column.split("_")[1])
    assert fig is not None
    mark_events(fig, clusters, y=float(result.frame["total_p95_ms"].max() or 1.0))
    fig.update_yaxes(type="log", dtick=1, title_text="TotalDurationMs (ms, log)")  # a tick a decade
    st.plotly_chart(fig, key="deployments.latency.chart")
    st.caption("p50 dotted, p95 solid: true percentiles over every request's TotalDurationMs (p99 in the tables "
               "below). Triangles: container events, as on the failure rate.")


def _stages(result: QueryResult, first_byte: Outcome, upload: Outcome) -> None:
    table = result.frame[["deployment", "requests", "total_p50_ms", "total_p95_ms", "total_p99_ms"]]
    for other in (first_byte, upload):
        if isinstance(other, QueryResult):
            table = table.merge(other.frame.drop(columns="requests"), on="deployment", how="left")
    table = table.merge(stage_table(result.frame), on="deployment")
    ms = {c: st.column_config.NumberColumn(c.replace("_ms", " (ms)").replace("_", " "), format="%.1f")
          for c in table.columns if c.endswith("_ms")}
    st.dataframe(table, hide_index=True, key="deployments.stages.table", column_config={
        **ms, "deployment": "Deployment", "requests": "Requests",
        "upload_ms": st.column_config.NumberColumn("mean upload (ms)", format="%.1f"),
        "model_ms": st.column_config.NumberColumn("mean model, to first byte (ms)", format="%.1f"),
        "download_ms": st.column_config.NumberColumn("mean download (ms)", format="%.1f"),
        "throttle_ms": st.column_config.NumberColumn("mean throttling delay (ms)", format="%.2f"),
        "throttled_share": st.column_config.NumberColumn("throttled requests", format="percent"),
    })
    st.caption("total = TotalDurationMs; first byte = ResponseDurationMs (the model's first byte, from the request's "
               "start); upload = RequestDurationMs. The means add up: upload + model + download = mean total.")


def _payloads(result: QueryResult) -> None:
    fig = per_deployment_chart(result.frame, "request_bytes", y_title="bytes (mean)", suffix=" request")
    fig = per_deployment_chart(result.frame, "response_bytes", y_title="bytes (mean)", dash="dash", figure=fig,
                               suffix=" response")
    st.plotly_chart(fig, key="deployments.payloads.chart")
    largest = result.frame.groupby("deployment")[["max_request_bytes", "max_response_bytes"]].max()
    st.caption("Mean payload per bin (requests solid, responses dashed). Largest in the range: " + "; ".join(
        f"{plain(d)}: request {int(r.max_request_bytes):,} B, response {int(r.max_response_bytes):,} B"
        for d, r in largest.iterrows()))


def _events(result: QueryResult, clusters: pd.DataFrame) -> None:
    if len(result.frame) >= EVENT_LIMIT:
        st.caption(f"The first {EVENT_LIMIT} events of the range; narrow it to see later ones.")
    per_instance = result.frame.pivot_table(index=["deployment", "instance"], columns="name", values="timestamp",
                                            aggfunc="count", fill_value=0).reset_index()
    st.dataframe(per_instance, hide_index=True, key="deployments.instances.table")
    st.dataframe(clusters.assign(start=clusters["start"].dt.tz_convert(None)), hide_index=True,
                 key="deployments.bursts.table", column_order=["start", "deployment", "instance", "trouble", "what"],
                 column_config={"start": st.column_config.DatetimeColumn("Started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
                                "trouble": st.column_config.CheckboxColumn("Trouble"),
                                "what": st.column_config.TextColumn("Events", width="large")})


def _compare(result: QueryResult, latency: Outcome, first_byte: Outcome, upload: Outcome, pair: tuple[str, str]) -> None:
    deployment, against = pair
    if not all(isinstance(o, QueryResult) for o in (latency, first_byte, upload)):
        st.error("The per-deployment figures could not be loaded; see the panels above.", icon=":material/error:")
        return
    table = comparison(latency.frame, first_byte.frame, upload.frame, deployment, against)  # type: ignore[union-attr]
    st.dataframe(table, hide_index=True, key="deployments.compare.table",
                 column_order=["measure", deployment, against, "change", "worse"],
                 column_config={"measure": "Measure", deployment: st.column_config.NumberColumn(deployment),
                                against: st.column_config.NumberColumn(against),
                                "change": st.column_config.NumberColumn(f"{deployment} against {against}",
                                                                        format="percent"),
                                "worse": st.column_config.CheckboxColumn("worse by over 5 %")})
    rows = latency.frame.set_index("deployment")  # type: ignore[union-attr]
    for col, name in zip(st.columns(2), (deployment, against), strict=True):
        with col:
            st.markdown(f"**{plain(name)}**: TotalDurationMs distribution")
            mine = result.frame[result.frame["deployment"] == name]
            if mine.empty:
                st.info(f"No requests to {plain(name)} in this range.", icon=":material/info:")
                continue
            markers = {p: float(rows.at[name, f"total_{p}_ms"]) for p in ("p50", "p95", "p99")} \
                if name in rows.index else {}
            st.plotly_chart(duration_histogram(mine, DISTRIBUTION_BUCKET, markers=markers),
                            key=f"deployments.compare.{'left' if name == deployment else 'right'}")


def _outcomes(queries: list[Query], ctx: RenderContext) -> list[Outcome]:
    if _classic_scope:
        return [WorkspaceOnlyError(workspace_only_message(q.table)) for q in queries]
    return run_panels(queries, ctx)


def _render() -> list[Outcome]:
    ctx = RenderContext.of(filters)
    endpoint = url_text("endpoint")
    queries = page_view(endpoint)
    outcomes = _outcomes(queries, ctx)
    (endpoints_out, traffic_out, codes_out, over_time_out, latency_out, first_byte_out, upload_out, dist_out,
     payloads_out, events_out) = outcomes
    no_traffic = (f"No requests in {TRAFFIC_LOG} in {filters.time.label()}"
                  + (f" for endpoint {endpoint}" if endpoint else "") + ". " + diagnostic_setting_hint([TRAFFIC_LOG]))
    panel = {"ctx": ctx, "schema": schema, "empty_text": no_traffic}
    clusters = (event_clusters(events_out.frame, TROUBLE_EVENTS) if isinstance(events_out, QueryResult)
                else event_clusters(pd.DataFrame(), TROUBLE_EVENTS))
    several = isinstance(endpoints_out, QueryResult) and endpoints_out.frame["endpoint"].nunique() > 1
    if focused_panel() is None and (endpoint or several):
        names = sorted(endpoints_out.frame["endpoint"].astype(str).unique()) if isinstance(endpoints_out,
                                                                                            QueryResult) else []
        choose_in_url("endpoint", "Endpoint", names, endpoint, placeholder="(all endpoints)")
    show_panel("Deployments at a glance", latency_out, query=queries[4], panel_id="deployments.glance",
               render=_glance, **panel)
    show_panel("Traffic per deployment", traffic_out, query=queries[1], render=_traffic, **panel)
    show_panel("Failure rate per deployment, with container events", traffic_out, query=queries[1],
               panel_id="deployments.failures", render=lambda r: _failures(r, clusters), **panel)
    show_panel("Status codes and what they mean", codes_out, query=queries[2], render=_codes, **panel)
    show_panel("Latency per deployment (TotalDurationMs), with container events", over_time_out, query=queries[3],
               render=lambda r: _latency(r, clusters), **panel)
    show_panel("Where the time goes", latency_out, query=queries[4], panel_id="deployments.stages",
               render=lambda r: _stages(r, first_byte_out, upload_out), **panel)
    show_panel("Payload sizes", payloads_out, query=queries[8], render=_payloads, **panel)
    show_panel("Container events per instance", events_out, query=queries[9], render=lambda r: _events(r, clusters),
               **{**panel, "empty_text": f"No container events in {EVENT_LOG} in {filters.time.label()}. "
                  + diagnostic_setting_hint([EVENT_LOG])})
    if shows("deployments.compare"):
        _comparison(endpoint, endpoints_out, dist_out, latency_out, first_byte_out, upload_out, queries[7], panel)
    return outcomes


def _comparison(endpoint: str | None, endpoints_out: Outcome, dist_out: Outcome, latency_out: Outcome,
                first_byte_out: Outcome, upload_out: Outcome, query: Query, panel: dict) -> None:
    known = endpoints_out.frame if isinstance(endpoints_out, QueryResult) else pd.DataFrame(
        columns=["endpoint", "deployment", "requests", "first_seen"])
    newest, busiest = default_pair(known, endpoint)
    deployment, against = url_text("deployment") or newest, url_text("against") or busiest
    names = sorted(known["deployment"].astype(str).unique())
    left, right = st.columns(2)
    with left:
        choose_in_url("deployment", "Compare deployment", names, url_text("deployment"),
                      placeholder=f"(newest: {newest})" if newest else "(a deployment)")
    with right:
        choose_in_url("against", "against", names, url_text("against"),
                      placeholder=f"(busiest other: {busiest})" if busiest else "(another deployment)")
    if not deployment or not against or deployment == against:
        st.info("Choose two different deployments to compare them side by side.", icon=":material/compare:")
        return
    show_panel(f"{deployment} against {against}", dist_out, query=query, panel_id="deployments.compare",
               render=lambda r: _compare(r, latency_out, first_byte_out, upload_out, (deployment, against)), **panel)


live(_render)
