"""The template form: parameters and buttons edited as rows, never as JSON.

Each row is a set of plain inputs named ``params-<i>-<column>``; the widget reads them
back into the list of dicts the model has always stored, so nothing downstream changes.
A row left blank is dropped, so the form works without JavaScript (it renders a few
empty rows); the script in ``zbs/template_form.js`` only adds rows, counts characters
and asks the lint endpoint while the admin types.
"""

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from zalohub.zbs.lint import (
    BUTTON_TITLE_MAX,
    BUTTONS_MAX,
    PARAM_TYPES,
    PARAMS_MAX,
    lint_template,
)
from zalohub.zbs.models import Template

# Zalo's button types (API.md §4.3 listButtons{type,title,content}); the lint checks 1 and 2.
BUTTON_TYPES: dict[int, Any] = {
    1: gettext_lazy("Open a web page (https:// address)"),
    2: gettext_lazy("Call a phone number"),
}
PARAM_COLUMNS = ("name", "type", "sample")
BUTTON_COLUMNS = ("type", "title", "content")
# Blank rows rendered for a browser without the script.
SPARE_PARAM_ROWS = 2


def _rows_from(data: Any, prefix: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows posted as ``<prefix>-<i>-<column>``, in index order, blank rows dropped."""
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-(\w+)$")
    rows: dict[int, dict[str, str]] = {}
    for key in data:
        match = pattern.match(key)
        if match and match.group(2) in columns:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = str(data.get(key)).strip()
    return [
        row
        for _index, row in sorted(rows.items())
        if any(row.get(c) for c in columns if c != "type")
    ]


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class RowsWidget(forms.Widget):
    """A table of rows; ``value_from_datadict`` gives the list of dicts back."""

    columns: tuple[str, ...] = ()
    spare = 0
    most = 0

    def value_from_datadict(self, data: Any, files: Any, name: str) -> list[dict[str, str]]:
        return _rows_from(data, name, self.columns)

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return f"{name}-count" not in data

    def format_value(self, value: Any) -> list[dict[str, Any]]:
        return [dict(row) for row in value] if isinstance(value, list) else []

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        rows = self.format_value(value)
        spare = max(0, min(self.spare, self.most - len(rows)))
        context["widget"]["rows"] = [*rows, *({} for _ in range(spare))]
        context["widget"]["most"] = self.most
        return context


class ParamRowsWidget(RowsWidget):
    template_name = "admin/zbs/widgets/param_rows.html"
    columns = PARAM_COLUMNS
    spare = SPARE_PARAM_ROWS
    most = PARAMS_MAX

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["types"] = [
            (k, label, limit) for k, (label, limit) in PARAM_TYPES.items()
        ]
        for row in context["widget"]["rows"]:
            kind = _as_int(row.get("type"))
            row["type"] = kind
            row["limit"] = PARAM_TYPES[kind][1] if kind in PARAM_TYPES else ""
            row["length"] = len(str(row.get("sample") or ""))
        return context


class ButtonRowsWidget(RowsWidget):
    template_name = "admin/zbs/widgets/button_rows.html"
    columns = BUTTON_COLUMNS
    spare = BUTTONS_MAX
    most = BUTTONS_MAX

    def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["types"] = list(BUTTON_TYPES.items())
        context["widget"]["title_max"] = BUTTON_TITLE_MAX
        for row in context["widget"]["rows"]:
            row["type"] = _as_int(row.get("type"))
        return context


class RowsField(forms.Field):
    """A list of rows with an integer ``type`` column; each row's problems named."""

    def to_python(self, value: Any) -> list[dict[str, Any]]:
        if not value:
            return []
        if not isinstance(value, list):
            raise ValidationError(_("Enter the rows in the table."), code="invalid")
        rows = []
        for row in value:
            row = {k: v for k, v in dict(row).items() if v not in ("", None)}
            if "type" in row:
                row["type"] = _as_int(row["type"])
            rows.append(row)
        return rows

    def has_changed(self, initial: Any, data: Any) -> bool:
        return (initial or []) != self.to_python(data)


class TemplateForm(forms.ModelForm):
    """The admin's template form; saving refuses rows that break Zalo's rules."""

    params = RowsField(label=gettext_lazy("parameters"), required=False, widget=ParamRowsWidget)
    buttons = RowsField(label=gettext_lazy("buttons"), required=False, widget=ButtonRowsWidget)

    class Meta:
        model = Template
        fields = ["oa", "name", "template_type", "tag", "body", "params", "buttons", "note"]

    def clean_params(self) -> list[dict[str, Any]]:
        rows = self.cleaned_data.get("params") or []
        # Keys Zalo gave a synced template (require, max_length...) stay on its rows;
        # a max_length the row's (new) type no longer allows is dropped with it.
        before = {str(p.get("name")): p for p in (self.instance.params or [])}
        kept = []
        for row in rows:
            limit = PARAM_TYPES.get(row.get("type", 0), ("", 0))[1]
            extra = {
                k: v
                for k, v in before.get(str(row.get("name")), {}).items()
                if k not in PARAM_COLUMNS and not (k == "max_length" and _as_int(v) > limit)
            }
            kept.append({**extra, **row})
        return kept

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        draft = Template(
            name=cleaned.get("name") or "",
            body=cleaned.get("body") or "",
            template_type=cleaned.get("template_type") or Template.Type.CUSTOM,
            tag=cleaned.get("tag") or Template.Tag.TRANSACTION,
            params=cleaned.get("params") or [],
            buttons=cleaned.get("buttons") or [],
        )
        # The rows are this form's own work: a row Zalo would refuse is not saved. The
        # name and content may stay rough in a Draft; Lint and Submit report them.
        for problem in lint_template(draft):
            if problem.field in ("params", "buttons") and problem.field in self.fields:
                self.add_error(problem.field, problem.message)
        return cleaned


def template_from_post(data: Any) -> Template:
    """An unsaved template from the form as it is being typed (for the live lint)."""
    return Template(
        name=str(data.get("name") or ""),
        body=str(data.get("body") or ""),
        template_type=_as_int(data.get("template_type")) or Template.Type.CUSTOM,
        tag=_as_int(data.get("tag")) or Template.Tag.TRANSACTION,
        params=RowsField().to_python(_rows_from(data, "params", PARAM_COLUMNS)),
        buttons=RowsField().to_python(_rows_from(data, "buttons", BUTTON_COLUMNS)),
    )
