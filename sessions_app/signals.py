"""Signals sent by the sessions domain.

``events_ingested`` is sent once per committed ingest batch that inserted at least one new
event or applied a late risk verdict to a stored one (``transaction.on_commit``, so receivers
only ever see committed rows). Keyword arguments: ``source_id`` (int), ``session_ids``,
``identity_ids``, ``event_ids`` and ``updated_event_ids`` (lists of ints: the sessions and
identities those events touched, the new events, and the stored events whose vendor risk
verdict changed). Any other re-delivery sends nothing. Detection connects here; keep
receivers quick and hand heavy work to a Celery task.
"""

from django.dispatch import Signal

events_ingested = Signal()
