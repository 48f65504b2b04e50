"""Worker threads and processes, the check's `Cutoff`, the clock."""
