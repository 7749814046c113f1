"""API keys: client systems' credentials, issued once, stored hashed, scoped, revocable."""
