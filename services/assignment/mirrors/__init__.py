"""Assignment's copies of other services' facts (projects, leads), kept current by events."""
