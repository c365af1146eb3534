"""Rendering results: terminal tables, JSON/JSONL/CSV/Parquet writers, the follow ledger and path
text."""
