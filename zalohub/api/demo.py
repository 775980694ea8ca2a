"""The demo's API key: every capability on every OA, its text kept in the data
directory (the embedded shape keeps its generated keys there) so that each start of
``zalohub demo`` prints the same key."""

from django.conf import settings

from zalohub.accounts.models import OfficialAccount
from zalohub.api.keys import key_create, key_find
from zalohub.api.models import Capability

DEMO_KEY_NAME = "Demo"


def demo_api_key() -> str:
    """The demo key's text: the one kept in the data directory while it is still valid,
    else a new one (kept there for the next start)."""
    path = settings.DATA_DIR / "demo-api-key.txt"
    if path.exists():
        raw = path.read_text().strip()
        key = key_find(raw)
        if key is not None:
            key.oas.set(OfficialAccount.objects.all())
            return raw
    _key, raw = key_create(
        name=DEMO_KEY_NAME, oas=OfficialAccount.objects.all(), capabilities=Capability.values
    )
    path.write_text(raw + "\n")
    path.chmod(0o600)
    return raw
