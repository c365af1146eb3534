"""Views over the store that a question reads: the selection (assets, window, roles, hops) and the
chunked edge stream."""
