"""Per-user records: which patches every user reads alike, and the part of the others one user may see."""

from __future__ import annotations

from typing import Any

from board.channels import BoardChannel

from rxgraphql.ownership import outsider, patch_for, reads_alike, users_named
from rxgraphql.records import Record
from rxgraphql.stream import Patch

LAYERS = {layer.type_name: layer for layer in BoardChannel._meta.layers}


def _patch(records: list[Record], **kwargs: Any) -> Patch:
    return Patch(
        channel=BoardChannel._meta.channel_name, anchor="1", epoch="e", version=2, records=records, **kwargs
    )


def _reminder(pk: int, owner: int) -> Record:
    return {"__typename": "Reminder", "id": pk, "text": f"r{pk}", "owner": owner}


def test_a_patch_without_per_user_records_reads_alike() -> None:
    assert reads_alike(_patch([{"__typename": "Board", "id": 1, "title": "t"}]), LAYERS)


def test_a_per_user_record_a_list_of_them_a_deletion_or_a_reset_does_not() -> None:
    card = {"__typename": "Card", "id": 5, "title": "c", "reminders": [1]}
    assert not reads_alike(_patch([_reminder(1, 1)]), LAYERS)
    assert not reads_alike(_patch([card]), LAYERS)  # Card lists reminders
    assert not reads_alike(_patch([], deleted=[("Reminder", "1")]), LAYERS)
    assert not reads_alike(_patch([{"__typename": "Board", "id": 1}], reset=True), LAYERS)


def test_each_user_sees_their_records_and_lists_without_the_ids_of_others() -> None:
    card = {"__typename": "Card", "id": 5, "title": "c", "reminders": [1, 2]}
    patch = _patch(
        [card, _reminder(1, 1), _reminder(2, 2)],
        owners={"Reminder:1": "1", "Reminder:2": "2"},
    )
    alice = patch_for(patch, "1", LAYERS)
    assert alice is not None
    assert alice.records == [{**card, "reminders": [1]}, _reminder(1, 1)]
    assert (alice.owners, alice.previous_owners) == ({}, {})  # past the feed nobody needs them
    assert patch.records[0]["reminders"] == [1, 2]  # the patch itself is left as it was


def test_a_record_that_changed_hands_leaves_its_former_owner() -> None:
    patch = _patch([_reminder(1, 2)], owners={"Reminder:1": "2"}, previous_owners={"Reminder:1": "1"})
    former = patch_for(patch, "1", LAYERS)
    assert former is not None
    assert (former.records, former.deleted) == ([], [("Reminder", "1")])


def test_nothing_is_handed_to_a_user_none_of_the_patch_is_for() -> None:
    patch = _patch([_reminder(1, 1)], owners={"Reminder:1": "1"})
    assert patch_for(patch, "2", LAYERS) is None
    deleted = _patch([], deleted=[("Reminder", "1")], previous_owners={"Reminder:1": "1"})
    assert patch_for(deleted, "2", LAYERS) is None
    gone = patch_for(deleted, "1", LAYERS)
    assert gone is not None
    assert gone.deleted == [("Reminder", "1")]


def test_every_user_the_patch_does_not_name_sees_what_the_outsider_sees() -> None:
    card = {"__typename": "Card", "id": 5, "title": "c", "reminders": [1, 2]}
    patch = _patch(
        [card, _reminder(1, 1), _reminder(2, 2)],
        owners={"Reminder:1": "1", "Reminder:2": "2"},
        previous_owners={"Reminder:3": "3"},
        deleted=[("Reminder", "3")],
    )
    named = users_named(patch, LAYERS)
    assert named == {"1", "2", "3"}
    stand_in = outsider(named)
    assert stand_in not in named
    shared = patch_for(patch, stand_in, LAYERS)
    assert shared is not None
    assert shared.records == [{**card, "reminders": []}]
    assert shared.deleted == []
    for user in ("4", "", "someone"):
        assert patch_for(patch, user, LAYERS) == shared
    for user in named:
        assert patch_for(patch, user, LAYERS) != shared


def test_the_outsider_is_no_user_a_reset_names() -> None:
    patch = _patch([_reminder(1, 1)], reset=True)
    assert users_named(patch, LAYERS) == {"1"}  # a reset carries no owners: they are read off its records
    assert outsider({"\x00"}) not in {"\x00"}
