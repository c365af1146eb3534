"""The workspace on disk: the read side, time partitions, generations and their manifest, the
writers (ingest append, RPC sync, synth) and the graph cache (node index + CSR arrays) each
generation holds."""
