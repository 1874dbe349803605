"""The HTTP views of the benchmarks: the DRF comparison of B2/B3 and the save endpoint of B1/B5.

``BoardView`` is the best case of what a team would otherwise write: every relation of the tree is fetched
with ``select_related``/``prefetch_related`` (a constant number of queries whatever the board's size).

``save_card`` makes a real ``Card.save()`` inside the server process (the embedded backends see only
their own process's saves) and answers the ``time.monotonic`` reading taken just before ``save()``: the
start of the fan-out timings, on the clock the subscriber process stamps arrivals with.
"""

import time
from typing import Any

from board.models import Board, Card
from board.serializers import BoardSerializer
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
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


@csrf_exempt
@require_POST
def save_card(request: HttpRequest, pk: int) -> JsonResponse:
    """``POST /bench/save-card/<pk>`` with ``title``: ``Card.save(update_fields=["title"])`` (autocommit)."""
    card = Card.objects.select_related("column").get(pk=pk)
    card.title = request.POST["title"]
    started = time.monotonic()
    card.save(update_fields=["title"])
    return JsonResponse({"t0": started})
