"""Generic building blocks every stage uses: the canonical schema, addresses, exact amounts,
tokens, chains, errors, atomic/durable writes, safe JSON/YAML, progress bars. Imports nothing else
from tracer."""
