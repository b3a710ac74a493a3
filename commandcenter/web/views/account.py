"""Sign-in, sign-out, password, preferences and the admin's view-as menu."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from commandcenter.web.decorators import web_view, with_csp
from commandcenter.web.forms import PreferencesForm, SignInForm, signin_locked_message
from commandcenter.web.scope import choose_view_as, signed_in_user

login = with_csp(
    auth_views.LoginView.as_view(
        template_name="web/login.html",
        authentication_form=SignInForm,
        next_page=reverse_lazy("web:home"),
        redirect_authenticated_user=True,
    )
)


def signin_refused(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer to a sign-in refused for too many failures (AXES_LOCKOUT_CALLABLE):
    the sign-in page as the login view rendered it, with SignInForm's message, as a 429."""
    if original_response is None:
        return HttpResponse(signin_locked_message(), status=429, content_type="text/plain")
    original_response.status_code = 429
    return original_response


logout = auth_views.LogoutView.as_view(next_page=reverse_lazy("web:login"))
password_change = web_view(
    auth_views.PasswordChangeView.as_view(
        template_name="web/password.html", success_url=reverse_lazy("web:password_done")
    )
)


@web_view
@require_GET
def password_done(request: HttpRequest) -> HttpResponse:
    messages.success(request, _("Your password was changed."))
    return redirect("web:home")


@web_view
def preferences(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = PreferencesForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Settings saved."))
        return redirect("web:preferences")
    return render(request, "web/preferences.html", {"form": form})


@web_view
@require_POST
def view_as(request: HttpRequest) -> HttpResponse:
    if not choose_view_as(request, request.POST.get("view_as", "")):
        messages.error(request, _("You cannot view as this user."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("web:home")
    return redirect(target)


@web_view
@require_GET
def tasks(request: HttpRequest) -> HttpResponse:
    """A place for the Tasks section, which a later issue fills."""
    return render(request, "web/tasks.html")
