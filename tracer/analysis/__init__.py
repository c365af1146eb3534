"""Use cases over the graph: follow/source, exposure (plan, sweep, engines), clustering heuristics
and entities, risk weights, conversions."""
