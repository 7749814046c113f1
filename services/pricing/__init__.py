"""Pricing: projects (commercial and operational settings), rate card, quotes, price plans."""
