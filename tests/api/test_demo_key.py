"""The demo's API key: made once with every capability on every OA, its text kept in
the data directory, so each `zalohub demo` start prints the same working key."""

import pytest

from tests.api.conftest import Api
from zalohub.api.demo import demo_api_key
from zalohub.api.keys import key_revoke
from zalohub.api.models import ApiKey, Capability

pytestmark = pytest.mark.django_db


def test_the_demo_key_is_kept_and_works(settings, tmp_path, oa, sales):
    settings.DATA_DIR = tmp_path
    raw = demo_api_key()
    assert demo_api_key() == raw
    key = ApiKey.objects.get()
    assert sorted(key.capabilities) == sorted(Capability.values)
    assert set(key.oas.all()) == {oa, sales}
    assert (tmp_path / "demo-api-key.txt").stat().st_mode & 0o077 == 0
    assert len(Api(raw).get("/oas")[1]["items"]) == 2
    # A revoked demo key is replaced by a new one on the next start.
    key_revoke(key=key)
    assert demo_api_key() != raw
