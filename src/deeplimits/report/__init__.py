"""Figures (one shared style) and the HTML report, rendered from the store."""
