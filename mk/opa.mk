# The real OPA binary, built from the Go module proxy, for the differential check of the shipped
# policies (tests/test_policy_integration_opa.py). Idempotent: rebuilt only when the version changes.
OPA_VERSION := v1.22.4
OPA_DIR     := $(CACHE)/opa
OPA_BIN     := $(OPA_DIR)/bin/opa
OPA_STAMP   := $(OPA_DIR)/.built-$(OPA_VERSION)

TEST_DEPS += opa
.PHONY: opa

opa: $(OPA_STAMP)

$(OPA_STAMP):
	@command -v go >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends golang-go; }
	mkdir -p $(OPA_DIR)/bin
	GOBIN="$(abspath $(OPA_DIR)/bin)" GOFLAGS=-buildvcs=false go install github.com/open-policy-agent/opa@$(OPA_VERSION)
	rm -f $(OPA_DIR)/.built-*
	touch $@
