"""Forecasts stage: observations → forecasts to quarter and year end, P(meet target)."""
