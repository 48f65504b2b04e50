"""alp's scripts; scripts.world is the runbook's world for the test bed (tests and `scripts/testbed demo`)."""
