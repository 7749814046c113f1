"""Quotes: versioned, priced from the rate card, sent, accepted into a project's price plan."""
