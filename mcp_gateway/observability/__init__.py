"""Metrics and traces: instruments and hooks the layers above call (no I/O of their own
beyond the optional OpenTelemetry exporter). Imports only ``config`` and ``errors``."""
