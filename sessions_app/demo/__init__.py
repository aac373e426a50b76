"""The demo organisation: a pure, seeded generator of identities, IdP telemetry and attacks.

``build_plan`` (generator) returns a ``DemoPlan``; ``seed.demo_seed`` persists one through the
real ingestion pipeline (``python manage.py seed_demo``).
"""

from .generator import build_plan
from .plan import DETECTORS, ENTRA, GOOGLE, OKTA, SOURCE_NAMES, DemoPlan, DemoScenario

__all__ = [
    "DETECTORS",
    "ENTRA",
    "GOOGLE",
    "OKTA",
    "SOURCE_NAMES",
    "DemoPlan",
    "DemoScenario",
    "build_plan",
]
