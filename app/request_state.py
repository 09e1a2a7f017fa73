"""What the HTTP middlewares attach to a request for the handlers after them."""
from aiohttp import web

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", object)
GRAPHQL_PAYLOAD = web.RequestKey("graphql_payload", dict)
OPERATION_NAME = web.RequestKey("operation_name", str)
