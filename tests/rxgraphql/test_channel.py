"""``ContextChannel`` declarations: a typo in ``Meta`` is refused with the options it could have meant."""

from __future__ import annotations

import pytest
from board.serializers import BoardSerializer, CardSerializer
from django.core.exceptions import ImproperlyConfigured

from rxgraphql import SAVE, ContextChannel
from rxgraphql.options import META_OPTIONS


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


def _declare(monkeypatch: pytest.MonkeyPatch, body: dict[str, object]) -> type[ContextChannel]:
    """A channel class built as a project's would be, kept out of the project's registry (and schema)."""
    from rxgraphql.registry import registry

    registered: list[type] = []
    monkeypatch.setattr(registry, "register", registered.append)
    made = type("ShadowChannel", (ContextChannel,), {"__module__": __name__, **body})
    assert registered == [made]
    return made


def test_options_live_on_meta_and_user_methods_named_like_them_shadow_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def actions(self: object) -> str:
        return "the user's"

    def writable(self: object) -> str:
        return "the user's too"

    channel = _declare(
        monkeypatch,
        {
            "Meta": type(
                "Meta", (), {"state": BoardSerializer(), "cache_ttl": 5, "writable": {CardSerializer: [SAVE]}}
            ),
            "actions": actions,
            "writable": writable,
            "layers": "a user attribute",
        },
    )
    options = channel._meta
    assert options.channel_name == f"{__name__}.ShadowChannel"
    assert options.field_name == "shadowChannel"
    assert options.layers.root.serializer_class is BoardSerializer
    assert options.cache_ttl == 5.0
    assert not options.many
    assert not options.auto_update
    assert [argument.name for argument in options.arguments] == ["id"]
    assert options.actions == ()
    assert set(options.writable) == {"board.serializers.CardSerializer"}
    # nothing derived lands on the class: the user's own attributes are untouched
    assert channel.actions(channel) == "the user's"  # type: ignore[operator]
    assert channel.writable(channel) == "the user's too"  # type: ignore[operator]
    assert channel.layers == "a user attribute"  # type: ignore[attr-defined]
    for derived in (
        "channel_name",
        "field_name",
        "arguments",
        "per_user",
        "many",
        "auto_update",
        "consumers",
    ):
        assert not hasattr(channel, derived), derived


def test_an_abstract_channel_has_no_options() -> None:
    base = _declare_abstract()
    assert "_meta" not in vars(base)


def _declare_abstract() -> type[ContextChannel]:
    return type(
        "AbstractBase", (ContextChannel,), {"Meta": type("Meta", (), {"abstract": True}), "__module__": "t"}
    )
