"""Daemon plumbing: the twistd entry point, supervisor and workers, admin listener, sd_notify, metrics, logs."""
