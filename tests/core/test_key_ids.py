"""Revoking one API key by its id: a malformed id is bad input, refused before the database is
touched, rather than a pattern that could match other keys (``%`` in a LIKE)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from api.services import Services
from registry.api_keys import list_api_keys, revoke_api_keys
from registry.errors import InvalidInput
from tests.conftest import Stack


@pytest.mark.parametrize("key_id", ["%", "ab_d", "ABCD", "abc", "a" * 65, " abcd"])
def test_a_malformed_key_id_is_refused_and_revokes_nothing(
    stack: Stack, engine: sa.Engine, key_id: str
) -> None:
    Services.build(engine, stack.chain, stack.deployment, stack.secrets)
    before = list_api_keys(engine)
    assert any(k.institution == "Bank A" for k in before)
    with pytest.raises(InvalidInput) as raised:
        revoke_api_keys(engine, "Bank A", key_id=key_id)
    assert (raised.value.field, raised.value.rule) == ("key_id", "key-id-format")
    assert list_api_keys(engine) == before
