"""The API's interactive docs (/api/v1/docs) render in headless Chromium from the hub's
own static files: every request the page makes goes to the hub on loopback (no CDN, no
validator badge), and Swagger UI lists the operations from /api/v1/openapi.json."""

from urllib.parse import urlsplit

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_docs_render_from_loopback_only(page, live_server, output_dir):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/api/v1/docs")
    page.wait_for_selector('[data-path="/api/v1/messages"]')
    page.wait_for_selector('[data-path="/api/v1/template-sends"]')
    page.screenshot(path=str(output_dir / "api-docs.png"), full_page=False)
    hosts = {urlsplit(url).hostname for url in requested if not url.startswith("data:")}
    assert hosts == {urlsplit(live_server.url).hostname}, requested
    assert any(url.endswith("/api/v1/openapi.json") for url in requested)
    assert any("/static/ninja/swagger-ui-bundle.js" in url for url in requested)
