"""The autoscaler: metric windows, the KPA decision, bounds, and the scaling loop."""
