"""Product catalog service: an in-memory product list served as JSON over HTTP."""
