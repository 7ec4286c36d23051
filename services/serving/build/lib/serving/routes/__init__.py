"""HTTP routes, one module per resource: predictions, models, health, metrics, registry webhooks."""
