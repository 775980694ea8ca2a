"""Who calls: the key (Bearer), its rate limit, its OAs and its capabilities.

A key is held to a CS agent's rule: an OA outside its scope, and every row of one,
answers 404 exactly like an id that never existed."""

import math
from collections.abc import Iterable

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer

from zalohub.accounts.models import OfficialAccount
from zalohub.api import ratelimit
from zalohub.api.keys import key_find, key_find_cached, key_fresh, key_oa_ids, key_touch
from zalohub.api.models import ApiKey, Capability
from zalohub.api.problems import ApiProblem, not_found


class KeyAuth(HttpBearer):
    """``Authorization: Bearer zh_…``: an active key, within its rate limit.

    ``cached``: the key as this process last found it (``keys.key_find_cached``), for
    the operations that check it again in the transaction that does their work, and
    count the request against the rate limit themselves (``count_request``)."""

    def __init__(self, *, cached: bool = False) -> None:
        super().__init__()
        self.cached = cached

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = (key_find_cached if self.cached else key_find)(token.strip())
        if key is None:
            return None
        if self.cached:
            setattr(request, _UNCOUNTED, True)
        else:
            count_request(key)
        key_touch(key, request.META.get("REMOTE_ADDR") or None)
        return key


def rate_limited(key: ApiKey, wait: float) -> ApiProblem:
    """429 with Retry-After: the key's requests of this minute are spent."""
    problem = ApiProblem(
        429,
        "rate_limited",
        _("This key made more than %(n)d requests this minute.") % {"n": key.rate_limit_per_minute},
    )
    problem.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return problem


def count_request(key: ApiKey) -> None:
    """Count the request against the key's rate limit (429 past it)."""
    wait = ratelimit.take(key)
    if wait:
        raise rate_limited(key, wait)


# Set on a request whose authentication (``KeyAuth(cached=True)``) left the count to
# the operation.
_UNCOUNTED = "_zalohub_api_uncounted"


def count_refused(request: HttpRequest) -> None:
    """Count a request refused before its operation ran (a body that fails the schema
    or is no JSON) whose authentication left the count to the operation: a client
    hammering with bad bodies is held to the rate limit like any other (429). The key
    is read again first: revoked meanwhile, the answer is 401 (AuthenticationError)."""
    if not getattr(request, _UNCOUNTED, False):
        return
    setattr(request, _UNCOUNTED, False)
    key = key_fresh(the_key(request))
    if key is None:
        raise AuthenticationError
    count_request(key)


def the_key(request: HttpRequest) -> ApiKey:
    key = request.auth  # type: ignore[attr-defined]  # set by ninja's authentication
    assert isinstance(key, ApiKey)
    return key


def need(key: ApiKey, *capabilities: str) -> None:
    """The key holds one of ``capabilities``, else 403 (the key knows its own rights)."""
    if not any(key.can(c) for c in capabilities):
        names = ", ".join(str(Capability(c).label) for c in capabilities)
        raise ApiProblem(
            403, "missing_capability", _("This key may not do this; it needs: %s.") % names
        )


def oa_ids(key: ApiKey) -> set[int]:
    return key_oa_ids(key)


def scoped_oa(key: ApiKey, oa_id: int) -> OfficialAccount:
    if oa_id not in key_oa_ids(key):
        raise not_found()
    # The tokens stay encrypted: no endpoint here calls Zalo with them.
    oa = OfficialAccount.objects.filter(pk=oa_id).defer("access_token", "refresh_token").first()
    if oa is None:
        raise not_found()
    return oa


def in_scope(key: ApiKey, oa_id: int | None) -> None:
    if oa_id is None or oa_id not in key_oa_ids(key):
        raise not_found()


def only(key: ApiKey, wanted: int | None) -> Iterable[int]:
    """The key's OA ids, or the one asked for (404 when it is not the key's)."""
    if wanted is None:
        return key_oa_ids(key)
    in_scope(key, wanted)
    return [wanted]
