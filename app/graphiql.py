"""GraphiQL served entirely from this server, so it works on closed networks.

The scripts and styles (GraphiQL 2.x UMD build, React 17, graphql-ws, the explorer plugin) come from
the installed `graphene-django-graphiql-static` package; only the page that mounts them is ours.
"""
from importlib.resources import files
from pathlib import Path
from string import Template

from aiohttp import web

ASSETS_URL = "/graphiql-assets"
_PACKAGE = "graphene_django_graphiql_static"

_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Billing API · GraphiQL</title>
  <style>html, body, #graphiql { height: 100%; margin: 0; overflow: hidden; width: 100%; }</style>
  <link rel="stylesheet" href="$assets/graphiql.min.css">
  <link rel="stylesheet" href="$assets/style.css">
</head>
<body>
  <div id="graphiql">Loading…</div>
  <script src="$assets/react.production.min.js"></script>
  <script src="$assets/react-dom.production.min.js"></script>
  <script src="$assets/graphiql.min.js"></script>
  <script src="$assets/graphql-ws.min.js"></script>
  <script src="$assets/graphiql-plugin-explorer.umd.js"></script>
  <script>
    const DEFAULT_QUERY = [
      "# Billing API",
      "#",
      "# Every request needs a secret key. Put it in the",
      "# Headers tab below:",
      "#",
      '#   {"Authorization": "Bearer sk_test_..."}',
      "#",
      "# `billing dev` prints one; `billing create-key` makes",
      "# more. Headers are kept in this browser. Then re-fetch",
      "# the schema (Shift-Ctrl-R) for docs and completion,",
      "# and run a query with Ctrl-Enter.",
      "",
      "{",
      "  products(first: 5) {",
      "    nodes { id name active }",
      "  }",
      "}",
      "",
    ].join("\\n");

    const url = location.origin + location.pathname;
    const wsUrl = url.replace(/^http/, "ws");

    // Websockets carry no HTTP headers: the key goes in connection_init's payload (graphql-transport-ws),
    // so the websocket client is rebuilt whenever the Authorization header changes.
    let auth = null, wsClient = null, graphiqlFetcher = null;
    function fetcher(params, opts) {
      const headers = (opts && opts.headers) || {};
      const name = Object.keys(headers).find((key) => key.toLowerCase() === "authorization");
      const value = name ? String(headers[name]) : "";
      if (graphiqlFetcher === null || value !== auth) {
        if (wsClient) wsClient.dispose();
        auth = value;
        const connectionParams = value ? {authorization: value} : {};
        wsClient = graphqlWs.createClient({url: wsUrl, lazy: true, connectionParams});
        graphiqlFetcher = GraphiQL.createFetcher({url, wsClient});
      }
      return graphiqlFetcher(params, opts);
    }

    function App() {
      const [query, setQuery] = React.useState(undefined);
      const explorer = GraphiQLPluginExplorer.useExplorerPlugin({query, onEdit: setQuery});
      return React.createElement(GraphiQL, {
        fetcher, query, onEditQuery: setQuery, plugins: [explorer], defaultQuery: DEFAULT_QUERY,
        isHeadersEditorEnabled: true, shouldPersistHeaders: true, defaultEditorToolsVisibility: "headers",
      });
    }
    ReactDOM.render(React.createElement(App), document.getElementById("graphiql"));
  </script>
</body>
</html>
""").substitute(assets=ASSETS_URL)


def add_assets_route(app: web.Application) -> None:
    """Serve the package's GraphiQL files under ASSETS_URL."""
    directory = Path(str(files(_PACKAGE) / "static" / _PACKAGE))
    app.router.add_static(ASSETS_URL, directory, name="graphiql-assets")


def render_page() -> web.Response:
    return web.Response(text=_PAGE, content_type="text/html")
