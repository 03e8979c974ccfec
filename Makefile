# codetracer-recorder: every target a user or CI needs. `make help` lists them.
# The interpreters are found by scripts/find-python (the machine's default python3 may be too old).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PY312 := $(shell scripts/find-python 3.12 2>/dev/null)
PY313 := $(shell scripts/find-python 3.13 2>/dev/null)
VENV := .venv
VENV313 := .venv-3.13
SOURCES := Cargo.toml Cargo.lock pyproject.toml build.rs $(shell find src codetracer_recorder codetracer_python_recorder -name '*.rs' -o -name '*.c' -o -name '*.py' -o -name '*.pyi' 2>/dev/null)
PIP_QUIET := --quiet --disable-pip-version-check
# The test build has the failure-injection switch (tests make the core fail and panic on
# purpose, src/fault_injection.rs); the build of `setup`, `demo` and `bench` does not.
# Both use the same virtualenvs (maturin puts the module in the source tree), so the
# stamp names the build a virtualenv holds: .installed (release) or .installed-test.
TEST_FEATURES := fault-injection

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

.PHONY: setup
setup: $(VENV)/.installed ## make .venv (Python 3.12) with the recorder built and installed

.PHONY: build-deps
build-deps: ## install build prerequisites missing from a fresh machine (capnp, for runtime_tracing)
	@command -v capnp >/dev/null || { echo "installing capnproto (needed to build runtime_tracing)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq capnproto >/dev/null; }

# $(call make-venv,DIR,PYTHON,VERSION[,FEATURES]): FEATURES given makes the test build
# (maturin's --features replaces pyproject's list, so extension-module is named again).
define make-venv
	@test -n "$(2)" || { echo "error: no Python $(3) found; install it (e.g. pyenv install $(3))" >&2; exit 1; }
	@test -x $(1)/bin/python || $(2) -m venv $(1)
	$(1)/bin/pip install $(PIP_QUIET) 'maturin>=1.9,<2' pytest pytest-timeout hypothesis pyyaml 'coverage>=7.6' 'mypy>=1.10'
	VIRTUAL_ENV=$(CURDIR)/$(1) PATH=$(CURDIR)/$(1)/bin:$$PATH $(1)/bin/maturin develop --release --quiet $(if $(4),--features "extension-module $(4)")
	@rm -f $(1)/.installed $(1)/.installed-test
	@touch $(1)/$(if $(4),.installed-test,.installed)
endef

$(VENV)/.installed: $(SOURCES) | build-deps
	$(call make-venv,$(VENV),$(PY312),3.12)

$(VENV313)/.installed: $(SOURCES) | build-deps
	$(call make-venv,$(VENV313),$(PY313),3.13)

$(VENV)/.installed-test: $(SOURCES) | build-deps
	$(call make-venv,$(VENV),$(PY312),3.12,$(TEST_FEATURES))

$(VENV313)/.installed-test: $(SOURCES) | build-deps
	$(call make-venv,$(VENV313),$(PY313),3.13,$(TEST_FEATURES))

.PHONY: demo
demo: setup ## record the programs in examples/ into ./trace-out and summarise them; then one with OpenTelemetry console exporters (stderr)
	@rm -rf trace-out
	@for script in examples/*.py; do \
	  name=$$(basename $$script .py); \
	  $(VENV)/bin/python -m codetracer_recorder --trace-dir trace-out/$$name $$script > /dev/null || exit 1; \
	done
	@$(VENV)/bin/python -m codetracer_recorder.summary trace-out/*
	@echo "== examples/fibonacci.py with the OpenTelemetry console exporters (they write to stderr) ==" >&2
	@$(VENV)/bin/python -m codetracer_recorder --trace-dir trace-out/fibonacci-otel \
	  --traces_exporter console --metrics_exporter console --logs_exporter console \
	  --service_name demo --codetracer-log-level info examples/fibonacci.py > /dev/null

.PHONY: test
test: check-no-panics collector-validate test-rust check-stubs test-python ## run every test: the no-panic check, the Collector configs, cargo test, the native stub, then pytest on Python 3.12 and 3.13

.PHONY: check-no-panics
check-no-panics: ## fail if src/ uses unwrap()/expect(/panic! (and kin) outside test code
	scripts/check-no-panics src

.PHONY: test-rust
test-rust: $(VENV)/.installed-test ## Rust unit tests, and the reader test on traces of real programs
	PYO3_PYTHON=$(PY312) LD_LIBRARY_PATH=$$($(PY312) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))') \
	  CODETRACER_TEST_PYTHON=$(CURDIR)/$(VENV)/bin/python cargo test --quiet --features $(TEST_FEATURES)

.PHONY: check-stubs
check-stubs: $(VENV)/.installed-test ## check codetracer_recorder/_native.pyi against the built module (mypy.stubtest)
	$(VENV)/bin/python -m mypy.stubtest codetracer_recorder._native --allowlist .mypy-stubtest-allowlist

.PHONY: test-python
test-python: $(VENV)/.installed-test $(VENV313)/.installed-test ## pytest on Python 3.12 and 3.13 (test build), and the benchmark harness once
	$(VENV)/bin/python -m pytest -q
	$(VENV313)/bin/python -m pytest -q
	$(VENV)/bin/python -m benchmarks smoke --recorder-python $(VENV)/bin/python

COLLECTOR := collector-config/bin/otelcol
COLLECTOR_SOURCES := $(wildcard collector-config/distribution/*.go) collector-config/distribution/go.mod collector-config/distribution/go.sum

.PHONY: collector
collector: $(COLLECTOR) ## build the test Collector from its Go modules (minutes the first time, reused after)

$(COLLECTOR): $(COLLECTOR_SOURCES)
	@command -v go >/dev/null || { echo "error: building the Collector needs Go >= 1.26 (collector-config/README.md)" >&2; exit 1; }
	cd collector-config/distribution && go build -trimpath -ldflags='-s -w' -o ../bin/otelcol . \
	  || { echo "error: the Collector did not build (see above); it needs the Go module proxy" >&2; exit 1; }

.PHONY: collector-validate
collector-validate: $(COLLECTOR) ## check both Collector configs with the built Collector
	$(COLLECTOR) validate --config=collector-config/dev.yaml
	CODETRACER_BACKEND_ENDPOINT=https://backend.example CODETRACER_BACKEND_TOKEN=placeholder \
	  $(COLLECTOR) validate --config=collector-config/production.example.yaml

.PHONY: collector-run
collector-run: $(COLLECTOR) ## run the dev pipeline in the foreground: OTLP on 127.0.0.1:4317/4318, files in ./collector-out
	mkdir -p $${CODETRACER_COLLECTOR_OUT:-collector-out}
	$(COLLECTOR) --config=collector-config/dev.yaml

.PHONY: clean
clean: ## remove the virtualenvs, build output and traces
	rm -rf $(VENV) $(VENV313) target trace-out codetracer_recorder/*.so collector-config/bin collector-out

.PHONY: bench
bench: $(VENV)/.installed $(VENV313)/.installed ## overhead benchmark vs peers and the C floor, 3.12 and 3.13 (long; writes benchmarks/results, README, charts)
	$(VENV)/bin/python -m benchmarks run --profile full --recorder-python $(VENV)/bin/python
	$(VENV)/bin/python -m benchmarks run --profile full --recorder-python $(VENV313)/bin/python
	$(VENV)/bin/python -m benchmarks report

.PHONY: bench-quick
bench-quick: $(VENV)/.installed ## reduced benchmark on 3.12 for development (under 2 minutes; results stay in benchmarks/.work)
	$(VENV)/bin/python -m benchmarks run --profile quick --recorder-python $(VENV)/bin/python

.PHONY: bench-smoke
bench-smoke: $(VENV)/.installed ## run the benchmark harness once on a tiny workload and check its output (no timings asserted)
	$(VENV)/bin/python -m benchmarks smoke --recorder-python $(VENV)/bin/python
