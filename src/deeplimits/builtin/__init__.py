"""The experiments, one self-contained file each, grouped by family."""
