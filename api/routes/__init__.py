"""The API's routers: one module per resource, each route one call into the ``registry`` package."""
