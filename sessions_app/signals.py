"""Signals sent by the sessions domain.

``events_ingested`` is sent once per committed ingest batch that inserted at least one new
event (``transaction.on_commit``, so receivers only ever see committed rows). Keyword
arguments: ``source_id`` (int), ``session_ids``, ``identity_ids`` and ``event_ids`` (lists of
ints: the sessions and identities the new events touched, and the new events). Re-delivered
events send nothing. Detection connects here; keep receivers quick and hand heavy work to a
Celery task.
"""

from django.dispatch import Signal

events_ingested = Signal()
