"""What an integrator does first with a Python client generated from openapi.yaml.

scripts/client-check generates the client (package `custodian_client`, with
clients/python/generator.yaml), type-checks it and this script with `mypy --strict`, and runs this
script against a live server:

    CUSTODIAN_URL=http://127.0.0.1:8080 CUSTODIAN_KEY=<staff key> python smoke.py

Every answer is used through the generated models, so a contract the generator misreads fails
here: a list with a second page, a create retried with its Idempotency-Key, an update with a stale
ETag (412), a problem answer, a public consent read and a feed poll.
"""

import json
import os
import uuid
from http import HTTPStatus

from custodian_client import AuthenticatedClient, Client
from custodian_client.api.consent import issue_lead_consent_link
from custodian_client.api.feeds import feed_leads
from custodian_client.api.leads import create_lead, get_lead, list_leads, update_lead
from custodian_client.api.public import get_public_consent
from custodian_client.models import (
    ConsentLink,
    FeedCheckpoint,
    FeedRemoval,
    Lead,
    LeadCreate,
    LeadFeedUpsert,
    LeadPage,
    LeadUpdate,
    Problem,
    PublicConsent,
)


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"client smoke test: {message}")


def main() -> None:
    base_url = os.environ["CUSTODIAN_URL"]
    staff = AuthenticatedClient(base_url=base_url, token=os.environ["CUSTODIAN_KEY"], raise_on_unexpected_status=True)
    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    marker = uuid.uuid4().hex[:8]

    # Creates, one of them retried with the same Idempotency-Key: it happens once.
    created: list[Lead] = []
    for number in range(3):
        lead = create_lead.sync(
            client=staff,
            body=LeadCreate(name=f"Smoke {marker} {number}", email=f"smoke-{marker}-{number}@example.org"),
            idempotency_key=f"smoke-{marker}-{number}",
        )
        expect(isinstance(lead, Lead), f"create answered {lead!r}")
        assert isinstance(lead, Lead)
        created.append(lead)
    retried = create_lead.sync_detailed(
        client=staff,
        body=LeadCreate(name=f"Smoke {marker} 0", email=f"smoke-{marker}-0@example.org"),
        idempotency_key=f"smoke-{marker}-0",
    )
    expect(isinstance(retried.parsed, Lead), "the retried create is not a Lead")
    assert isinstance(retried.parsed, Lead)
    expect(retried.parsed.id == created[0].id, "a retried create made a second lead")
    expect(retried.headers.get("Location") == f"/v1/leads/{created[0].id}", "a create answers without Location")

    # A list of two pages, each item a typed Lead.
    first = list_leads.sync(client=staff, q=f"Smoke {marker}", limit=2)
    expect(isinstance(first, LeadPage), f"list answered {first!r}")
    assert isinstance(first, LeadPage)
    expect(
        len(first.data) == 2 and isinstance(first.next_cursor, str),
        f"the first page holds {len(first.data)} leads, cursor {first.next_cursor!r}",
    )
    assert isinstance(first.next_cursor, str)
    second = list_leads.sync(client=staff, q=f"Smoke {marker}", limit=2, cursor=first.next_cursor)
    assert isinstance(second, LeadPage)
    listed = [lead.id for lead in first.data + second.data]
    expect(sorted(listed) == sorted(lead.id for lead in created), "the two pages do not hold the three leads")
    expect(second.next_cursor is None, "the last page has a cursor")
    expect(all(isinstance(lead.created_at, type(created[0].created_at)) for lead in second.data), "untyped items")

    # An update with the current ETag, then one with the stale ETag: 412, a Problem.
    read = get_lead.sync_detailed(created[1].id, client=staff)
    etag = read.headers["ETag"]
    changed = update_lead.sync(created[1].id, client=staff, body=LeadUpdate(status="contacted"), if_match=etag)
    expect(isinstance(changed, Lead) and changed.status == "contacted", f"update answered {changed!r}")
    stale = update_lead.sync_detailed(created[1].id, client=staff, body=LeadUpdate(status="lost"), if_match=etag)
    expect(stale.status_code == HTTPStatus.PRECONDITION_FAILED, f"a stale If-Match answered {stale.status_code}")
    expect(isinstance(stale.parsed, Problem), "a 412 is not a Problem")
    assert isinstance(stale.parsed, Problem)
    expect(stale.parsed.type_ == "urn:custodian:problem:precondition-failed", f"412 type {stale.parsed.type_}")
    expect(stale.headers.get("ETag") != etag, "a 412 does not carry the current ETag")

    # A problem answer: an id no record has.
    missing = get_lead.sync_detailed(uuid.uuid4(), client=staff)
    expect(isinstance(missing.parsed, Problem), f"404 answered {missing.parsed!r}")
    assert isinstance(missing.parsed, Problem)
    expect(missing.parsed.status == 404 and missing.parsed.type_ == "urn:custodian:problem:not-found", "404 problem")

    # A consent link, read without a key as the person would.
    link = issue_lead_consent_link.sync(created[2].id, client=staff)
    expect(isinstance(link, ConsentLink), f"consent link answered {link!r}")
    assert isinstance(link, ConsentLink)
    token = link.url.rstrip("/").rsplit("/", 1)[-1]
    consent = get_public_consent.sync(token, client=public)
    expect(isinstance(consent, PublicConsent), f"the public consent read answered {consent!r}")

    # A feed poll: text, one typed line per line, a checkpoint last.
    feed = feed_leads.sync(client=staff)
    expect(isinstance(feed, str), f"the feed answered {feed!r}")
    assert isinstance(feed, str)
    lines: list[LeadFeedUpsert | FeedRemoval | FeedCheckpoint] = []
    for text in feed.splitlines():
        line = json.loads(text)
        match line["op"]:
            case "upsert":
                lines.append(LeadFeedUpsert.from_dict(line))
            case "deleted" | "erased":
                lines.append(FeedRemoval.from_dict(line))
            case "checkpoint":
                lines.append(FeedCheckpoint.from_dict(line))
            case other:
                # Feeds may gain kinds of line: skip what this reader does not know.
                print(f"skipping a feed line of kind {other}")
    expect(isinstance(lines[-1], FeedCheckpoint), "the feed does not end with a checkpoint")
    fed = {line.record.id for line in lines if isinstance(line, LeadFeedUpsert)}
    expect({lead.id for lead in created} <= fed, "the feed misses a lead")
    print(f"client smoke test: {len(created)} leads, 2 pages, 412, 404, a consent link and {len(lines)} feed lines")


if __name__ == "__main__":
    main()
