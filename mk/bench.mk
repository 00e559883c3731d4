# `make bench`: the gateway benchmark (bench/bench_gateway.py). Not part of TEST_DEPS: nginx,
# the Go load generator and py-spy are only needed here.
BENCH_DIR  := $(CACHE)/bench
BENCH_VENV := $(BENCH_DIR)/venv
PY_SPY_VERSION := 0.4.3

.PHONY: bench bench-table bench-tools
bench: venv bench-tools
	$(BIN)/python bench/bench_gateway.py --loadgen $(BENCH_DIR)/loadgen --py-spy $(BENCH_VENV)/bin/py-spy

# Issue 13's table: nginx beside stoad (no layers; audit+auth+policy+guardrails), CPU per
# request, latency at 200 req/s, new mTLS connections, memory per idle connection, py-spy parts.
bench-table: venv bench-tools
	$(BIN)/python bench/bench_table.py --loadgen $(BENCH_DIR)/loadgen --py-spy $(BENCH_VENV)/bin/py-spy

bench-tools: $(BENCH_DIR)/loadgen $(BENCH_VENV)/.installed-$(PY_SPY_VERSION) $(BENCH_DIR)/.nginx

$(BENCH_DIR)/loadgen: bench/loadgen/main.go bench/loadgen/go.mod
	@command -v go >/dev/null || { apt-get update && apt-get install -y --no-install-recommends golang-go; }
	mkdir -p $(BENCH_DIR)
	cd bench/loadgen && go build -o $(abspath $@) .

$(BENCH_VENV)/.installed-$(PY_SPY_VERSION):
	rm -rf $(BENCH_VENV)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet py-spy==$(PY_SPY_VERSION)
	touch $@

$(BENCH_DIR)/.nginx:
	@command -v nginx >/dev/null || { apt-get update && apt-get install -y --no-install-recommends nginx; }
	mkdir -p $(BENCH_DIR)
	touch $@
