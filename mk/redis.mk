# Debian's redis-server for the shared-state tests (tests/support/redis.py starts a private one on
# 127.0.0.1 in a temporary folder). Installed only when missing; no service is enabled.
TEST_DEPS += redis-server
.PHONY: redis-server

redis-server:
	@command -v redis-server >/dev/null 2>&1 || { apt-get update && \
	  apt-get install -y --no-install-recommends redis-server; }
