"""The HTTP view of the benchmarks: the DRF comparison of B2/B3.

``BoardView`` is the best case of what a team would otherwise write: every relation of the tree is fetched
with ``select_related``/``prefetch_related`` (a constant number of queries whatever the board's size).
The saves of B1/B5 are not made through HTTP but by the worker's writer thread (``bench.agent``).
"""

from typing import Any

from board.models import Board
from board.serializers import BoardSerializer
from django.db.models import QuerySet
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import IsAuthenticated


def board_queryset() -> QuerySet[Board]:
    """Boards with their whole tree prefetched."""
    return Board.objects.select_related("owner", "settings").prefetch_related(
        "labels",
        "columns__cards__assignee",
        "columns__cards__created_by",
        "columns__cards__labels",
        "columns__cards__comments__author",
        "columns__cards__reminders",
    )


class BoardView(RetrieveAPIView[Board]):
    """``GET /bench/board/<pk>``: the nested state of one board as JSON."""

    serializer_class = BoardSerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self) -> Any:
        return board_queryset()
