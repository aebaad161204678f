"""Test doubles that are real implementations: a fake Pushover server."""
