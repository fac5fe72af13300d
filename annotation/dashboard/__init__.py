"""The admin dashboard: set a campaign up, watch it, check its annotators, see which model
wins. Staff of a campaign only (its admins, or is_staff): anyone else gets 403 on every page.
Each view parses the request and calls the services and reads it names."""
