# Every target bootstraps what it needs, so a fresh clone runs `make run` or `make test` directly.
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test install kafka cluster clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==0.13.9"

$(BIN)/hugai-llm: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --extra test --python $(PYTHON)
	@touch $@

uv.lock: pyproject.toml | $(UV)
	$(UV) lock --python $(PYTHON)

install: $(BIN)/hugai-llm

# Fetches the Kafka jars from Maven Central into the cache (once).
kafka: install
	$(BIN)/hugai-llm kafka fetch

# `make run BROKERS=3`: the same stack on a local 3-node KRaft cluster (topics at 3 copies).
BROKERS ?= 1
RUN_ARGS ?=
run: kafka
	$(BIN)/hugai-llm dev --demo --brokers $(BROKERS) $(RUN_ARGS)

# A local Kafka alone, in the foreground: `make cluster BROKERS=3` prints its KAFKA_BOOTSTRAP_SERVERS.
cluster: kafka
	$(BIN)/hugai-llm kafka start --brokers $(BROKERS)

test: kafka
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(TOOLS) .data .pytest_cache
