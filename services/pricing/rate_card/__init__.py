"""The rate card: versioned price list items (platform data, not tenant-owned)."""
