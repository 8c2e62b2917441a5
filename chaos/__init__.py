"""Fault injection against the running stack: drive cases, break processes, judge from the event stores."""
