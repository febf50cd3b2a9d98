"""The Alert action in headless Chromium: switched on under the failure-rate chart, it draws the
preview with the threshold and gives the rule's blocks and downloads; screenshot in
test-artifacts/screenshots/."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import CHART, assert_no_error, open_drawn, screenshot, settle

pytestmark = pytest.mark.browser


def test_the_alert_switch_draws_the_preview_and_downloads_the_rule(page: Page, app_url: str) -> None:
    open_drawn(page, f"{app_url}/failure-rate?range=24h&panel=failures.rate", height=2400)
    page.get_by_text("Alert", exact=True).click()
    settle(page)
    expect(page.locator(CHART).nth(1)).to_be_visible(timeout=30_000)  # the panel's chart, then the preview
    expect(page.get_by_text("threshold ", exact=False).first).to_be_visible()
    expect(page.get_by_text("Would not have fired in the shown range", exact=False)).to_be_visible()
    assert_no_error(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download ARM JSON").click()
    template = json.loads(download.value.path().read_text())
    assert template["resources"][0]["apiVersion"] == "2023-12-01"
    assert "panel=failures.rate" in template["resources"][0]["properties"]["description"]
    page.wait_for_timeout(500)
    screenshot(page, "alert-failure-rate-light")
