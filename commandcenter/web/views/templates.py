"""Email templates: the list with how each does, new, edit, share, delete, and "use it"."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from commandcenter.accounts.models import User
from commandcenter.mailtemplates.models import Template
from commandcenter.mailtemplates.services import can_change, save_template, stats_for, usable
from commandcenter.outbox.compose import ComposeError, Content
from commandcenter.web.decorators import web_view
from commandcenter.web.forms import TemplateForm, merge_field_menu
from commandcenter.web.scope import signed_in_user


@web_view
def template_list(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    templates = usable(user)
    stats = stats_for(templates)
    rows = [(t, stats[t.pk], can_change(user, t)) for t in templates]
    return render(request, "web/templates.html", {"rows": rows})


@web_view
def template_form(request: HttpRequest, template_id: int | None = None) -> HttpResponse:
    user = signed_in_user(request)
    template = None
    if template_id is not None:
        template = get_object_or_404(Template.objects.usable_by(user), pk=template_id)
        if not can_change(user, template):
            raise Http404
    form = TemplateForm(request.POST or None, instance_template=template)
    if request.method == "POST" and form.is_valid() and _save(user, form, template):
        messages.success(request, _("Template saved."))
        return redirect("web:templates")
    context = {"form": form, "template": template, "merge_fields": merge_field_menu(user)}
    return render(request, "web/template_form.html", context)


def _save(user: User, form: TemplateForm, template: Template | None) -> bool:
    data = form.cleaned_data
    content = Content(data["subject"], data["body_text"], data["body_html"])
    try:
        save_template(
            user, name=data["name"], content=content, shared=data["shared"], template=template
        )
    except ComposeError as error:
        for key, message in error.errors.items():
            form.add_error(key if key in form.fields else None, message)
        return False
    return True


@web_view
@require_POST
def template_delete(request: HttpRequest, template_id: int) -> HttpResponse:
    user = signed_in_user(request)
    template = get_object_or_404(Template, pk=template_id, owner=user)
    template.delete()
    messages.success(request, _("Template deleted; the emails sent with it keep their content."))
    return redirect("web:templates")
