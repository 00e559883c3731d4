# `make dist`: the wheel and sdist in dist/. `make deb`: dist/stoad_VERSION-1_ARCH.deb, built by
# contrib/deb/build_deb.py in a Debian root of this machine's release (debootstrap, cached under
# .cache/deb/ with the target's wheels). tests/test_package_*_integration.py install both.
STOAD_VERSION   := $(shell sed -n 's/^version = //p' setup.cfg)
DEB_ARCH        := $(shell dpkg --print-architecture 2>/dev/null || echo unknown)
WHEEL           := dist/stoad-$(STOAD_VERSION)-py3-none-any.whl
SDIST           := dist/stoad-$(STOAD_VERSION).tar.gz
DEB             := dist/stoad_$(STOAD_VERSION)-1_$(DEB_ARCH).deb
PACKAGE_SOURCES := setup.cfg pyproject.toml MANIFEST.in README.md \
  $(shell find stoad twisted etc/stoad systemd docs -type f ! -path '*/__pycache__/*' \
          ! -path 'etc/stoad/pki/*' ! -name dropin.cache ! -name '*.pyc')
TEST_DEPS += deb

.PHONY: dist deb requirements-lock
dist: $(WHEEL) $(SDIST)
deb: $(DEB)

$(WHEEL) $(SDIST) &: $(VENV)/.installed $(PACKAGE_SOURCES)
	rm -f dist/stoad-*.whl dist/stoad-*.tar.gz
	$(BIN)/python -m build --outdir dist .

$(DEB): $(WHEEL) contrib/deb/build_deb.py contrib/deb/requirements.txt $(wildcard contrib/deb/debian/*)
	@command -v debootstrap >/dev/null 2>&1 || { apt-get update && apt-get install -y --no-install-recommends debootstrap; }
	rm -f dist/stoad_*.deb
	$(BIN)/python contrib/deb/build_deb.py build --wheel $(WHEEL) --out dist --cache $(CACHE)/deb

# Re-pins every runtime dependency (contrib/deb/requirements.txt) from what setup.cfg resolves to today.
requirements-lock: $(WHEEL)
	$(BIN)/pip install --quiet --dry-run --ignore-installed --report $(CACHE)/resolve.json $(WHEEL)
	$(BIN)/python contrib/deb/build_deb.py lock --report $(CACHE)/resolve.json --out contrib/deb/requirements.txt
