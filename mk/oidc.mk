# oidc-provider (npm) for the real authorization server in tests/fixtures/oidc.
# Idempotent: re-runs `npm ci` only when package.json or package-lock.json change.
OIDC_FIXTURE := tests/fixtures/oidc
OIDC_STAMP   := $(OIDC_FIXTURE)/node_modules/.stoad-installed

TEST_DEPS += oidc-fixture
.PHONY: oidc-fixture

oidc-fixture: $(OIDC_STAMP)

$(OIDC_STAMP): $(OIDC_FIXTURE)/package.json $(OIDC_FIXTURE)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends nodejs npm; }
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<18)) { console.error("oidc-fixture: Node.js >= 20.18 needed, found "+process.version); process.exit(1); }'
	cd $(OIDC_FIXTURE) && npm ci --no-audit --no-fund --cache "$(abspath $(CACHE))/npm"
	touch $@
