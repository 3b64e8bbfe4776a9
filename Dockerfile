# The router's image: the package and its locked dependencies (uv.lock) installed at build time, so
# a container boots without reaching a package registry. One image runs every role:
#   docker build -t hugai-llm .    docker run hugai-llm worker | sink | report ...
FROM python:3.11-slim

ENV UV_PROJECT_ENVIRONMENT=/opt/hugai \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    PATH=/opt/hugai/bin:$PATH
RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app
# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY streams streams
COPY providers providers
COPY analytics analytics
COPY dashboards dashboards
COPY config config
RUN uv sync --frozen --no-dev --no-editable

# Not root; the data directory (Faust's, chdb's when no ClickHouse server is set) is its own.
RUN useradd --system --home-dir /var/lib/hugai --create-home hugai
USER hugai
ENV HUGAI_CONFIG=/app/config/models.yaml \
    HUGAI_DATA_DIR=/var/lib/hugai \
    HUGAI_HTTP_HOST=0.0.0.0
EXPOSE 6066 6067
ENTRYPOINT ["hugai-llm"]
CMD ["worker"]
