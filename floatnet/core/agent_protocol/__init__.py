"""The server side of the agent protocol: agents, the change log and feed, host state,
the router slice, scheduling and status reports.

See docs/architecture.md for how the rooms of floatnet.core depend on each other."""
