"""Invoices: models, numbering, the state machine, routes and the PDF."""
