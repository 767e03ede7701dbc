"""Orbit: a billing backend for contract-based B2B subscriptions."""

__version__ = "0.1.0"
