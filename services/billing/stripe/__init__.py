"""Billing's Stripe side: the gateway, charging, webhooks, dunning.

Routes: :data:`services.billing.stripe.controllers.STRIPE_ROUTE_HANDLERS`; its actors,
periodic jobs and errors are in the Stripe sections of :mod:`services.billing.actors`,
:mod:`services.billing.jobs` and :mod:`services.billing.errors`.
"""
