"""Projects: a tenant's piece of work with its operational settings and price plan."""
