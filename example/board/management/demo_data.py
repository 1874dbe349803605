"""The demo content that ``seed_demo`` creates: three users, two rooms, two boards.

Kept apart from the command so the data reads as a list, not as code.
"""

from typing import NamedTuple

DEMO_USERS = ["alice", "bob", "carol"]
DEMO_PASSWORD = "demo"
ROOM_NAMES = ["General", "Random"]
GENERAL_MESSAGES = [
    ("alice", "Welcome to the live chat! Open this room in two tabs to see it sync."),
    ("bob", "Hi alice, the board for the launch is ready too."),
    ("alice", "Great, let's move the cards there as we go."),
]
LABELS = [("bug", "#d73a4a"), ("feature", "#0e8a16"), ("urgent", "#fbca04")]
COLUMNS = ["To do", "Doing", "Done"]


class DemoCard(NamedTuple):
    """One card of the "Launch" board."""

    column: str
    title: str
    assignee: str | None
    labels: list[str]
    estimate: str | None
    due_in_days: int | None
    comments: list[tuple[str, str]]


CARDS = [
    DemoCard(
        "To do",
        "Write launch announcement",
        "bob",
        ["feature"],
        "3.00",
        7,
        [("alice", "Keep it under 300 words.")],
    ),
    DemoCard("To do", "Fix signup e-mail typo", "alice", ["bug"], "0.50", None, []),
    DemoCard(
        "To do",
        "Load-test the websocket server",
        "bob",
        ["feature", "urgent"],
        "5.00",
        3,
        [("bob", "Aiming for 1k concurrent subscribers."), ("alice", "Use staging.")],
    ),
    DemoCard("Doing", "Design the pricing page", "alice", ["feature"], "8.00", 5, []),
    DemoCard(
        "Doing",
        "Migrate the staging database",
        "bob",
        ["urgent"],
        "2.50",
        1,
        [("alice", "Take a backup first, please.")],
    ),
    DemoCard("Done", "Set up continuous integration", "alice", [], "1.00", None, []),
    DemoCard("Done", "Pick a logo", None, ["feature"], None, None, [("bob", "The blue one won.")]),
    DemoCard("Done", "Fix crash on an empty board", "bob", ["bug", "urgent"], "1.50", None, []),
]
