"""Voucher images at signed, expiring URLs, rendered when fetched and never stored.

Twilio fetches the media URL to deliver it, so it must be public; the signature makes it
unguessable and the expiry makes an old link useless. The link itself is made when the message
is sent (delivery/media_links.py); what the outbox keeps is `image_reference`.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app

from delivery.media_links import opened, reference
from store.models import Voucher
from vouchers.kinds import texts_of

blueprint = Blueprint("voucher_media", __name__, url_prefix="/media")


def image_reference(voucher_id: int) -> str:
    return reference("vouchers", voucher_id)


@blueprint.get("/vouchers/<token>.png")
def voucher_image(token: str):
    runtime = current_app.extensions["dda"]
    voucher_id = opened(runtime.settings.secrets.secret_key, "vouchers", token,
                        runtime.settings.vouchers.image_link_hours * 3600)
    if voucher_id is None:
        abort(404)
    with runtime.session() as session:
        voucher = session.get(Voucher, voucher_id)
        if voucher is None or voucher.contact_id is None:
            abort(404)
        png = render_for(runtime, voucher, voucher.contact.language if voucher.contact_id else None)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store"})


def render_for(runtime, voucher: Voucher, language: str | None) -> bytes:
    from vouchers.image import render_voucher

    language = language or runtime.settings.languages.source
    return render_voucher(code=voucher.code, pin=voucher.pin, amount_cents=voucher.amount_cents,
                          currency=voucher.currency, valid_until=voucher.valid_until, language=language,
                          symbology=runtime.settings.vouchers.symbology, program=runtime.settings.program.name,
                          translator=runtime.translator, title=texts_of(runtime.settings, voucher.kind).title)
