"""Zalo's published rules for a template, checked before it is submitted.

Every problem is reported at once (a list, never the first one only), each naming the
field it is about, so the form can show them all beside their fields.

The rules: a name of 10-60 characters (API.md §4.3); parameters written ``<name>`` in
the content, each declared once with a type and a sample value no longer than the
type's limit; no raw links or phone numbers in the content (Zalo's reviewers reject
them: a link goes in a URL button, a number in a call button or a phone parameter); at
most two buttons; an OTP template has exactly one OTP parameter and only OTP templates
have one; a service-rating template is tagged Customer care; promotions are not OTPs.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.zbs.models import Template

NAME_MIN, NAME_MAX = 10, 60
BODY_MAX = 400
PARAMS_MAX = 20
BUTTONS_MAX = 2
BUTTON_TITLE_MAX = 30
PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
PLACEHOLDER = re.compile(r"<([^<>\s]*)>")
LINK = re.compile(r"https?://\S+|www\.\S+|\b[a-z0-9-]+\.(?:com|vn|net|org|me|io)\b", re.I)
PHONE = re.compile(r"(?<![\d<])(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
OTP_TYPE = 12

# Zalo's parameter types and the longest value each accepts.
PARAM_TYPES: dict[int, tuple[object, int]] = {
    1: (gettext_lazy("Customer name"), 30),
    2: (gettext_lazy("Phone number"), 15),
    3: (gettext_lazy("Address"), 200),
    4: (gettext_lazy("Code / ID"), 30),
    5: (gettext_lazy("Custom label"), 30),
    6: (gettext_lazy("Transaction status"), 30),
    7: (gettext_lazy("Contact information"), 50),
    8: (gettext_lazy("Gender / title"), 5),
    9: (gettext_lazy("Product or brand name"), 200),
    10: (gettext_lazy("Quantity / amount"), 20),
    11: (gettext_lazy("Time"), 20),
    12: (gettext_lazy("OTP"), 10),
    13: (gettext_lazy("URL"), 200),
    14: (gettext_lazy("Currency (VND)"), 12),
    15: (gettext_lazy("Bank transfer note"), 90),
}


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def type_limit(param: dict) -> int:
    return PARAM_TYPES.get(int(param.get("type") or 0), ("", 30))[1]


def _name_problems(template: Template) -> list[Problem]:
    size = len(template.name.strip())
    if NAME_MIN <= size <= NAME_MAX:
        return []
    return [
        Problem(
            "name",
            _("The name is %(n)d characters long; Zalo needs %(min)d to %(max)d.")
            % {"n": size, "min": NAME_MIN, "max": NAME_MAX},
        )
    ]


def _body_problems(template: Template) -> list[Problem]:
    body = template.body
    problems: list[Problem] = []
    if not body.strip():
        return [Problem("body", _("The content is empty."))]
    if len(body) > BODY_MAX:
        problems.append(
            Problem(
                "body",
                _("The content is %(n)d characters long; at most %(max)d are allowed.")
                % {"n": len(body), "max": BODY_MAX},
            )
        )
    without_params = PLACEHOLDER.sub(" ", body)
    for link in LINK.findall(without_params):
        problems.append(
            Problem(
                "body",
                _("The content contains the link “%s”: put links in a URL button instead.") % link,
            )
        )
    for number in PHONE.findall(without_params):
        problems.append(
            Problem(
                "body",
                _(
                    "The content contains the phone number “%s”: use a call button or a "
                    "phone parameter instead."
                )
                % number.strip(),
            )
        )
    if body.count("<") != body.count(">"):
        problems.append(
            Problem("body", _("A parameter is not closed: write parameters as <name>."))
        )
    return problems


def _param_problems(template: Template) -> list[Problem]:
    problems: list[Problem] = []
    declared: dict[str, dict] = {}
    if len(template.params) > PARAMS_MAX:
        problems.append(Problem("params", _("At most %d parameters are allowed.") % PARAMS_MAX))
    for param in template.params:
        name = str(param.get("name") or "")
        if not PARAM_NAME.match(name):
            problems.append(
                Problem(
                    "params",
                    _(
                        "The parameter name “%s” is not allowed: use lower-case letters, "
                        "digits and _, starting with a letter, at most 30 characters."
                    )
                    % name,
                )
            )
        if name in declared:
            problems.append(Problem("params", _("The parameter “%s” is declared twice.") % name))
        declared[name] = param
        kind = int(param.get("type") or 0)
        if kind not in PARAM_TYPES:
            problems.append(Problem("params", _("The parameter “%s” has no valid type.") % name))
            continue
        limit = type_limit(param)
        sample = str(param.get("sample") or "")
        if not sample:
            problems.append(Problem("params", _("The parameter “%s” needs a sample value.") % name))
        elif len(sample) > limit:
            problems.append(
                Problem(
                    "params",
                    _("The sample of “%(name)s” is longer than the %(max)d characters allowed.")
                    % {"name": name, "max": limit},
                )
            )
        if int(param.get("max_length") or limit) > limit:
            problems.append(
                Problem(
                    "params",
                    _("“%(name)s” may be at most %(max)d characters long for its type.")
                    % {"name": name, "max": limit},
                )
            )
    used = PLACEHOLDER.findall(template.body)
    for name in sorted(set(used) - set(declared)):
        problems.append(
            Problem("body", _("The content uses <%s>, which is not a declared parameter.") % name)
        )
    for name in sorted(set(declared) - set(used)):
        if PARAM_NAME.match(name):
            problems.append(
                Problem("params", _("The parameter “%s” is not used in the content.") % name)
            )
    otps = [p for p in template.params if int(p.get("type") or 0) == OTP_TYPE]
    if template.template_type == Template.Type.OTP and len(otps) != 1:
        problems.append(
            Problem(
                "params", _("An authentication (OTP) template needs exactly one OTP parameter.")
            )
        )
    if template.template_type != Template.Type.OTP and otps:
        problems.append(
            Problem("params", _("Only authentication (OTP) templates may have an OTP parameter."))
        )
    return problems


def _button_problems(template: Template) -> list[Problem]:
    problems: list[Problem] = []
    if len(template.buttons) > BUTTONS_MAX:
        problems.append(Problem("buttons", _("At most %d buttons are allowed.") % BUTTONS_MAX))
    for button in template.buttons:
        title = str(button.get("title") or "")
        content = str(button.get("content") or "")
        if not title or len(title) > BUTTON_TITLE_MAX:
            problems.append(
                Problem(
                    "buttons",
                    _("A button title must be 1 to %d characters long.") % BUTTON_TITLE_MAX,
                )
            )
        if int(button.get("type") or 0) == 1 and not content.startswith("https://"):
            problems.append(
                Problem("buttons", _("The button “%s” must link to an https:// address.") % title)
            )
        if int(button.get("type") or 0) == 2 and not re.fullmatch(r"\+?\d{8,12}", content):
            problems.append(
                Problem("buttons", _("The call button “%s” needs a phone number.") % title)
            )
    return problems


def _kind_problems(template: Template) -> list[Problem]:
    problems: list[Problem] = []
    if (
        template.template_type == Template.Type.RATING
        and template.tag != Template.Tag.CUSTOMER_CARE
    ):
        problems.append(
            Problem("tag", _("A service rating template must be tagged Customer care."))
        )
    if template.template_type == Template.Type.OTP and template.tag == Template.Tag.PROMOTION:
        problems.append(Problem("tag", _("An OTP template cannot be a promotion.")))
    return problems


def lint_template(template: Template) -> list[Problem]:
    """Every rule the template breaks (empty: it may be submitted)."""
    return [
        *_name_problems(template),
        *_body_problems(template),
        *_param_problems(template),
        *_button_problems(template),
        *_kind_problems(template),
    ]
