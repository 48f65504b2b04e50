"""The state store: tables, migrations, and one module per record kind (incidents, outbox, alert groups, requests, audit)."""
