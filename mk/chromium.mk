# Debian's headless Chromium, for the audit report test that renders the page and checks that
# its charts drew (tests/test_audit_report_browser_integration.py). Installed once.
TEST_DEPS += chromium
.PHONY: chromium

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends chromium fonts-dejavu-core; }
