"""The funnel planner: from a monthly deal goal to leads, calls, minutes, hours and money."""
