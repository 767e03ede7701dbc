"""Persistence: tortoise-orm models, connection set-up and migrations."""
