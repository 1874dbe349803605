"""``ContextChannel`` declarations: a typo in ``Meta`` is refused with the options it could have meant."""

from __future__ import annotations

import pytest
from board.serializers import BoardSerializer
from django.core.exceptions import ImproperlyConfigured

from rxgraphql import ContextChannel
from rxgraphql.channel import META_OPTIONS


@pytest.mark.parametrize("typo", ["writeable", "autoupdate", "State"])
def test_an_unknown_meta_option_names_itself_and_the_options(typo: str) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        type(
            "TypoChannel",
            (ContextChannel,),
            {"Meta": type("Meta", (), {"state": BoardSerializer(), typo: {}}), "__module__": __name__},
        )
    message = str(refused.value)
    assert f"'{typo}'" in message
    assert all(option in message for option in META_OPTIONS)


def test_an_abstract_channel_is_checked_too() -> None:
    with pytest.raises(ImproperlyConfigured, match="'abstrakt'"):
        type("Base", (ContextChannel,), {"Meta": type("Meta", (), {"abstrakt": True}), "__module__": "t"})
