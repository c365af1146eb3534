"""Views over the store that a question reads: the one ``Selection`` (``spec.py``), turning it into
kernel inputs (assets, window, roles, hops) and the chunked edge stream."""
