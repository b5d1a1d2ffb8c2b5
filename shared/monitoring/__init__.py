"""Observability as code: alert rules, scrape configs, dashboards, drift and live quality."""
