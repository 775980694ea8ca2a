"""A template send refused in one language reads in each reader's (issue 14 §5)."""

import pytest
from django.utils import translation
from django.utils.translation import gettext

from tests.zbs.conftest import VALUES, make_template
from zalohub.core.stored_text import shown_reason
from zalohub.events.models import ZaloEvent
from zalohub.zbs.models import Template
from zalohub.zbs.sending import TemplateSendRefused, template_send

pytestmark = pytest.mark.django_db

NOT_APPROVED = "The template “%(name)s” is %(status)s, not Approved: it cannot be sent."


def _expected(language: str, name: str) -> str:
    with translation.override(language):
        return gettext(NOT_APPROVED) % {"name": name, "status": gettext("Draft")}


def test_a_refusal_written_in_vietnamese_reads_in_english_and_back(oa, son):
    draft = make_template(oa, name="Nhắc lịch hẹn")
    assert draft.status == Template.Status.DRAFT
    # A Vietnamese member of staff sends a draft (the request's language is Vietnamese).
    with translation.override("vi"), pytest.raises(TemplateSendRefused) as refused:
        template_send(partner=son, template=draft, params=VALUES)
    english, vietnamese = _expected("en", draft.name), _expected("vi", draft.name)
    assert english != vietnamese
    # It should tell the sender in their language at once.
    assert str(refused.value) == vietnamese
    # It should store it so that each reader reads it in theirs, labels included.
    message = refused.value.send.message
    event = ZaloEvent.objects.get(message=message)
    assert message.failure_reason == english and event.error_message == english
    for language, expected in (("en", english), ("vi", vietnamese)):
        with translation.override(language):
            assert shown_reason(message, "failure_reason") == expected
            assert shown_reason(event, "error_message") == expected


def test_every_parameter_problem_reads_in_the_readers_language(approved, son):
    wrong = {"order_code": "DH8821", "extra": "x"}  # customer_name missing, extra unknown
    with translation.override("vi"), pytest.raises(TemplateSendRefused) as refused:
        template_send(partner=son, template=approved, params=wrong)
    message = refused.value.send.message

    def problems(language: str) -> str:
        with translation.override(language):
            return " ".join(
                (
                    gettext("“%s” is not a parameter of this template.") % "extra",
                    gettext("The parameter “%s” is missing.") % "customer_name",
                )
            )

    assert problems("en") != problems("vi")
    # It should list both problems in each reader's language, whoever sent it.
    assert str(refused.value) == problems("vi")
    assert message.failure_reason == problems("en")
    for language in ("en", "vi"):
        with translation.override(language):
            assert shown_reason(message, "failure_reason") == problems(language)
