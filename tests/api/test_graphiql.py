"""GraphiQL at GET /graphql works offline: every script and stylesheet comes from this server."""
import json
import os
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import pytest
from browser import chromium, find_chromium

from app.graphiql import ASSETS_URL

REQUIRE_BROWSER = os.environ.get("BILLING_REQUIRE_BROWSER") == "1"
PACKAGE_ASSETS = files("graphene_django_graphiql_static") / "static" / "graphene_django_graphiql_static"
JS_TYPES = {"text/javascript", "application/javascript"}


class AssetLinks(HTMLParser):
    """Collects (tag, url) for every <script src> and <link href>."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attr = {"script": "src", "link": "href"}.get(tag)
        if attr and dict(attrs).get(attr):
            self.links.append((tag, dict(attrs)[attr]))


async def test_page_loads_every_asset_from_this_server(api):
    response = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status == 200 and response.content_type == "text/html"
    page = await response.text()
    assert "GraphiQL.createFetcher" in page and "isHeadersEditorEnabled: true" in page
    for word in ("unpkg", "jsdelivr", "cdn"):
        assert word not in page.lower()
    parser = AssetLinks()
    parser.feed(page)
    assert {PurePosixPath(url).name for _, url in parser.links} >= {
        "graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js",
        "graphql-ws.min.js", "graphiql-plugin-explorer.umd.js"}
    for tag, url in parser.links:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc and url.startswith(ASSETS_URL + "/"), url
        asset = await api.client.get(url)  # no API key: the assets are public
        assert asset.status == 200, url
        assert asset.content_type in (JS_TYPES if tag == "script" else {"text/css"}), (url, asset.content_type)
        assert await asset.read() == (PACKAGE_ASSETS / PurePosixPath(url).name).read_bytes()


async def test_asset_route_serves_only_the_package_directory(api):
    for path in ("/graphiql-assets/missing.js", "/graphiql-assets/../app/config.py",
                 "/graphiql-assets/%2e%2e/%2e%2e/templates/graphene_django_graphiql_static/graphiql_mod.html"):
        response = await api.client.get(path)
        assert response.status in (403, 404), path


@pytest.fixture
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        if REQUIRE_BROWSER:
            pytest.fail("BILLING_REQUIRE_BROWSER=1 but Chromium is not installed (/usr/bin/chromium)")
        pytest.skip("needs Chromium (/usr/bin/chromium or `chromium` on PATH); BILLING_REQUIRE_BROWSER=1 fails instead")
    return binary


ACTIVE_TOOL = "document.querySelector('.graphiql-editor-tools .active')"
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor-wrapper .CodeMirror').CodeMirror"
HEADERS_EDITOR = "document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').CodeMirror"
RESPONSE = "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"


async def test_browser_runs_a_query_with_the_pasted_key(chromium_binary, api, tmp_path):
    product = (await api.ok('mutation { createProduct(input: {name: "Offline"}) { id } }'))["createProduct"]["id"]
    origin = str(api.client.make_url("/")).rstrip("/")
    headers = json.dumps({"Authorization": f"Bearer {api.secret}"})
    async with chromium(chromium_binary) as page:
        try:
            await page.load(f"{origin}/graphql")
            # The headers editor is open, the user pastes the key and a query, and runs it.
            assert await page.evaluate(f"{ACTIVE_TOOL}.textContent") == "Headers"
            await page.evaluate(f"{HEADERS_EDITOR}.setValue({json.dumps(headers)})")
            await page.evaluate(f"{QUERY_EDITOR}.setValue('{{ products(first: 1) {{ nodes {{ id }} }} }}')")
            await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
            assert json.loads(await page.wait_for(f"{RESPONSE}.includes('{product}') && {RESPONSE}")) == {
                "data": {"products": {"nodes": [{"id": product}]}}}

            # Nothing came from anywhere else; the websocket client points back here with the key.
            resources = await page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
            assert f"{origin}{ASSETS_URL}/graphiql.min.js" in resources
            assert all(name.startswith(origin + "/") for name in resources), resources
            assert await page.evaluate("wsUrl") == origin.replace("http://", "ws://") + "/graphql"
            assert await page.evaluate("auth") == f"Bearer {api.secret}"  # what connection_init will carry
            assert await page.evaluate(  # graphql-transport-ws handshake answered at that URL
                "new Promise((resolve, reject) => graphqlWs.createClient({url: wsUrl, lazy: false, "
                f"connectionParams: {{authorization: {json.dumps('Bearer ' + api.secret)}}}, "
                "retryAttempts: 0, on: {connected: () => resolve(true), closed: reject}}))")

            # The key survives a reload, so introspection works and the explorer lists the schema's fields.
            for key in ("graphiql:headers", "graphiql:tabState"):  # GraphiQL saves them debounced
                await page.wait_for(f"localStorage.getItem('{key}')?.includes('{api.secret}')")
            await page.load()
            assert json.loads(await page.evaluate(f"{HEADERS_EDITOR}.getValue()")) == json.loads(headers)
            await page.evaluate("document.querySelector('[aria-label=\"Show GraphiQL Explorer\"]').click()")
            await page.wait_for("document.querySelector('.graphiql-explorer-root')?.innerText.includes('products')")

            unexpected = [e for e in page.errors()  # the first introspection, before the key, is a 401
                          if not e.get("entry", {}).get("url", "").endswith(("/graphql", "/favicon.ico"))]
            assert not unexpected, unexpected
        except Exception:
            await page.screenshot(tmp_path / "graphiql.png")
            print(f"screenshot: {tmp_path / 'graphiql.png'}")
            raise
