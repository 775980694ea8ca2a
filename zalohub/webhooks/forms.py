"""The subscription form: events as checkboxes, the URL checked as deliveries will be."""

from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from zalohub.webhooks.catalogue import choices
from zalohub.webhooks.models import Subscription
from zalohub.webhooks.urlcheck import check_url


class SubscriptionForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("Events"),
        choices=choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event."),
    )

    class Meta:
        model = Subscription
        fields = [
            "name",
            "url",
            "event_types",
            "oas",
            "allow_private_network",
            "rate_per_second",
            "active",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        url = data.get("url")
        if url:
            try:
                check_url(url, allow_private=bool(data.get("allow_private_network")))
            except ValidationError as exc:
                self.add_error("url", exc)
        return data


class ReplayForm(forms.Form):
    since = forms.DateTimeField(label=_("From"))
    until = forms.DateTimeField(label=_("Until"))
    failed_only = forms.BooleanField(label=_("Failed deliveries only"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        now = timezone.localtime().replace(second=0, microsecond=0)
        self.fields["since"].initial = now - timedelta(hours=1)
        self.fields["until"].initial = now + timedelta(minutes=1)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError(_("“From” must come before “Until”."))
        return data
