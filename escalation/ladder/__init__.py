"""The P0/P1/P2 ladder: the engine (open, acknowledge, escalate, resolve, the reconciler), the lease, pages and their delivery."""
