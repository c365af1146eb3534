"""What every source module shares: the raw batch contract and the canonicaliser.

A source module only *reads* its format into a :class:`RawBatch` (columns named as in the
canonical schema, still raw: addresses as written, values as digit strings, timestamps as µs
integers). :func:`canonicalize` then does everything that must be the same for every format —
address normalisation, value validation, token metadata, timestamps from blocks, stable ``seq``,
amounts — and splits rows into loaded, skipped (not a transfer, with the reason) and rejected (bad,
with file, row, field and reason). Keeping this in one place is what makes "every count adds up"
true for every format at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from kernels.hashing import fnv1a64
from tracer.addresses import TRON, evm_exprs, normalize_chain, normalize_series
from tracer.amounts import amount_expr, canonical_digits, scaled_to_raw, value_error
from tracer.errors import InputError
from tracer.schema import REJECT_PL, TRANSFER_PL
from tracer.sources.views import Occurrences, occurrences
from tracer.tokens import NATIVE, TokenTable, load_tokens

#: Raw columns a source fills (any may be absent: it is then null).
RAW_COLUMNS: dict[str, pl.DataType] = {
    "chain": pl.String(),
    "asset": pl.String(),
    "token": pl.String(),
    "tx_hash": pl.String(),
    "seq": pl.Int64(),
    "block": pl.Int64(),
    "ts": pl.Int64(),  # µs since epoch, UTC
    "src": pl.String(),
    "dst": pl.String(),
    "value": pl.String(),
    "decimals": pl.Int16(),
    "_skip": pl.String(),  # reason the row is not a value transfer (counted, not loaded)
    "_error": pl.String(),  # a reason found while reading (e.g. an unrecoverable scaled amount)
    "_error_field": pl.String(),
    "_view": pl.String(),  # the account whose history the row comes from (per-wallet exports)
}


@dataclass
class ReadOptions:
    """What the user told us about the inputs (shared by every source)."""

    chain: str | None = None
    column_map: dict[str, str] = field(default_factory=dict)
    tokens: TokenTable = field(default_factory=load_tokens)
    blocks: pl.DataFrame | None = None  # columns: chain (str|null), block (i64), ts (i64 µs)


@dataclass
class RawBatch:
    """A source's output before canonicalisation.

    ``frame`` holds :data:`RAW_COLUMNS` plus ``_row`` (1-based row in the user's file);
    ``original`` is the file's records as read (with ``_row``), used to show rejected rows;
    ``fields`` maps canonical names to the user's column names so messages use the user's words.
    """

    frame: pl.DataFrame
    original: pl.DataFrame
    fields: dict[str, str]
    format: str
    notes: list[str] = field(default_factory=list)  # how the file was read (mapping, chain)
    warnings: list[str] = field(default_factory=list)  # what the reader found could mislead


@dataclass
class Loaded:
    """Result of reading one file: canonical rows plus the accounting of everything else."""

    file: str
    format: str
    transfers: pl.DataFrame
    rejects: pl.DataFrame
    skipped: Counter[str]
    read: int
    warnings: list[str] = field(default_factory=list)  # what could mislead, said to the user
    notes: list[str] = field(default_factory=list)  # how it was read (column mapping, chain)

    @property
    def unknown_decimals(self) -> int:
        return int(self.transfers["decimals"].null_count())


def complete(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing raw columns as nulls and cast present ones to their raw types."""
    exprs = []
    for name, dtype in RAW_COLUMNS.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype, strict=False))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(pl.col("_row").cast(pl.Int64), *exprs)


def _strings_as_arrow(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = series.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def synthetic_seq(frame: pl.DataFrame) -> tuple[pl.Series, Occurrences]:
    """A stable ``seq`` for transfers whose export has no log index.

    Rule: ``-(1 + 1024 * (fnv1a64(token|src|dst|value) mod 2**40) + k)`` where ``k`` counts earlier
    identical transfers in the same transaction *of the same account view*
    (:mod:`tracer.sources.views`). Negative, so it never collides with a real log index; derived
    from content only, so the same transfer gets the same ``seq`` from every export that contains
    it, in two files or twice in one (a per-account export holds only the transfers that touch
    that account, so a position inside the file would not do), while a batch payout repeating one
    transfer inside one transaction keeps every copy.
    """
    key = pl.concat_str(
        [pl.col("token").fill_null(""), pl.col("src"), pl.col("dst"), pl.col("value")],
        separator="|",
    )
    keys = frame.select(key.fill_null("").alias("k"))["k"]
    offsets, data = _strings_as_arrow(keys)
    h = fnv1a64(offsets, data) % np.uint64(1 << 40)
    base = pl.Series("h", h.astype(np.int64))
    occ = occurrences(frame)
    return -(1 + base * 1024 + occ.k.clip(upper_bound=1023)), occ


def _tx_hash_expr(chain: str) -> tuple[pl.Expr, pl.Expr]:
    h = pl.col("tx_hash").str.strip_chars().str.to_lowercase()
    bare = (
        pl.when(h.str.starts_with("\\x")).then(h.str.slice(2)).otherwise(h.str.strip_prefix("0x"))
    )
    synthetic = h.str.contains(r"^nohash:[0-9a-f]{64}$")  # exports without a hash (generic)
    norm = pl.when(synthetic).then(h).otherwise(bare if chain == TRON else pl.lit("0x") + bare)
    err = (
        pl.when(pl.col("tx_hash").is_null())
        .then(pl.lit("missing transaction hash"))
        .when(synthetic)
        .then(None)
        .when(~bare.str.contains(r"^[0-9a-f]{64}$"))
        .then(pl.lit("not a 32-byte hex transaction hash"))
        .otherwise(None)
    )
    return norm, err


_EVM_ADDR_RE = r"^0x[0-9a-f]{40}$"
_EVM_TX_RE = r"^0x[0-9a-f]{64}$"
_TRON_TX_RE = r"^[0-9a-f]{64}$"


def _all_match(frame: pl.DataFrame, col: str, pattern: str, *, nullable: bool) -> bool:
    """Whether every value of ``col`` already matches its canonical ``pattern``."""
    ok = frame.select(
        (pl.col(col).is_null() if nullable else pl.lit(False))
        | pl.col(col).str.contains(pattern).fill_null(False)
    ).to_series()
    return bool(ok.all())


def _blocks_fill(frame: pl.DataFrame, chain: str, blocks: pl.DataFrame | None) -> pl.DataFrame:
    if blocks is None or frame["ts"].null_count() == 0:
        return frame
    b = blocks.filter(pl.col("chain").is_null() | (pl.col("chain") == chain)).select(
        "block", pl.col("ts").alias("_block_ts")
    )
    b = b.unique("block", keep="first")
    return (
        frame.join(b, on="block", how="left", maintain_order="left")
        .with_columns(pl.coalesce("ts", "_block_ts").alias("ts"))
        .drop("_block_ts")
    )


def _canonicalize_chain(frame: pl.DataFrame, chain: str, opts: ReadOptions) -> pl.DataFrame:
    """Canonicalise rows of one chain; adds ``_err_field``/``_err_reason`` columns."""
    f = frame
    errors: list[tuple[str, pl.Expr]] = []
    if f["_error"].null_count() < f.height:
        errors.append(("_source", pl.col("_error")))
    # addresses (token null = native coin), transaction hash and value in one parallel pass
    # Fast path: a column already in canonical form everywhere (the usual case for ethereum-etl
    # and BigQuery exports) is kept as it is; one regex pass instead of five string passes.
    no_error = pl.lit(None, pl.String)
    if _all_match(f, "tx_hash", _TRON_TX_RE if chain == TRON else _EVM_TX_RE, nullable=False):
        exprs = [pl.col("tx_hash"), no_error.alias("_e_tx_hash")]
    else:
        tx_norm, tx_err = _tx_hash_expr(chain)
        exprs = [tx_norm.alias("tx_hash"), tx_err.alias("_e_tx_hash")]
    for col in ("src", "dst", "token"):
        if chain != TRON and _all_match(f, col, _EVM_ADDR_RE, nullable=col == "token"):
            norm_e, err_e = pl.col(col), no_error
        elif chain == TRON:
            norm, err = normalize_series(chain, f[col])
            norm_e, err_e = pl.lit(norm), pl.lit(err)
        else:
            norm_e, err_e = evm_exprs(col)
        if col == "token":
            err_e = pl.when(pl.col(col).is_null()).then(None).otherwise(err_e)
        exprs += [norm_e.alias(col), err_e.alias(f"_e_{col}")]
        errors.append((col, pl.col(f"_e_{col}")))
    f = f.with_columns(exprs)
    errors.insert(0, ("tx_hash", pl.col("_e_tx_hash")))
    # value
    f = f.with_columns(canonical_digits(pl.col("value").str.strip_chars()).alias("value"))
    f = f.with_columns(value_error(pl.col("value")).alias("_e_value"))
    errors.append(("value", pl.col("_e_value")))
    # token metadata
    meta = opts.tokens.frame().filter(pl.col("chain") == chain).drop("chain", "stablecoin")
    f = f.join(meta, on="token", how="left", maintain_order="left")
    native_symbol, native_decimals = NATIVE.get(chain, (None, None))
    f = f.with_columns(
        pl.when(pl.col("token").is_null())
        .then(pl.lit(native_symbol, dtype=pl.String))
        .otherwise(pl.coalesce("asset", "symbol"))
        .alias("asset"),
        pl.when(pl.col("token").is_null())
        .then(pl.lit(native_decimals, dtype=pl.Int16))
        .otherwise(pl.coalesce("decimals", pl.col("decimals_right")))
        .alias("decimals"),
    ).drop("symbol", "decimals_right")
    errors.append(
        (
            "decimals",
            pl.when(pl.col("decimals").is_not_null() & ~pl.col("decimals").is_between(0, 77))
            .then(pl.lit("decimals outside 0..77"))
            .otherwise(None),
        )
    )
    # time
    f = _blocks_fill(f, chain, opts.blocks)
    errors.append(
        (
            "ts",
            pl.when(pl.col("ts").is_null())
            .then(
                pl.lit(
                    "no timestamp: this export has block numbers only; pass --blocks with "
                    "the blocks export (number,timestamp)"
                    if f["block"].null_count() < f.height
                    else "missing or unparsable timestamp"
                )
            )
            .otherwise(None),
        )
    )
    errors.append(
        ("block", pl.when(pl.col("block") < 0).then(pl.lit("negative block")).otherwise(None))
    )
    # Messages are built only for failing rows: concatenating "reason: value" strings for every
    # row was most of the ingest time on a clean 1M-row export.
    checks = [(name, e.alias(f"_chk_{i}")) for i, (name, e) in enumerate(errors)]
    f = f.with_columns([e for _, e in checks])
    flags = [pl.col(f"_chk_{i}").is_not_null() for i in range(len(checks))]
    f = f.with_columns(pl.any_horizontal(flags).alias("_bad"))
    reasons = []
    for i, (name, _) in enumerate(checks):
        r = pl.col(f"_chk_{i}")
        if name in ("src", "dst", "token", "value"):
            r = r + pl.lit(": ") + pl.col(f"_orig_{name}").fill_null("null")
        reasons.append(r)
    where = pl.lit(None, dtype=pl.String)
    for i in reversed(range(len(checks))):
        where = pl.when(flags[i]).then(pl.lit(checks[i][0])).otherwise(where)
    bad = f.filter(pl.col("_bad")).with_columns(
        pl.coalesce(reasons).alias("_err_reason"), where.alias("_err_field")
    )
    good = f.filter(~pl.col("_bad")).with_columns(
        pl.lit(None, pl.String).alias("_err_reason"), pl.lit(None, pl.String).alias("_err_field")
    )
    f = pl.concat([good, bad]).drop([f"_chk_{i}" for i in range(len(checks))], "_bad")
    return f.with_columns(pl.lit(chain).alias("chain"))


def canonicalize(batch: RawBatch, file: str, opts: ReadOptions, *, skip_bad: bool) -> Loaded:
    """Turn a source's raw batch into canonical transfers, skipped counts and rejects.

    Raises :class:`InputError` at the first bad row unless ``skip_bad``.
    """
    raw = complete(batch.frame)
    read = raw.height
    skip_mask = raw["_skip"].is_not_null()
    skipped = Counter(raw.filter(skip_mask)["_skip"].to_list())
    raw = raw.filter(~skip_mask)
    default_chain = normalize_chain(opts.chain) if opts.chain else "ethereum"
    chains = raw["chain"].fill_null(default_chain)
    chain_map = {c: normalize_chain(c) for c in chains.unique().to_list()}
    raw = raw.with_columns(
        chains.replace_strict(chain_map, return_dtype=pl.String).alias("chain"),
        *(pl.col(c).alias(f"_orig_{c}") for c in ("src", "dst", "token", "value")),
    )
    parts = []
    for chain in sorted(raw["chain"].unique().to_list()):
        parts.append(_canonicalize_chain(raw.filter(pl.col("chain") == chain), chain, opts))
    done = (
        pl.concat(parts, how="vertical_relaxed")
        if parts
        else raw.with_columns(
            pl.lit(None, pl.String).alias("_err_reason"),
            pl.lit(None, pl.String).alias("_err_field"),
        )
    )
    bad = done.filter(pl.col("_err_reason").is_not_null()).sort("_row")
    if bad.height and not skip_bad:
        first = bad.row(0, named=True)
        fname = _user_field(first["_err_field"], first["_error_field"], batch.fields)
        raise InputError(file, first["_row"], fname, first["_err_reason"])
    rejects = _rejects_frame(bad, batch, file)
    warnings: list[str] = list(batch.warnings)
    good = done.filter(pl.col("_err_reason").is_null())
    if good.height:
        need_seq = good["seq"].is_null()
        if need_seq.any():
            synth, occ = synthetic_seq(good)
            good = good.with_columns(pl.coalesce(pl.col("seq"), synth).alias("seq"))
            if (w := occ.warning()) is not None:
                warnings.append(w)
    transfers = good.select(
        pl.col("chain"),
        pl.col("asset"),
        pl.col("token"),
        pl.col("tx_hash"),
        pl.col("seq"),
        pl.col("block"),
        pl.col("ts").cast(pl.Datetime("us", "UTC")),
        pl.col("src"),
        pl.col("dst"),
        pl.col("value"),
        pl.col("decimals").cast(pl.Int16),
        amount_expr(pl.col("value"), pl.col("decimals")).alias("amount"),
    ).cast(dict(TRANSFER_PL))  # type: ignore[arg-type]
    return Loaded(file, batch.format, transfers, rejects, skipped, read, warnings, batch.notes)


def _user_field(canonical: str | None, source_field: str | None, fields: dict[str, str]) -> str:
    if canonical == "_source":
        return source_field or "?"
    if canonical is None:
        return "?"
    return fields.get(canonical, canonical)


def _rejects_frame(bad: pl.DataFrame, batch: RawBatch, file: str) -> pl.DataFrame:
    if bad.height == 0:
        return pl.DataFrame(schema=REJECT_PL)
    orig = batch.original
    raw_json = orig.select("_row", pl.struct(pl.exclude("_row")).struct.json_encode().alias("raw"))
    b = bad.select("_row", "_err_field", "_error_field", "_err_reason").join(
        raw_json, on="_row", how="left", maintain_order="left"
    )
    fields = [
        _user_field(c, s, batch.fields)
        for c, s in zip(b["_err_field"].to_list(), b["_error_field"].to_list(), strict=True)
    ]
    return pl.DataFrame(
        {
            "file": [file] * b.height,
            "row": b["_row"],
            "field": fields,
            "reason": b["_err_reason"],
            "raw": b["raw"],
        },
        schema=REJECT_PL,
    )


def timestamp_series(frame: pl.DataFrame, col: str | None) -> pl.Series:
    """:func:`timestamp_us` of a frame's column, skipping the text formats when every value is
    an integer (epoch s/ms/µs: ethereum-etl, TronGrid), which halves the time of a 1M-row ingest.
    """
    if col is None or col not in frame.columns:
        return pl.Series("ts", [None] * frame.height, dtype=pl.Int64)
    s = frame[col].cast(pl.String).str.strip_chars()
    as_int = s.cast(pl.Int64, strict=False)
    if as_int.null_count() == s.null_count():
        return frame.select(_epoch_us(as_int.alias("x"))).to_series().alias("ts")
    return frame.select(timestamp_us(pl.col(col)).alias("ts")).to_series()


def _epoch_us(as_int: pl.Series) -> pl.Expr:
    x = pl.lit(as_int)
    return (
        pl.when(x < 100_000_000_000)
        .then(x * 1_000_000)
        .when(x < 100_000_000_000_000)
        .then(x * 1_000)
        .otherwise(x)
    )


def timestamp_us(expr: pl.Expr) -> pl.Expr:
    """Parse a timestamp column to µs since epoch (UTC); null where unparsable.

    Accepts integer seconds, milliseconds or microseconds (told apart by magnitude: exports mix
    them — TronGrid and TronScan use ms, ethereum-etl and Etherscan seconds) and date-time text
    (ISO 8601 with ``T`` or space, optional fraction, ``Z``/``UTC``/``+hh:mm``; naive text is UTC).
    """
    s = expr.cast(pl.String).str.strip_chars()
    as_int = s.cast(pl.Int64, strict=False)
    from_int = (
        pl.when(as_int < 100_000_000_000)
        .then(as_int * 1_000_000)
        .when(as_int < 100_000_000_000_000)
        .then(as_int * 1_000)
        .otherwise(as_int)
    )
    text = s.str.replace(r"\s*UTC$", "").str.replace(r"Z$", "").str.replace("T", " ")
    dt = pl.Datetime("us", "UTC")
    with_offset = text.str.strptime(dt, "%Y-%m-%d %H:%M:%S%.f%:z", strict=False)
    naive = text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S%.f", strict=False)
    minutes = text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M", strict=False)
    parsed = pl.coalesce(
        with_offset.dt.convert_time_zone("UTC").dt.replace_time_zone(None), naive, minutes
    )
    return pl.coalesce(from_int, parsed.dt.epoch("us"))


def flag_error(frame: pl.DataFrame, mask: pl.Series, user_field: str, reason: str) -> pl.DataFrame:
    """Record ``reason`` as the read-time error of the rows in ``mask`` (first error wins)."""
    if not mask.any():
        return frame
    err = pl.when(mask).then(pl.lit(reason)).otherwise(None)
    fld = pl.when(mask).then(pl.lit(user_field)).otherwise(None)
    if "_error" in frame.columns:
        err = pl.coalesce(pl.col("_error"), err)
        fld = pl.coalesce(pl.col("_error_field"), fld)
    return frame.with_columns(err.alias("_error"), fld.alias("_error_field"))


def flag_non_integer(frame: pl.DataFrame, col: str, user_field: str) -> pl.DataFrame:
    """Flag a non-integer ``col`` as a row error rather than letting a cast null it silently."""
    s = frame[col].cast(pl.String).str.strip_chars()
    bad = (s.is_not_null() & (s != "") & s.cast(pl.Int64, strict=False).is_null()).fill_null(False)
    return flag_error(frame, bad, user_field, f"{user_field} is not an integer")


def recover_exact(
    texts: list[str | None], decimals: list[int | None], tokens: list[str]
) -> tuple[list[str | None], list[str | None]]:
    """Exact digit strings from human-scaled amounts, with a reason where impossible.

    Used by formats whose amounts are already divided by ``10**decimals`` (Etherscan CSV, generic
    CSV with an ``amount`` column): the integer is recovered only when it is exact.
    """
    values: list[str | None] = []
    errors: list[str | None] = []
    for text, dec, name in zip(texts, decimals, tokens, strict=True):
        if text is None or text.strip() == "":
            values.append(None)
            errors.append("missing amount")
        elif dec is None:
            values.append(None)
            errors.append(
                f"cannot recover the exact integer: decimals of token {name} unknown "
                "(add it with --tokens FILE: chain,token,symbol,decimals)"
            )
        else:
            try:
                values.append(scaled_to_raw(text, dec))
                errors.append(None)
            except ValueError as exc:
                values.append(None)
                errors.append(f"cannot recover the exact integer: {exc}")
    return values, errors
