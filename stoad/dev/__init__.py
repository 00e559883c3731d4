"""Development and demo tools (dev PKI, dev tokens, `make demo`); the daemon never imports them."""
