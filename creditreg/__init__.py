"""The application: where the core (:mod:`registry`) and the HTTP API (:mod:`api`) are put together.

- :mod:`~creditreg.cli`: the ``creditreg`` command line, one command per part of the system;
- :mod:`~creditreg.system`: ``creditreg up``, how the whole system starts and stops on one
  machine (dev node, deployment, indexer and API threads, uvicorn);
- :mod:`~creditreg.demo`: ``creditreg demo``, a scenario played against a running API.

Nothing below imports this package: the core knows nothing of HTTP, the API nothing of how it
is started.
"""
