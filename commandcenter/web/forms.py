"""The web UI's forms. They only shape input; the rules are the domain's (compose, people)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from commandcenter.accounts.models import User
from commandcenter.people.models import Person

ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


@functools.cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


def split_addresses(raw: str) -> list[str]:
    """Addresses typed or pasted one a line, or separated by commas or semicolons."""
    return [part for part in ADDRESS_SEPARATORS.split(raw or "") if part]


def signin_locked_message() -> str:
    """One message whether the account or the address is locked: it names no account."""
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return ngettext(
        "Too many failed sign-ins for this account or from your address. "
        "Try again in %(minutes)d minute.",
        "Too many failed sign-ins for this account or from your address. "
        "Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which says so when django-axes refused the attempt."""

    def get_invalid_login_error(self) -> ValidationError:
        if getattr(self.request, "axes_locked_out", False):
            return ValidationError(signin_locked_message(), code="locked_out")
        return super().get_invalid_login_error()


class ScheduleFields(forms.Form):
    """Date, time and time zone: together, the moment a scheduled email goes out."""

    date = forms.DateField(
        label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    time = forms.TimeField(
        label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)

    def send_at(self) -> dt.datetime | None:
        """The chosen moment; None with an error on the form when date or time is missing."""
        date, time = self.cleaned_data.get("date"), self.cleaned_data.get("time")
        if date is None:
            self.add_error("date", _("Choose a date to schedule the email."))
        if time is None:
            self.add_error("time", _("Choose a time to schedule the email."))
        if date is None or time is None:
            return None
        zone = zoneinfo.ZoneInfo(self.cleaned_data["time_zone"])
        return dt.datetime.combine(date, time).replace(tzinfo=zone)


class SingleEmailForm(ScheduleFields):
    to = forms.CharField(label=_("To"), max_length=254)
    subject = forms.CharField(label=_("Subject"), required=False, max_length=998)
    body_text = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 12})
    )
    body_html = forms.CharField(
        label=_("HTML version (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class BulkEmailForm(ScheduleFields):
    to = forms.CharField(
        label=_("Recipients"),
        help_text=_("One address a line, or separated by commas."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    subject = forms.CharField(label=_("Subject"), required=False, max_length=998)
    body_text = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 10})
    )
    body_html = forms.CharField(
        label=_("HTML version (optional)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def addresses(self) -> list[str]:
        return split_addresses(self.cleaned_data.get("to", ""))


class PersonForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = [
            "email",
            "first_name",
            "last_name",
            "company",
            "title",
            "time_zone",
            "do_not_contact",
        ]
        labels = {
            "email": _("Email address"),
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "company": _("Company"),
            "title": _("Title"),
            "time_zone": _("Time zone"),
            "do_not_contact": _("Do not contact"),
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["time_zone"].widget = forms.Select(choices=[("", "—"), *time_zone_choices()])

    def clean_email(self) -> str:
        address = self.cleaned_data["email"].strip().lower()
        taken = (
            Person.objects.annotate(address=Lower("email"))
            .filter(owner=self.owner, address=address)
            .exclude(pk=self.instance.pk)
        )
        if taken.exists():
            raise forms.ValidationError(_("You already have a person with this address."))
        return address

    def save(self, commit: bool = True) -> Person:
        self.instance.owner = self.owner
        return super().save(commit=commit)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        required=False,
        help_text=_("Columns: email, first_name, last_name, company, title, time_zone."),
    )
    # The previewed file travels back with the confirmation so the import is what was shown.
    csv_text = forms.CharField(required=False, widget=forms.HiddenInput)


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "language", "time_zone", "signature"]
        labels = {
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "language": _("Language"),
            "time_zone": _("Time zone"),
            "signature": _("Signature"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        languages = [("", _("As the browser says")), *settings.LANGUAGES]
        self.fields["language"].widget = forms.Select(choices=languages)
        self.fields["time_zone"].widget = forms.Select(choices=time_zone_choices())
