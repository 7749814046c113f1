"""Do-not-call lists: a list per tenant and the platform's global list (``/v1/dnc``)."""
