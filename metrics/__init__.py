"""Checks stage: observations + targets → pace, attainment, gap, required rate, status."""
