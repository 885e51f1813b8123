"""Persistence: SQLAlchemy models, the session factory and personal-data column types."""
