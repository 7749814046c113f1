"""Billing's Stripe side: the gateway, charging, webhooks, dunning.

Routes: :data:`services.billing.stripe.controllers.STRIPE_ROUTE_HANDLERS`; actors in
:mod:`services.billing.stripe.actors`; periodic jobs in :mod:`services.billing.stripe.jobs`.
"""
