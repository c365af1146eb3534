"""Rendering results: the follow/source JSON contract, the exposure report writer, terminal
tables, JSONL/CSV/Parquet writers, the follow ledger and path text."""
