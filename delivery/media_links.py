"""Links to media the service renders on request (voucher images), made at the moment of sending.

Twilio fetches a media URL to deliver it, so the URL must be public; it carries a signed,
expiring token instead. Such a link opens a person's voucher for days, so it is never stored:
the outbox keeps a reference (`media:vouchers/42`) and the link is signed when the message goes
out, and again for a retry.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

PREFIX = "media:"
SALTS = {"vouchers": "voucher-image"}  # kind -> the signature's salt, so one kind's token opens no other


def reference(kind: str, ident: int) -> str:
    """What the outbox keeps instead of a link."""
    if kind not in SALTS:
        raise ValueError(f"no signed media of kind {kind!r}")
    return f"{PREFIX}{kind}/{ident}"


def signed_url(secret: str, public_base_url: str, ref: str | None) -> str | None:
    """The public link for a reference (a plain URL, or None, is passed through)."""
    if not ref or not ref.startswith(PREFIX):
        return ref
    kind, _, ident = ref[len(PREFIX):].partition("/")
    token = URLSafeTimedSerializer(secret, salt=SALTS[kind]).dumps(int(ident))
    return f"{public_base_url}/media/{kind}/{token}.png"


def opened(secret: str, kind: str, token: str, max_age_seconds: int) -> int | None:
    """The id a link's token names, or None if it is forged or too old."""
    try:
        return int(URLSafeTimedSerializer(secret, salt=SALTS[kind]).loads(token, max_age=max_age_seconds))
    except (BadSignature, ValueError, TypeError):
        return None
