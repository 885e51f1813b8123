"""Personal data (phone numbers, names, message texts) passes through one column type.

Keeping every personal field behind `PersonalText` means encryption at rest is a change
to this module alone. Lookups never use the plain number: `lookup_key` is a keyed hash,
so an index on it reveals nothing without the key.
"""
from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class PersonalText(TypeDecorator):
    """Text that identifies or describes a person."""

    impl = Text
    cache_ok = True


def lookup_key(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()
