# sslyze in its own venv: it pins its own cryptography/nassl, which must not disturb the
# versions the gateway's venv pins. tests/test_tls_scan_integration.py runs it from here.
SSLYZE_VERSION := 6.3.1
SSLYZE_VENV    := $(CACHE)/sslyze-venv
TEST_DEPS      += sslyze

.PHONY: sslyze
sslyze: $(SSLYZE_VENV)/.installed-$(SSLYZE_VERSION)

$(SSLYZE_VENV)/.installed-$(SSLYZE_VERSION):
	rm -rf $(SSLYZE_VENV)
	$(PYTHON) -m venv $(SSLYZE_VENV)
	$(SSLYZE_VENV)/bin/pip install --quiet --upgrade pip
	$(SSLYZE_VENV)/bin/pip install --quiet sslyze==$(SSLYZE_VERSION)
	touch $@
