"""What the webhook learns from storing an inbound message."""
from __future__ import annotations

from typing import NamedTuple


class Stored(NamedTuple):
    message_id: int
    contact_id: int
    new: bool  # False: Twilio sent this MessageSid before
    waiting: bool  # not processed yet (new, or a retry of one whose job was lost): queue it
    released: int = 0  # replies held for the person's window, now to be sent
