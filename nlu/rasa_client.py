"""A Rasa server as the intent backend (`POST /model/parse`), for programs that run one."""
from __future__ import annotations

import requests


class RasaError(Exception):
    pass


class RasaClient:
    def __init__(self, url: str, token: str = "", timeout: float = 2.0):
        self.url = url.rstrip("/") + "/model/parse"
        self.token = token
        self.timeout = timeout
        self.session = requests.Session()

    def parse(self, text: str) -> dict:
        params = {"token": self.token} if self.token else None
        try:
            response = self.session.post(self.url, json={"text": text}, params=params, timeout=self.timeout)
        except requests.RequestException as error:
            raise RasaError(type(error).__name__) from None
        if response.status_code != 200:
            raise RasaError(f"HTTP {response.status_code}")
        try:
            result = response.json()
            intent = result["intent"]
            float(intent["confidence"]), str(intent["name"])
        except (ValueError, KeyError, TypeError):
            raise RasaError("answer is not a ParseResult") from None
        return result
