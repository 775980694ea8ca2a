"""Removing one person's data: a data-removal request a Zalo Admin confirmed (``privacy``).

Every app that keeps something about a Zalo user removes it from its own tables with a
*remover* it registers here from its ``AppConfig.ready()`` (STYLE.md §3b): privacy sits
below some of those apps and may not import them, and no app rewrites another's rows.
``remove_person`` runs every remover, by position, inside the caller's transaction; each
anonymizes (rows other rows point at stay, emptied) and answers how many rows of each of
its tables it changed, under keys it labels for the request's audit. Counts only: the
removed data never reaches the audit.

The ``Person`` is read once, before any remover runs, so each one sees the same ids,
names and phones whatever ran before it.
"""

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.utils.functional import Promise

REMOVED = "[removed]"
# Rows changed per UPDATE (and ids per IN list): big tables are walked in slices.
BATCH = 500
# A name shorter than this is not searched for in other text (it would match words).
MIN_NAME = 4


@dataclass(frozen=True)
class Person:
    """Who is removed, on which OA, and every string that names them."""

    request_id: int
    oa_pk: int
    oa_zalo_id: str
    zalo_user_id: str
    link_pk: int | None = None
    # The link's partner; ``partner_removed`` when it is anonymized too (no other OA links
    # to it), ``merged_partner_pks`` the partners once merged into it (the same person).
    partner_pk: int | None = None
    partner_removed: bool = False
    merged_partner_pks: tuple[int, ...] = ()
    user_id_by_app: str = ""
    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()

    @property
    def placeholder(self) -> str:
        """What stands for the user id from now on (messages, events, conversation)."""
        return f"removed-{self.request_id}"

    @property
    def removed_partner_pks(self) -> tuple[int, ...]:
        if not self.partner_removed or self.partner_pk is None:
            return ()
        return (self.partner_pk, *self.merged_partner_pks)

    @property
    def recipients(self) -> dict[str, str]:
        """Each id a message or conversation of this OA names the person by (the Zalo
        user id; a phone for a ZNS send to a phone-only customer), to its placeholder:
        one per id, since a conversation is unique per (OA, id)."""
        found = {self.zalo_user_id: self.placeholder}
        for n, phone in enumerate(self.phones, start=1):
            found.setdefault(phone, f"{self.placeholder}-{n}")
        return found

    @property
    def ids(self) -> tuple[str, ...]:
        """Strings that name only this person: searched for in bodies and logs."""
        phones = [*self.phones, *(local_phone(p) for p in self.phones)]
        return _unique([self.zalo_user_id, self.user_id_by_app, *phones])

    @property
    def needles(self) -> tuple[str, ...]:
        """Everything that names the person, longest first (so a name is replaced before
        a part of it)."""
        names = [n for n in (*self.names, *self.emails) if len(n.strip()) >= MIN_NAME]
        return tuple(sorted(_unique([*self.ids, *names]), key=len, reverse=True))

    def zalo_ids_only(self) -> "Person":
        """The same person, searched for by their Zalo ids only: for rows about their
        partner, which keeps its name and phones when other OAs link to it."""
        return replace(self, names=(), emails=(), phones=())

    def names_in(self, text: str) -> bool:
        return any(needle in text for needle in self.needles)

    def scrub(self, text: str) -> str:
        for needle in self.needles:
            text = text.replace(needle, REMOVED)
        return text

    def scrub_json(self, value: Any) -> Any:
        """``value`` with every string (and key) that names the person replaced."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_json(v) for k, v in value.items()}
        return value

    def json_names(self, value: Any) -> bool:
        return self.names_in(json.dumps(value, ensure_ascii=False))


def local_phone(phone: str) -> str:
    """84912345678 as Vietnamese write it: 0912345678."""
    return "0" + phone[2:] if phone.startswith("84") and len(phone) > 9 else phone


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def slices[T](items: Sequence[T], size: int = BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


Counts = dict[str, int | str]
RemoverFunc = Callable[[Person], Counts]


@dataclass(frozen=True)
class Remover:
    name: str
    func: RemoverFunc
    position: int
    # Report key -> its label in the audit (gettext_lazy).
    labels: dict[str, Promise] = field(default_factory=dict)


REMOVERS: dict[str, Remover] = {}


def register_remover(
    name: str, *, position: int, labels: dict[str, Promise]
) -> Callable[[RemoverFunc], RemoverFunc]:
    """``@register_remover("inbox", position=10, labels={"staff_notes": _("...")})``:
    ``func(person)`` removes the person from the app's tables, answering its counts."""

    def decorator(func: RemoverFunc) -> RemoverFunc:
        REMOVERS[name] = Remover(name=name, func=func, position=position, labels=labels)
        return func

    return decorator


def removers() -> list[Remover]:
    return sorted(REMOVERS.values(), key=lambda r: (r.position, r.name))


def remove_person(person: Person) -> Counts:
    """Every app's remover, by position; their counts in one report. Call it inside the
    transaction that records the removal: all of it happens, or none."""
    report: Counts = {}
    for remover in removers():
        report.update(remover.func(person))
    return report


def report_labels() -> dict[str, Promise]:
    """Every report key a remover writes, with its label, in the removers' order."""
    labels: dict[str, Promise] = {}
    for remover in removers():
        labels.update(remover.labels)
    return labels
