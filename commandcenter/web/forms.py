"""The web UI's forms. They only shape input; the rules are the domain's (compose, people)."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from commandcenter.accounts.models import User
from commandcenter.mailtemplates.models import Template
from commandcenter.outbox.merge import PERSON_FIELDS, REP_FIELDS, is_field_name
from commandcenter.outbox.models import MergeDefault
from commandcenter.people.models import Person

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

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


def to_field(label: StrOrPromise) -> forms.CharField:
    """The "To" field: it suggests the rep's people as they type (htmx, see app.js)."""
    return forms.CharField(
        label=label,
        max_length=254,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "list": "to-suggestions",
                "spellcheck": "false",
                "hx-get": reverse_lazy("web:people_suggest"),
                "hx-trigger": "input changed delay:200ms",
                "hx-target": "#to-suggestions",
                "hx-swap": "innerHTML",
            }
        ),
    )


class ContentFields(forms.Form):
    """Subject, the rich-text HTML part (Trix edits a hidden input) and the plain-text part."""

    subject = forms.CharField(label=_("Subject"), required=False, max_length=998)
    body_html = forms.CharField(required=False, widget=forms.HiddenInput)
    body_text = forms.CharField(
        label=_("Plain-text version"),
        required=False,
        help_text=_("Made from the message above as you type; edit it to write your own."),
        widget=forms.Textarea(attrs={"rows": 6, "data-plain-text": ""}),
    )
    # Set while the plain text follows the HTML (cleared once the rep edits it by hand).
    text_follows = forms.BooleanField(required=False, initial=True, widget=forms.HiddenInput)
    template = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)


class SingleEmailForm(ScheduleFields, ContentFields):
    to = to_field(_("To"))

    field_order = ["to", "subject", "body_html", "body_text"]


class BulkEmailForm(ScheduleFields, ContentFields):
    to = forms.CharField(
        label=_("Recipients"),
        help_text=_("One address a line, or separated by commas."),
        widget=forms.Textarea(attrs={"rows": 5}),
    )

    field_order = ["to", "subject", "body_html", "body_text"]

    def addresses(self) -> list[str]:
        return split_addresses(self.cleaned_data.get("to", ""))


class TemplateForm(ContentFields):
    name = forms.CharField(label=_("Name"), max_length=200)
    shared = forms.BooleanField(label=_("Share with my team"), required=False)

    field_order = ["name", "subject", "body_html", "body_text", "shared"]

    def __init__(self, *args: Any, instance_template: Template | None = None, **kwargs: Any):
        if instance_template is not None and not args and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": instance_template.name,
                "subject": instance_template.subject,
                "body_text": instance_template.body_text,
                "body_html": instance_template.body_html,
                "shared": instance_template.shared,
                "text_follows": False,
            }
        super().__init__(*args, **kwargs)


def merge_field_menu(user: User) -> list[tuple[str, str]]:
    """The merge fields the compose menu offers: a person's, the rep's, and the custom
    fields the rep's people have."""
    labels = {
        "first_name": _("First name"),
        "last_name": _("Last name"),
        "full_name": _("Full name"),
        "company": _("Company"),
        "title": _("Title"),
        "email": _("Email address"),
        "my_name": _("My name"),
        "my_first_name": _("My first name"),
        "my_email": _("My email address"),
        "my_signature": _("My signature"),
    }
    menu = [(name, str(labels[name])) for name in (*PERSON_FIELDS, *REP_FIELDS)]
    custom: set[str] = set()
    people = (
        Person.objects.filter(owner=user)
        .exclude(custom_fields={})
        .values_list("custom_fields", flat=True)[:MAX_PEOPLE_FOR_MENU]
    )
    for fields in people:
        if isinstance(fields, dict):
            custom.update(name for name in fields if is_field_name(name))
    menu += [(name, name) for name in sorted(custom)[:MAX_CUSTOM_IN_MENU]]
    return menu


MAX_PEOPLE_FOR_MENU = 2000
MAX_CUSTOM_IN_MENU = 50
# Rows of name/value inputs a form offers beyond the ones filled.
EXTRA_ROWS = 3


MAX_ROWS = 200


def paired_rows(data: Any, prefix: str) -> list[tuple[str, str]]:
    """(name, value) pairs posted as PREFIX-name-N / PREFIX-value-N inputs, in N's order."""
    row = re.compile(rf"{re.escape(prefix)}-name-(\d{{1,4}})")
    indices = sorted({int(m.group(1)) for key in data if (m := row.fullmatch(key))})
    pairs = []
    for index in indices[:MAX_ROWS]:
        name = str(data.get(f"{prefix}-name-{index}", "")).strip()
        value = str(data.get(f"{prefix}-value-{index}", "")).strip()
        if name or value:
            pairs.append((name, value))
    return pairs


def shown_rows(
    form: forms.BaseForm, prefix: str, saved: Iterable[tuple[str, object]]
) -> list[tuple[int, str, str]]:
    """(index, name, value) rows for a form: what was posted, else what is saved; then blanks."""
    pairs = paired_rows(form.data, prefix) if form.is_bound else [(k, str(v)) for k, v in saved]
    pairs += [("", "")] * EXTRA_ROWS
    return [(index, name, value) for index, (name, value) in enumerate(pairs)]


def check_pairs(pairs: list[tuple[str, str]], max_value: int) -> tuple[dict[str, str], list[str]]:
    """The pairs as a dict, and the problems a person should fix."""
    values: dict[str, str] = {}
    problems = []
    for name, value in pairs:
        if not is_field_name(name):
            problems.append(
                _(
                    "%(name)s cannot be a field name: use letters, digits and _ (not starting "
                    "with a digit), so that {{name}} can use it."
                )
                % {"name": name or "—"}
            )
        elif len(value) > max_value:
            problems.append(
                _("%(name)s: at most %(n)d characters.") % {"name": name, "n": max_value}
            )
        else:
            values[name] = value
    return values, problems


class PersonForm(forms.ModelForm):
    """A person, their do-not-contact note and their custom fields (merge fields of their
    own, edited as rows of name and value)."""

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
            "do_not_contact_reason",
        ]
        labels = {
            "email": _("Email address"),
            "first_name": _("First name"),
            "last_name": _("Last name"),
            "company": _("Company"),
            "title": _("Title"),
            "time_zone": _("Time zone"),
            "do_not_contact": _("Do not contact"),
            "do_not_contact_reason": _("Why not (kept with the date)"),
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.fields["time_zone"].widget = forms.Select(choices=[("", "—"), *time_zone_choices()])
        self.custom: dict[str, str] = {}

    def custom_rows(self) -> list[tuple[int, str, str]]:
        """The rows the form shows: the person's fields (or what was posted), then blanks."""
        return shown_rows(self, "cf", (self.instance.custom_fields or {}).items())

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

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pairs = paired_rows(self.data, "cf")
        self.custom, problems = check_pairs(pairs, MAX_CUSTOM_VALUE)
        for problem in problems:
            self.add_error(None, problem)
        if len(self.custom) > MAX_CUSTOM_FIELDS:
            self.add_error(None, _("At most %(n)d custom fields.") % {"n": MAX_CUSTOM_FIELDS})
        return cleaned

    def save(self, commit: bool = True) -> Person:
        person = self.instance
        person.owner = self.owner
        person.custom_fields = {name: value for name, value in self.custom.items() if value}
        if person.do_not_contact and person.do_not_contact_at is None:
            person.do_not_contact_at = timezone.now()
        if not person.do_not_contact:
            person.do_not_contact_at, person.do_not_contact_reason = None, ""
        return super().save(commit=commit)


MAX_CUSTOM_FIELDS = 100
MAX_CUSTOM_VALUE = 1000


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        required=False,
    )
    # The previewed file travels back with the confirmation so the import is what was shown.
    csv_text = forms.CharField(required=False, widget=forms.HiddenInput)


class PreferencesForm(forms.ModelForm):
    """The rep's settings, and a default value per merge field for people who leave it
    empty (rows of field and value)."""

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
        help_texts = {
            "signature": _("{{my_signature}} puts it in an email; new emails start with it.")
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        languages = [("", _("As the browser says")), *settings.LANGUAGES]
        self.fields["language"].widget = forms.Select(choices=languages)
        self.fields["time_zone"].widget = forms.Select(choices=time_zone_choices())
        self.defaults: dict[str, str] = {}

    def existing_defaults(self) -> dict[str, str]:
        return dict(
            MergeDefault.objects.filter(owner=self.instance)
            .order_by("field")
            .values_list("field", "value")
        )

    def default_rows(self) -> list[tuple[int, str, str]]:
        return shown_rows(self, "md", self.existing_defaults().items())

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pairs = paired_rows(self.data, "md")
        self.defaults, problems = check_pairs(pairs, MAX_DEFAULT_VALUE)
        for problem in problems:
            self.add_error(None, problem)
        return cleaned

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=commit)
        with transaction.atomic():
            MergeDefault.objects.filter(owner=user).delete()
            MergeDefault.objects.bulk_create(
                MergeDefault(owner=user, field=name, value=value)
                for name, value in self.defaults.items()
                if value
            )
        return user


MAX_DEFAULT_VALUE = 1000
