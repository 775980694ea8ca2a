"""Forms staff fill in for partners: phones as typed in, stored as Zalo writes them."""

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from zalohub.partners.models import PartnerPhone
from zalohub.partners.phones import InvalidPhone, normalize_phone


class PhoneField(forms.CharField):
    """Any way a Vietnamese number is written ("0912 345 678", "+84 912-345-678"),
    cleaned to 84xxxxxxxxx; anything else is refused with the reason."""

    def __init__(self, **kwargs: Any) -> None:
        # Longer than the stored form: spaces, dashes, "(+84)" are welcome when typed.
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", _("For example 0912 345 678 or +84 912 345 678."))
        super().__init__(**kwargs)

    def clean(self, value: str) -> str:
        value = super().clean(value)
        if value in self.empty_values:
            return value
        try:
            return normalize_phone(value)
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc), code="invalid_phone") from None


class PartnerPhoneForm(forms.ModelForm):
    number = PhoneField(label=_("phone"))

    class Meta:
        model = PartnerPhone
        fields = ["number", "source", "verified"]
