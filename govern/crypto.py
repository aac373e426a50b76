"""Encryption of secrets at rest (Fernet, key from GOVERN_SECRETS_KEY)."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _fernet() -> Fernet:
    try:
        return Fernet(settings.GOVERN_SECRETS_KEY.encode())
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("GOVERN_SECRETS_KEY is not a valid Fernet key.") from exc


def encrypt_json(values: dict) -> bytes:
    if not values:
        return b""
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode())


def decrypt_json(token: bytes) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token))
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Stored secrets cannot be decrypted: GOVERN_SECRETS_KEY changed since they were saved."
        ) from exc
