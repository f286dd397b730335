"""Schemathesis hooks for scripts/fuzz: strategies for the formats openapi.yaml names that no
generic generator knows, so that schema-valid requests are what the server would accept."""
import base64
import uuid

import schemathesis
from hypothesis import strategies as st


def _cursor(position: tuple[int, object]) -> str:
    # What the server issues: base64url of "<microseconds since 1970>:<uuid>", without padding.
    micros, uuid = position
    return base64.urlsafe_b64encode(f"{micros}:{uuid}".encode()).decode().rstrip("=")


def _fresh_key(_: object) -> str:
    # Drawn anew on every request, replays included: a key repeats only when a client retries,
    # and a replayed create answers with what it created the first time (perhaps deleted since).
    return str(uuid.uuid4())


# Creation times PostgreSQL and the server hold: years 1 to 9999.
schemathesis.openapi.format(
    "custodian-cursor",
    st.tuples(st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999), st.uuids()).map(_cursor),
)


def _feed_cursor(code: int):
    # What the server issues for a feed (version 1, the feed, one range served at a snapshot
    # `xmin:xmax:`), for a snapshot older than any this cluster has now: every change since.
    def encode(xmin: int) -> str:
        raw = bytes([1, code, 1, 1, xmin, 0, 0])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return st.integers(1, 3).map(encode)


for name, code in (("leads", 1), ("contacts", 2), ("customers", 3), ("consents", 4)):
    schemathesis.openapi.format(f"custodian-feed-cursor-{name}", _feed_cursor(code))
# A fresh key per request, as clients are told to send; reusing one for another body is a 422 by design.
schemathesis.openapi.format("idempotency-key", st.just(None).map(_fresh_key))


def _audit_cursor(position: tuple[int, int]) -> str:
    # What the server issues for the audit trail: base64url of "<microseconds since 1970>.<entry id>".
    micros, entry = position
    return base64.urlsafe_b64encode(f"{micros}.{entry}".encode()).decode().rstrip("=")


schemathesis.openapi.format(
    "custodian-audit-cursor",
    st.tuples(st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999), st.integers(1, 2**63 - 1)).map(_audit_cursor),
)
