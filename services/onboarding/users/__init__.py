"""Users: staff and client people, their roles, passwords and status."""
