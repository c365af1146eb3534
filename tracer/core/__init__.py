"""Generic building blocks every stage uses: the canonical schema, addresses, exact amounts,
tokens, chains, errors, atomic/durable writes, safe JSON/YAML, the progress protocol use cases
report through (drawn by the CLI). Imports nothing else from tracer."""
