"""SSS17, "Failures of Gradient-Based Deep Learning" (CLAIMS.md section A)."""
