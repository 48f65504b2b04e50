"""The runbook as data: symptoms, extensions of built-in targets and services from YAML files in
`ALP_RUNBOOK_DIR` (model.py the shape, load.py reading with lines, lint.py references)."""
