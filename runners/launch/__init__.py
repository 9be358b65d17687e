"""Launch preparation: the request, templates, input schema, rendered spec, documents, checks."""
