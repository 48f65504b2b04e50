"""The one masking function (`redact`) and where secrets sit: rules, shapes, unnamed values, prose, lines."""
