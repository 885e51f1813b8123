"""Alembic driven from the service settings, for `flask db` and the tests."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from settings import ROOT


def alembic_config(database_url: str, engine=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = database_url
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(database_url: str, revision: str = "head", engine=None) -> None:
    command.upgrade(alembic_config(database_url, engine), revision)
