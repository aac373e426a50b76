"""govern's REST API (DRF): alerts triage and revocations under /api/v1/, OpenAPI at /api/schema/.

Views translate between JSON and the same services the pages call, and check the same Django
permissions the pages check; nothing here decides workflow rules.
"""
