"""One behaviour suite for every DeskClient: the in-memory fake, the HTTP client under `responses`
and the HTTP client against the fake served on a port. Whatever passes here, passes for all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from integration.rules import STATUSES
from integration.zoho import DeskClient, InvalidData, NotFound
from integration.zoho.client import picklist_values, zoho_time
from integration.zoho.fake import ZOHO_DEFAULT_PRIORITIES, FakeDesk


def test_satisfies_the_protocol(desk_client) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(desk_client, DeskClient)


def test_get_ticket_returns_ids_as_strings(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="Servicio caído")
    ticket = desk_client.get_ticket(created["id"])
    assert ticket["id"] == created["id"] and isinstance(ticket["id"], str)
    assert ticket["subject"] == "Servicio caído"


def test_unknown_ticket_is_not_found(desk_client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFound):
        desk_client.get_ticket("999")


def test_update_changes_only_the_given_fields(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="x", priority="Low", cf={"cf_sla_rule": "old"})
    updated = desk_client.update_ticket(
        created["id"], {"priority": "High", "cf": {"cf_sla_status": "On track"}}
    )
    assert updated["priority"] == "High"
    assert updated["cf"]["cf_sla_status"] == "On track"
    assert updated["cf"]["cf_sla_rule"] == "old"
    assert desk.get_ticket(created["id"])["subject"] == "x"


def test_unknown_custom_field_is_invalid_data_naming_the_field(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="x")
    with pytest.raises(InvalidData) as error:
        desk_client.update_ticket(created["id"], {"cf": {"cf_nope": "1"}})
    assert [e.field_name for e in error.value.field_errors] == ["/cf_nope"]


def test_private_comment_and_tags(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="x")
    comment = desk_client.add_comment(created["id"], "Prioridad: Alta")
    desk_client.add_tags(created["id"], ["sla-at-risk"])
    assert comment["isPublic"] is False
    assert desk.comments[created["id"]][0]["content"] == "Prioridad: Alta"
    assert desk.tags[created["id"]] == ["sla-at-risk"]


def test_threads_come_oldest_first(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="x")
    desk.add_thread(created["id"], direction="in", createdTime="2026-11-24T16:00:00.000Z")
    desk.add_thread(created["id"], direction="out", createdTime="2026-11-24T16:20:00.000Z")
    threads = desk_client.list_threads(created["id"])
    assert [t["direction"] for t in threads] == ["in", "out"]


def test_search_pages_through_every_modified_ticket(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    ids = {desk.create_ticket(subject=f"t{i}")["id"] for i in range(7)}
    now = datetime.now(UTC)
    found = list(
        desk_client.search_modified_tickets(
            now - timedelta(minutes=5), now + timedelta(minutes=5), page_size=3
        )
    )
    assert {t["id"] for t in found} == ids


def test_search_with_nothing_modified_is_empty(desk_client) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    assert list(desk_client.search_modified_tickets(now - timedelta(days=1), now)) == []


def lower_search_cap(desk_client, desk: FakeDesk, cap: int) -> None:  # type: ignore[no-untyped-def]
    """Zoho's `from` cap (999) made small: the fake refuses more, the client must not ask."""
    desk.search_max_offset = cap
    if hasattr(desk_client, "search_max_offset"):  # the HTTP client's own knowledge of it
        desk_client.search_max_offset = cap


def search_page(desk_client, desk: FakeDesk):  # type: ignore[no-untyped-def]
    """One raw search request, through the client's transport when it has one."""
    return getattr(desk_client, "_search_page", desk.search)


T0 = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)


def at(seconds: float) -> str:
    return zoho_time(T0 + timedelta(seconds=seconds))


def test_a_search_offset_past_the_cap_or_a_limit_over_100_is_refused(desk_client, desk) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 5)
    search = search_page(desk_client, desk)
    window = (T0, T0 + timedelta(hours=1))
    assert search(modified=window, created=None, sort_by="modifiedTime", offset=5, limit=3) == []
    with pytest.raises(InvalidData) as error:
        search(modified=window, created=None, sort_by="modifiedTime", offset=6, limit=3)
    assert [e.field_name for e in error.value.field_errors] == ["/from"]
    with pytest.raises(InvalidData) as error:
        search(modified=window, created=None, sort_by="modifiedTime", offset=0, limit=101)
    assert [e.field_name for e in error.value.field_errors] == ["/limit"]


def test_search_splits_the_window_rather_than_page_past_the_cap(desk_client, desk) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 5)
    made = [desk.create_ticket(subject=f"t{i}", modifiedTime=at(i)) for i in range(25)]
    tickets = desk_client.search_modified_tickets(T0, T0 + timedelta(minutes=1), page_size=3)
    found = list(tickets)
    assert [t["id"] for t in found] == [t["id"] for t in made]  # each once, oldest change first
    assert tickets.read_before == T0 + timedelta(minutes=1) and tickets.crowded == []


def test_search_reads_many_tickets_changed_at_one_instant_by_creation_time(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 4)  # `from` 0 and 3 only: 6 of one instant reachable
    made = [
        desk.create_ticket(subject=f"t{i}", createdTime=at(-100 + i), modifiedTime=at(10))
        for i in range(20)
    ]
    before = desk.create_ticket(subject="before", modifiedTime=at(5))
    after = desk.create_ticket(subject="after", modifiedTime=at(20))
    tickets = desk_client.search_modified_tickets(T0, T0 + timedelta(minutes=1), page_size=3)
    found = [t["id"] for t in tickets]
    assert sorted(found) == sorted([before["id"], after["id"], *(t["id"] for t in made)])
    assert found[0] == before["id"] and found[-1] == after["id"]
    assert tickets.crowded == []


def test_search_names_an_instant_it_cannot_reach_and_goes_on(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 4)
    for i in range(20):  # one bulk import: same creation and modification instant
        desk.create_ticket(subject=f"t{i}", createdTime=at(0), modifiedTime=at(10))
    after = desk.create_ticket(subject="after", modifiedTime=at(20))
    tickets = desk_client.search_modified_tickets(T0, T0 + timedelta(minutes=1), page_size=3)
    found = [t["id"] for t in tickets]
    assert len(found) == len(set(found)) and found[-1] == after["id"]
    assert 6 <= len(found) < 21  # what `from` reaches of the crowd, then the rest
    [(modified, created)] = tickets.crowded
    assert modified[0] <= T0 + timedelta(seconds=10) <= modified[1]
    assert created[0] <= T0 <= created[1]


def test_search_by_creation_reads_every_ticket_created_in_the_window_oldest_first(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 5)
    desk.create_ticket(subject="too old", createdTime=at(-10))
    made = [  # whatever their status; changed out of creation order
        desk.create_ticket(
            subject=f"t{i}",
            createdTime=at(i),
            modifiedTime=at(100 - i),
            status="Closed" if i % 4 == 0 else "Open",
            statusType="Closed" if i % 4 == 0 else "Open",
        )
        for i in range(25)
    ]
    desk.create_ticket(subject="too new", createdTime=at(120))
    tickets = desk_client.search_created_tickets(T0, T0 + timedelta(minutes=1), page_size=3)
    found = list(tickets)
    assert [t["id"] for t in found] == [t["id"] for t in made]  # each once, oldest first
    assert tickets.last_created == T0 + timedelta(seconds=24) and tickets.crowded == []
    assert {t["statusType"] for t in found} == {"Open", "Closed"}


def test_search_by_creation_pages_tickets_of_one_instant_by_offset(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 4)  # `from` 0, 2 and 4: 6 of one instant reachable
    crowd = [desk.create_ticket(subject=f"t{i}", createdTime=at(0)) for i in range(5)]
    after = desk.create_ticket(subject="after", createdTime=at(1))
    window = (T0, T0 + timedelta(minutes=1))
    tickets = desk_client.search_created_tickets(*window, page_size=2)
    found = [t["id"] for t in tickets]
    assert sorted(found[:5]) == sorted(t["id"] for t in crowd) and found[5:] == [after["id"]]
    assert tickets.crowded == []
    later = (T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))
    assert list(desk_client.search_created_tickets(*later)) == []  # Zoho's 204: nothing


def test_search_by_creation_names_an_instant_it_cannot_reach_and_goes_on(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    lower_search_cap(desk_client, desk, 4)
    for i in range(20):  # one bulk import: one creation instant
        desk.create_ticket(subject=f"t{i}", createdTime=at(0))
    after = desk.create_ticket(subject="after", createdTime=at(20))
    tickets = desk_client.search_created_tickets(T0, T0 + timedelta(minutes=1), page_size=3)
    found = [t["id"] for t in tickets]
    assert len(found) == len(set(found)) and found[-1] == after["id"]
    assert 6 <= len(found) < 21  # what `from` reaches of the crowd, then the rest
    [(low, high)] = tickets.crowded
    assert low <= T0 <= high


def test_fields_statuses_and_myinfo(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    names = {f["apiName"] for f in desk_client.ticket_fields()}
    assert {"cf_sla_response_due", "cf_sla_status", "status"} <= names
    statuses = desk_client.statuses()
    assert {"value": "Waiting on customer", "statusType": "On Hold"} in statuses
    assert desk_client.myinfo()["id"] == desk.agent["id"]


def test_views_list_the_portals_ticket_views_by_name(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    before = [v["name"] for v in desk_client.list_views()]
    assert "All Tickets" in before
    desk.add_view("SLA vencido")
    assert [v["name"] for v in desk_client.list_views()] == [*before, "SLA vencido"]


def test_webhook_lifecycle(desk_client) -> None:  # type: ignore[no-untyped-def]
    assert desk_client.list_webhooks() == []
    created = desk_client.create_webhook(
        {
            "name": "sla",
            "url": "https://sla.example/webhooks/zoho-desk",
            "subscriptions": {"Ticket_Add": None},
        }
    )
    updated = desk_client.update_webhook(
        created["id"], {"subscriptions": {"Ticket_Add": None, "Ticket_Delete": None}}
    )
    assert set(updated["subscriptions"]) == {"Ticket_Add", "Ticket_Delete"}
    assert [w["id"] for w in desk_client.list_webhooks()] == [created["id"]]
    desk_client.delete_webhook(created["id"])
    assert desk_client.list_webhooks() == []
    with pytest.raises(NotFound):
        desk_client.delete_webhook(created["id"])


def test_comments_are_listed_oldest_first(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="x")
    desk_client.add_comment(created["id"], "first")
    desk_client.add_comment(created["id"], "second")
    assert [c["content"] for c in desk_client.list_comments(created["id"])] == ["first", "second"]


def test_a_webhook_url_over_500_characters_is_refused_on_create(desk_client) -> None:  # type: ignore[no-untyped-def]
    url = "https://sla.example/webhooks/zoho-desk?token=" + "x" * 460
    with pytest.raises(InvalidData) as error:
        desk_client.create_webhook(
            {"name": "sla", "url": url, "subscriptions": {"Ticket_Add": None}}
        )
    assert [e.field_name for e in error.value.field_errors] == ["/url"]
    assert desk_client.list_webhooks() == []


def test_a_webhook_url_over_100_characters_is_refused_on_update(desk_client) -> None:  # type: ignore[no-untyped-def]
    short = "https://sla.example/webhooks/zoho-desk"
    created = desk_client.create_webhook(
        {"name": "sla", "url": short, "subscriptions": {"Ticket_Add": None}}
    )
    with pytest.raises(InvalidData) as error:
        desk_client.update_webhook(created["id"], {"url": short + "?token=" + "x" * 60})
    assert [e.field_name for e in error.value.field_errors] == ["/url"]
    assert desk_client.list_webhooks()[0]["url"] == short


def test_a_priority_outside_the_picklist_is_refused_and_nothing_is_applied(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    desk.set_picklist("priority", ZOHO_DEFAULT_PRIORITIES)  # a new portal: no Urgent
    created = desk.create_ticket(subject="x", priority="Medium")
    with pytest.raises(InvalidData) as error:
        desk_client.update_ticket(
            created["id"], {"priority": "Urgent", "cf": {"cf_sla_status": "On track"}}
        )
    assert [e.field_name for e in error.value.field_errors] == ["/priority"]
    ticket = desk.get_ticket(created["id"])
    assert (ticket["priority"], ticket["cf"]["cf_sla_status"]) == ("Medium", None)


def test_an_sla_status_outside_its_picklist_is_refused_naming_the_field(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    created = desk.create_ticket(subject="x")
    with pytest.raises(InvalidData) as error:
        desk_client.update_ticket(created["id"], {"cf": {"cf_sla_status": "Late"}})
    assert [e.field_name for e in error.value.field_errors] == ["/cf_sla_status"]


def test_fields_list_the_values_of_each_picklist(desk_client) -> None:  # type: ignore[no-untyped-def]
    fields = desk_client.ticket_fields()
    priority = next(f for f in fields if f["apiName"] == "priority")
    assert priority["type"] == "Picklist"
    assert picklist_values(fields, "priority") == ["Urgent", "High", "Medium", "Low"]
    assert picklist_values(fields, "cf_sla_status") == list(STATUSES)
    assert "Pendiente" in picklist_values(fields, "cf_quote_status")


def test_tickets_assigned_to_an_agent_are_listed_up_to_the_limit(
    desk_client, desk: FakeDesk
) -> None:  # type: ignore[no-untyped-def]
    first = desk.create_ticket(subject="a", assigneeId="7001")
    desk.create_ticket(subject="b", assigneeId="7002")
    second = desk.create_ticket(subject="c", assigneeId="7001")
    listed = desk_client.tickets_assigned_to("7001", limit=10)
    assert {t["id"] for t in listed} == {first["id"], second["id"]}
    assert len(desk_client.tickets_assigned_to("7001", limit=1)) == 1


def test_an_agent_with_no_tickets_has_none_assigned(desk_client, desk: FakeDesk) -> None:  # type: ignore[no-untyped-def]
    desk.create_ticket(subject="a", assigneeId="7002")
    assert desk_client.tickets_assigned_to("7001") == []
