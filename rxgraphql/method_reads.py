"""``@reads``: what a serializer method field reads, so that a save of other fields does not run it again.

A ``SerializerMethodField`` may read anything, so every change of its row renders it again: a title edit
of the example's card re-runs ``get_comment_count`` and its query. Declaring the fields the method reads
limits that to changes of those fields::

    class CardSerializer(serializers.ModelSerializer):
        comment_count = serializers.SerializerMethodField()

        @reads("comments")
        def get_comment_count(self, card):
            return len(card.comments.all())

The names are fields of the serializer's model: a column (``"title"``, ``"column"`` or ``"column_id"``)
or a relation (``"comments"``). A change of a declared column renders the field again; the children of a
nested relation re-render their parent whole when they change, declared or not. A method that reads a
model outside the channel's tree is not refreshed by that model's changes either way. An undeclared
method is rendered again on every change of its row, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import models

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute ``@reads`` sets on the method.
READS_ATTR = "rxgraphql_reads"


def reads(*fields: str) -> Callable[[F], F]:
    """Declare the model fields a ``get_<field>`` method of a serializer reads."""
    if not all(isinstance(name, str) and name for name in fields):
        raise TypeError("@reads takes the names of the model fields the method reads")

    def mark(method: F) -> F:
        setattr(method, READS_ATTR, frozenset(fields))
        return method

    return mark


def declared_reads(serializer_class: type[Any], method_name: str) -> frozenset[str] | None:
    """The fields the serializer's method declares it reads; None when it declares nothing."""
    method = getattr(serializer_class, method_name, None)
    found = getattr(method, READS_ATTR, None)
    return found if isinstance(found, frozenset) else None


def check_declared_reads(serializer_class: type[Any], model: type[models.Model], method_name: str) -> None:
    """Raise ``ImproperlyConfigured`` when the method declares a name that is no field of ``model``."""
    for name in sorted(declared_reads(serializer_class, method_name) or ()):
        if name == "pk":
            continue
        try:
            model._meta.get_field(name)
        except FieldDoesNotExist:  # (``get_field`` knows attnames too)
            raise ImproperlyConfigured(
                f"{serializer_class.__name__}.{method_name} declares @reads({name!r}), "
                f"which is not a field of {model._meta.label}"
            ) from None
