"""Figures (one shared style) and the summary page, rendered from the store."""
