"""Generic CSV with a column mapping, for Dune, BigQuery and in-house exports.

Headers are mapped automatically from the synonyms real exports use
(:mod:`tracer.sources.headers`: TronScan API field names, Dune, Etherscan, BigQuery); the mapping
used is reported with the file's summary. ``--map`` overrides any part of it.

``--map from=sender,to=receiver,hash=tx_id,...`` maps tracer's names (left) to the file's
columns (right). Names: ``tx_hash`` (alias ``hash``), ``src`` (``from``), ``dst`` (``to``),
``value`` (exact integer in raw units) *or* ``amount`` (human-scaled; the exact integer is recovered
with ``decimals``), ``token`` (contract; no token column = native coin; in a token column a blank
cell is native only with ``native`` written or the chain's coin as ``asset``, else rejected),
``asset`` (``symbol``), ``decimals``, ``block``, ``ts`` (``time``, ``timestamp``, ``block_time``),
``seq`` (``log_index``, ``evt_index``), ``chain``. A column already named as tracer names it needs
no mapping, so tracer's own canonical columns load as they are. Dune's ``\\x``-prefixed hex is
accepted for addresses and hashes.
"""

from __future__ import annotations

import hashlib

import polars as pl

from tracer.core.addresses import normalize, normalize_chain
from tracer.core.errors import UsageError
from tracer.core.tokens import NATIVE
from tracer.sources.base import (
    RawBatch,
    ReadOptions,
    flag_error,
    flag_non_integer,
    recover_exact,
)
from tracer.sources.headers import NO_HASH_RULE, auto_map, infer_chain, match, missing
from tracer.sources.sample import Sample, read_csv_strings
from tracer.sources.timestamps import timestamp_series, unparsed_time

ALIASES = {
    "hash": "tx_hash",
    "from": "src",
    "to": "dst",
    "symbol": "asset",
    "time": "ts",
    "timestamp": "ts",
    "block_time": "ts",
    "log_index": "seq",
    "evt_index": "seq",
    "block_number": "block",
    "wallet": "view",
    "account": "view",
}
NAMES = {
    "tx_hash",
    "src",
    "dst",
    "value",
    "amount",
    "token",
    "asset",
    "decimals",
    "block",
    "ts",
    "seq",
    "chain",
    "view",
}


def parse_map(text: str | None) -> dict[str, str]:
    """Parse ``a=b,c=d`` into ``{canonical: file column}``; unknown names are a usage error."""
    out: dict[str, str] = {}
    if not text:
        return out
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, col = part.partition("=")
        name = ALIASES.get(key.strip().lower(), key.strip().lower())
        if not sep or name not in NAMES or not col.strip():
            raise UsageError(
                f"--map: cannot read {part!r}; use NAME=COLUMN with NAME one of "
                + ", ".join(sorted(NAMES | set(ALIASES)))
            )
        out[name] = col.strip()
    return out


def sniff(s: Sample) -> str | None:
    """Any CSV whose header maps onto a sender, a receiver, an amount and a time."""
    if s.kind == "csv" and auto_map(s.header) is not None:
        return "generic"
    return None


def read(s: Sample, fmt: str, opts: ReadOptions) -> RawBatch:
    warnings: list[str] = []
    original = read_csv_strings(s.path, warnings).with_row_index("_row", offset=1)
    header = [c for c in original.columns if c != "_row"]
    missing_cols = sorted(c for c in opts.column_map.values() if c not in header)
    if missing_cols:
        raise UsageError(
            f"{s.path}: --map names column(s) {', '.join(missing_cols)} that the file does not "
            f"have (header: {', '.join(header)})"
        )
    found = auto_map(header, opts.column_map)
    if found is None:
        need = missing(match(header, opts.column_map))
        raise UsageError(
            f"{s.path}: generic CSV needs a column for {', '.join(need)}; map it with "
            f"--map NAME=COLUMN (header: {', '.join(header)})"
        )
    mapping = dict(found.columns)
    view_col = mapping.pop("view", None)
    notes = [f"columns: {found.describe()}"]
    notes += [f"column {c!r}: {why}" for c, why in found.ignored.items()]
    frame = original.select(
        "_row", *(pl.col(col).alias(name) for name, col in mapping.items() if name != "amount")
    )
    if view_col is not None:
        frame = frame.with_columns(original[view_col].alias("_view"))
    if "chain" not in mapping:
        chain = opts.chain
        if chain is None:
            sample_rows = frame.head(10_000)
            chain = infer_chain([*sample_rows["src"].to_list(), *sample_rows["dst"].to_list()])
            if chain is not None:
                notes.append(f"chain: {chain} (inferred from the addresses; --chain overrides)")
        frame = frame.with_columns(pl.lit(chain, pl.String).alias("chain"))
    else:
        # the file has a chain column: a blank cell is an error, not the default chain
        blank = frame["chain"].is_null() | (frame["chain"].str.strip_chars() == "")
        frame = flag_error(frame, blank.fill_null(True), mapping["chain"], "missing chain name")
    ts = timestamp_series(frame, "ts")
    frame = frame.with_columns(unparsed_time(pl.col("ts"), pl.lit(ts)), ts.alias("ts"))
    if "token" in mapping:
        # a blank token cell is the native coin only where the row says so: "native" in the
        # token column, or the chain's coin (ETH, TRX, ...) in the asset column
        said_native = frame["token"].str.strip_chars().str.to_lowercase() == "native"
        frame = frame.with_columns(
            pl.when(pl.lit(said_native)).then(None).otherwise(pl.col("token")).alias("token"),
            pl.lit(said_native.fill_null(False)).alias("_native"),
        )
    else:
        # no token column: a native-coin export, unless an asset column names something else
        # (USDT rows without their contract are not TRX: native_by_asset decides per row)
        frame = frame.with_columns(pl.lit("asset" not in mapping).alias("_native"))
    if "value" not in mapping:
        frame = _recover(frame, original[mapping["amount"]], mapping["amount"], opts)
    if found.missing_hash:
        frame = frame.with_columns(synthetic_tx_hash(frame))
        warnings.append(NO_HASH_RULE)
    fields = dict(mapping)
    for col in ("seq", "block", "decimals"):
        if col in mapping:
            frame = flag_non_integer(frame, col, mapping[col])
    # a seq column, where the file has one, is filled in every row (a blank is not "derive one")
    required = ("seq",) if "seq" in mapping else ()
    return RawBatch(
        frame, original, fields, fmt, native_by_asset=True, required=required, notes=notes,
        warnings=warnings,
    )


def synthetic_tx_hash(frame: pl.DataFrame) -> pl.Series:
    """``nohash:<sha256 of chain|time|block|token|from|to|value>`` for exports without a hash.

    Content-derived, so re-ingesting the same file changes nothing; identical transfers in one
    block and second are told apart by ``seq`` (occurrence), like other exports without a log
    index. The ``nohash:`` prefix keeps it from ever passing for an on-chain hash.
    """
    cols = ["chain", "ts", "block", "token", "src", "dst", "value"]
    parts = frame.select(
        pl.concat_str(
            [pl.col(c).cast(pl.String).fill_null("") if c in frame.columns else pl.lit("")
             for c in cols],
            separator="|",
        ).alias("k")
    )["k"].to_list()  # fmt: skip
    ids = ["nohash:" + hashlib.sha256(k.encode()).hexdigest() for k in parts]
    return pl.Series("tx_hash", ids, pl.String)


def _recover(frame: pl.DataFrame, texts: pl.Series, user: str, opts: ReadOptions) -> pl.DataFrame:
    chains = (
        frame["chain"].fill_null(opts.chain or "ethereum").to_list()
        if "chain" in frame.columns
        else [opts.chain or "ethereum"] * frame.height
    )
    tokens = frame["token"].to_list() if "token" in frame.columns else [None] * frame.height
    given = (
        frame["decimals"].str.strip_chars().cast(pl.Int64, strict=False).to_list()
        if "decimals" in frame.columns
        else [None] * frame.height
    )
    natives = frame["_native"].to_list()
    assets = frame["asset"].to_list() if "asset" in frame.columns else [None] * frame.height
    decimals: list[int | None] = []
    no_token: list[bool] = []  # token rows without a contract: the canonicaliser says so
    for chain, token, dec, nat, asset in zip(chains, tokens, given, natives, assets, strict=True):
        c = normalize_chain(chain)
        symbol, native_decimals = NATIVE.get(c, (None, None))
        is_native = nat or (asset is not None and asset.strip().upper() == symbol)
        no_token.append(token is None and not is_native)
        if dec is not None:
            # out-of-range decimals are rejected by the canonicaliser with their value; they
            # must not scale an amount on the way
            decimals.append(dec)
            continue
        if token is None:
            decimals.append(native_decimals if is_native else None)
            continue
        try:
            t = opts.tokens.get(c, normalize(c, token))
        except ValueError:
            t = None
        decimals.append(t.decimals if t else None)
    usable = [d if d is None or 0 <= d <= 77 else None for d in decimals]
    values, errors = recover_exact(texts.to_list(), usable, [t or "native" for t in tokens])
    errors = [
        None if missing else f"decimals outside 0..77: {d}" if d is not None and u is None else e
        for d, u, e, missing in zip(decimals, usable, errors, no_token, strict=True)
    ]
    return frame.with_columns(
        pl.Series("value", values, pl.String),
        pl.Series("decimals", decimals, pl.Int64),
        pl.Series("_error", errors, pl.String),
        pl.Series("_error_field", [user if e else None for e in errors], pl.String),
    )
