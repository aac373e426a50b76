"""Compliance reports: statuses per framework and control from live evidence, trends, exports."""
