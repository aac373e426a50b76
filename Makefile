# govern — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: demo test install lint clean-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# What the product needs to run.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

# Plus the test and lint tools.
$(DEV_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(DEV_STAMP)

install: $(DEV_STAMP)

## Run the product on the embedded default (SQLite + local-file broker) with demo data.
demo: $(STAMP)
	@DEBUG=$${DEBUG:-true} $(BIN)/python manage.py demo

## The whole test suite against PostgreSQL and Redis (local servers by default).
test: $(DEV_STAMP)
	DEBUG=true \
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/govern} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-demo:
	rm -rf var/
