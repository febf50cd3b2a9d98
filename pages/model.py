"""Model: has what the service is asked, or what it answers, drifted from a reference, and is
what it logs still well-formed? Features of the logged inputs and predictions, computed where the
data is (telemetry/queries/model_monitoring.py), distances in telemetry/drift.py."""

from __future__ import annotations

import streamlit as st

from components.auth import require_sign_in
from components.filters import current_filters, url_params, write_url
from components.model_charts import distribution_overlay, drift_over_time
from components.panels import empty_text, show_panel
from components.source import current_source, run_panels
from components.tables import download_buttons, show_table
from components.telemetry_rows import plain
from components.url_params import set_params, synced_key
from components.view import live, page_heading
from telemetry.drift import Thresholds, drift_table, histograms, over_time, service_findings
from telemetry.model import RenderContext
from telemetry.queries.model_monitoring import (
    THRESHOLD_PARAMS,
    Reference,
    reference_params,
    view_from_params,
)
from telemetry.results import Outcome, QueryResult

require_sign_in()  # here too: Streamlit's legacy pages/ routing can run this file without app.py
filters = current_filters()
schema = current_source().kql_schema
ctx = RenderContext.of(filters)
view, _warnings = view_from_params(url_params(), ctx.window, filters.services)
page_heading("Model", f"{filters.time.label()} against {view.reference.label(ctx.window)} · times in UTC · "
             "inputs and predictions as the scoring script logged them, weighted by itemCount")
for warning in _warnings:
    st.warning(warning, icon=":material/link_off:")

_REFERENCES = {"previous": "The window before (2x)", "window": "A chosen window", "service": "Another deployment"}
_LABELS = {"wasserstein": "Normalized Wasserstein", "jensen_shannon": "Jensen-Shannon", "psi": "PSI",
           "p_value": "p-value (KS, chi-squared)", "null_rate": "Missing rate", "type_error_rate": "Type-error rate",
           "out_of_range_rate": "Out-of-range rate"}


_FMT = "%Y-%m-%dT%H:%MZ"


def _on_reference(key: str) -> None:
    kind = st.session_state[key]
    if kind == "window":
        start, end = ctx.window.start - 2 * ctx.window.length, ctx.window.start
        set_params(**reference_params(Reference("window", start, end)))
    elif kind != "service":  # a deployment waits for its name
        set_params(**reference_params(Reference()))


def _on_threshold(param: str, key: str, default: float) -> None:
    value = st.session_state[key]
    set_params(**{param: None if value is None or value == default else f"{value:g}"})


def _controls() -> None:
    left, right = st.columns([2, 3])
    with left:
        key = synced_key("ref", view.reference.kind)
        kind = st.segmented_control("Reference", list(_REFERENCES), key=key, format_func=_REFERENCES.get,
                                    on_change=_on_reference, args=(key,),
                                    help="What the current window is compared with. Azure ML's default is the window "
                                         "of twice the current one's length just before it.")
        if kind == "window":
            ref = view.reference.window(ctx.window)
            a, b = st.columns(2)
            k_from, k_to = synced_key("ref_from", ref.start.strftime(_FMT)), synced_key("ref_to", ref.end.strftime(_FMT))
            a.text_input("Reference from (UTC)", key=k_from,
                         on_change=lambda: set_params(ref="window", ref_from=st.session_state[k_from]))
            b.text_input("Reference to (UTC)", key=k_to,
                         on_change=lambda: set_params(ref="window", ref_to=st.session_state[k_to]))
        elif kind == "service":
            k_svc = synced_key("ref_service", view.reference.service or "")
            st.text_input("Other deployment (cloud_RoleName)", key=k_svc,
                          help="Blue/green: the same model served by another service, over the same window.",
                          on_change=lambda: set_params(**reference_params(
                              Reference("service", service=st.session_state[k_svc] or None)
                              if st.session_state[k_svc] else Reference())))
    with right.expander("Thresholds (Azure ML's defaults)"):
        cols = st.columns(4)
        for i, (param, name) in enumerate(THRESHOLD_PARAMS.items()):
            key = synced_key(param, float(getattr(view.thresholds, name)))
            cols[i % 4].number_input(_LABELS[name], min_value=0.0, max_value=10.0, step=0.01, format="%.3f", key=key,
                                     on_change=_on_threshold, args=(param, key, getattr(Thresholds(), name)))


def _services(result: QueryResult) -> list[str]:
    """Services with logged calls in the answer, the most drifted first, then the busiest."""
    frame = result.frame
    calls = frame[frame["part"] == "calls"].groupby("service")["w_cur"].sum()
    drifted = {s: int(drift_table(frame, s, view.thresholds)["drifted"].sum()) for s in calls.index}
    return sorted(calls.index, key=lambda s: (-drifted[s], -float(calls[s]), s))


def _choose_service(result: QueryResult | None) -> str | None:
    if len(filters.services) == 1:
        return filters.services[0]
    options = _services(result) if result is not None else []
    if not options:
        return None
    choice = st.selectbox("Service", options, help="Features are compared per service: each model has its own. "
                          "The service with the most drifted features comes first.", key="model.service")
    if choice != options[0]:
        write_url(filters.with_changes(services=(choice,)))
        st.rerun(scope="app")
    return choice


_TABLE = {"feature": "Feature", "kind": "Kind", "flag": "Drift", "metric": "Metric", "value": "Value",
          "threshold": "Threshold", "jensen_shannon": "Jensen-Shannon", "psi": "PSI", "normalized_wasserstein":
          "Normalized Wasserstein", "ks_statistic": "KS D", "ks_p_value": "KS p", "chi2_p_value": "Chi-squared p",
          "values_ref": "Values (reference)", "values_cur": "Values (current)", "breaches": "Breaches", "note": "Note"}


def _drift(service: str, result: QueryResult) -> None:
    table = drift_table(result.frame, service, view.thresholds)
    found = service_findings(result.frame, service)
    if table.empty:
        st.info(f"No features could be read from {plain(service)}'s logged calls in {filters.time.label()}.",
                icon=":material/info:")
        return
    compared = table[table["metric"].notna()]
    a, b, c, d = st.columns(4)
    a.metric("Features drifted", f"{int(table['drifted'].sum())} of {len(compared)}")
    b.metric("Calls read (current)", f"{found['ok']:,.0f}")
    c.metric("Calls read (reference)", f"{found['reference_calls']:,.0f}")
    d.metric("Predictions drifted", f"{int(table.loc[table['role'] == 'output', 'drifted'].sum())}")
    shown = table.assign(flag=table["drifted"].map({True: "⚠ drifted", False: ""}))
    show_table(shown, key="model.drift", columns=_TABLE)
    st.caption("Sorted by the primary metric over its threshold (numeric: normalized Wasserstein; categorical: "
               "Jensen-Shannon). Breaches lists every metric past its threshold; p-values count stored rows, "
               "distances itemCount. Ids (mostly distinct values) and nested JSON are listed, not compared.")
    download_buttons(histograms(result.frame, service), key="model.histograms", prefix="Histograms as ")


def _distribution(service: str, result: QueryResult) -> str | None:
    table = drift_table(result.frame, service, view.thresholds)
    options = list(table.loc[table["metric"].notna(), "feature"])
    if not options:
        st.info("No numeric or categorical feature to draw.", icon=":material/info:")
        return None
    chosen = view.feature if view.feature in options else options[0]
    key = synced_key("feature", chosen)
    if st.session_state.get(key) not in options:
        st.session_state[key] = chosen
    feature = st.selectbox("Feature", options, key=key, on_change=lambda: set_params(feature=st.session_state[key]))
    hist = histograms(result.frame, service)
    own = hist[hist["feature"] == feature]
    st.plotly_chart(distribution_overlay(own, feature), key="model.distribution.chart")
    row = table[table["feature"] == feature].iloc[0]
    st.caption(f"{plain(feature)}: {row['metric']} {row['value']:.4f} (threshold {row['threshold']:g}); "
               "numeric features on Sturges' equal-width bins over the combined range, shares of itemCount.")
    return str(feature)


def _over_time(service: str, result: QueryResult, feature: str | None) -> None:
    table = drift_table(result.frame, service, view.thresholds)
    compared = table[table["metric"].notna()]
    wanted = list(compared.loc[compared["role"] == "output", "feature"])
    if feature and feature not in wanted and feature == view.feature:
        wanted.append(feature)  # the query reads a chosen input over time only once it is in the URL
    if not wanted:
        st.info("No prediction of this service is numeric or categorical.", icon=":material/info:")
        return
    for name in wanted:
        series = over_time(result.frame, service, name, view.thresholds)
        if series.empty:
            continue
        metric = str(series["metric"].iloc[0])
        limit = view.thresholds.wasserstein if metric == "normalized_wasserstein" else view.thresholds.jensen_shannon
        st.plotly_chart(drift_over_time(series, metric=metric, threshold=limit, title=name),
                        key=f"model.over_time.{name}")
    st.caption("Each bucket of the current window against the whole reference (a quarter of the fine bins, over "
               "the same range), beside the calls logged in it: small buckets are noisy.")


def _quality(service: str, result: QueryResult) -> None:
    table = drift_table(result.frame, service, view.thresholds)
    found = service_findings(result.frame, service)
    t = view.thresholds
    lines = []
    if found["cut"]:
        lines.append(f"{found['cut']:,.0f} of {found['calls']:,.0f} calls logged a payload cut at the 8,192-character "
                     "property limit: left out of every figure.")
    if found["unparsed"]:
        lines.append(f"{found['unparsed']:,.0f} calls logged a payload that is not a JSON object or array: left out.")
    if found["features_left_out"]:
        lines.append(f"{found['features_left_out']:,.0f} features past the first 100 (by values) were left out.")
    new = table[table["note"] == "not in the reference"]
    if len(new):
        lines.append(f"New features, not in the reference: {', '.join(plain(f) for f in new['feature'][:10])}.")
    for line in lines:
        st.warning(line, icon=":material/rule:")
    rates = table[["feature", "kind", "missing_rate", "type_error_rate", "out_of_range_rate"]]
    breached = rates[(rates["missing_rate"] > t.null_rate) | (rates["type_error_rate"] > t.type_error_rate)
                     | (rates["out_of_range_rate"] > t.out_of_range_rate)]
    if breached.empty and not lines:
        st.success("Every feature is present, of its reference type and within its reference range or categories.",
                   icon=":material/check_circle:")
    if not breached.empty:
        show_table(breached, key="model.quality", columns={
            "feature": "Feature", "kind": "Kind", "missing_rate": "Missing or null", "type_error_rate": "Wrong type",
            "out_of_range_rate": "Out of range / new category"})
    st.caption("Rates of the current window's records (sum of itemCount). Range: the reference's min and max; "
               "categories: those the reference had. Type: the reference's usual JSON type.")


def _render() -> list[Outcome]:
    _controls()
    queries = view.queries()
    outcomes = run_panels(queries, ctx)
    main = outcomes[0] if isinstance(outcomes[0], QueryResult) else None
    service = _choose_service(main)
    nothing = empty_text("logged inputs or predictions", ctx)
    if service is None:
        show_panel("Feature drift", outcomes[0], query=queries[0], ctx=ctx, schema=schema,
                   empty_text=nothing, render=lambda r: st.info(nothing, icon=":material/info:"))
        return outcomes
    title = plain(service)
    show_panel(f"Feature drift of {title}", outcomes[0], query=queries[0], ctx=ctx, schema=schema, empty_text=nothing,
               render=lambda r: _drift(service, r))
    chosen: list[str | None] = [None]
    show_panel("Reference and current distributions", outcomes[0], query=queries[0], ctx=ctx, schema=schema,
               empty_text=nothing, render=lambda r: chosen.__setitem__(0, _distribution(service, r)),
               panel_id="model.distribution")
    show_panel("Drift over time, beside the logged calls", outcomes[0], query=queries[0], ctx=ctx, schema=schema,
               empty_text=nothing, render=lambda r: _over_time(service, r, chosen[0]), panel_id="model.over_time")
    show_panel("Data quality", outcomes[0], query=queries[0], ctx=ctx, schema=schema, empty_text=nothing,
               render=lambda r: _quality(service, r), panel_id="model.quality")
    return outcomes


live(_render)
