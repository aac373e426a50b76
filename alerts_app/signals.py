"""Signals alerts_app sends to the rest of govern."""

from django.dispatch import Signal

# Sent on commit after a revocation reached "succeeded" or "partially_succeeded", with
# ``revocation_id``. The SSF transmitter announces it to receivers (CAEP session-revoked).
revocation_succeeded = Signal()
