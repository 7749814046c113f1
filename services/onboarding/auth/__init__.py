"""Logging in: email and password for an access token (throttled)."""
