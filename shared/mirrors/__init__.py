"""Rules for the read-only mirrors a service keeps of another service's facts.

Services never share tables: each keeps its own copy of what it needs, filled by
events. What such a copy must get right (reading an event into facts, applying only
what is newer) is written once here.
"""
