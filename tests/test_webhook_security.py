"""Only Twilio, signing for our public URL, may put messages into the service."""
from sqlalchemy import func, select

from store.models import Message
from tests.conftest import PUBLIC_URL, fixture, sign


def stored(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(Message))


def test_signed_request_is_accepted_with_empty_twiml(whatsapp, runtime):
    response = whatsapp.post("/twilio/whatsapp", fixture("inbound_text"))
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert b"<Response></Response>" in response.data
    assert stored(runtime) == 1


def test_forged_signature_is_refused_and_changes_nothing(whatsapp, runtime):
    params = fixture("inbound_text")
    response = whatsapp.post("/twilio/whatsapp", params, signature=sign(PUBLIC_URL + "/twilio/whatsapp", params,
                                                                         token="not-the-real-token"))
    assert response.status_code == 403
    assert stored(runtime) == 0


def test_missing_signature_is_refused(client, runtime):
    response = client.post("/twilio/whatsapp", data=fixture("inbound_text"))
    assert response.status_code == 403
    assert stored(runtime) == 0


def test_signature_made_for_another_url_is_refused(whatsapp, runtime):
    params = fixture("inbound_text")
    response = whatsapp.post("/twilio/whatsapp", params, url="https://attacker.example/twilio/whatsapp")
    assert response.status_code == 403
    assert stored(runtime) == 0


def test_tampered_body_is_refused(whatsapp, runtime):
    params = fixture("inbound_text")
    signature = sign(PUBLIC_URL + "/twilio/whatsapp", params)
    response = whatsapp.post("/twilio/whatsapp", params | {"Body": "something else"}, signature=signature)
    assert response.status_code == 403
    assert stored(runtime) == 0


def test_public_url_is_used_behind_a_tls_proxy(whatsapp, client):
    # The test client talks plain http to localhost; Twilio signed https://dda.example.org.
    assert whatsapp.post("/twilio/whatsapp", fixture("inbound_text")).status_code == 200


def test_status_callback_needs_a_signature_too(client, whatsapp):
    assert client.post("/twilio/status", data=fixture("status_delivered")).status_code == 403
    assert whatsapp.post("/twilio/status", fixture("status_delivered")).status_code == 204


def test_without_auth_token_twilio_routes_refuse_everything(monkeypatch, sqlite_url):
    from webhook import create_app

    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = create_app(embedded_worker=False)
    try:
        client = app.test_client()
        params = fixture("inbound_text")
        for path in ("/twilio/whatsapp", "/twilio/status"):
            response = client.post(path, data=params,
                                   headers={"X-Twilio-Signature": sign(PUBLIC_URL + path, params)})
            assert response.status_code == 403
            assert b"TWILIO_AUTH_TOKEN" in response.data
    finally:
        app.extensions["dda"].close()
