"""Adapters between the service and the outside world's messaging: Twilio and the local channel."""
