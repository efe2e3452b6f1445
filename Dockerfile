# The registry's Python services (deploy, indexer, API) for docker-compose. Contracts are deployed
# from the committed artifacts, so the image needs no compiler and no Node.
FROM python:3.11-slim

WORKDIR /app
# The runtime lock: what runs, without the test and analysis tools of requirements.lock (pytest,
# slither, mypy), at the same versions (`make lock` writes both).
COPY requirements-runtime.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements-runtime.lock
COPY registry ./registry
COPY api ./api
COPY creditreg ./creditreg
RUN pip install --no-cache-dir --no-deps .

# /admin holds the consortium admin's key: docker-compose.yml mounts it in `deploy` only.
RUN useradd --create-home creditreg && mkdir /state /admin && chown creditreg /state /admin \
    && chmod 700 /admin
USER creditreg
ENV CREDITREG_STATE_DIR=/state
ENTRYPOINT ["creditreg"]
