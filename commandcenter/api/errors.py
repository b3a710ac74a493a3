"""Every API error is JSON `{"detail": "<for a person>"}` with a 4xx; 500 only for our own bugs.

Bad input is refused before anything is written, and the refusal says what to fix:
`errors` maps the offending field (`to`, `to[3].subject`, `limit`) to its message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.parser import Parser

from commandcenter.outbox.compose import ComposeError
from commandcenter.outbox.queries import BadCursor
from commandcenter.outbox.states import IllegalTransition

logger = logging.getLogger("commandcenter.api")

AUTH_HINT = (
    "Send your API token as 'Authorization: Bearer <token>' "
    "(`commandcenter token NAME` issues one)."
)
# How many field problems the one-line `detail` spells out; `errors` has them all.
DETAIL_FIELDS = 5


class BadInput(HttpError):
    """Input that parsed but makes no sense: 422 with a message per field."""

    def __init__(self, errors: Mapping[str, str], status_code: int = 422) -> None:
        self.errors = dict(errors)
        super().__init__(status_code, summarise(self.errors))


class BadText(ValueError):
    """A string no database can store: NUL characters or lone UTF-16 surrogates."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field} {problem}.")


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "must not contain NUL characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (it contains a lone surrogate)"
    return None


def check_text(data: object) -> None:
    """Raise BadText naming the first string in a parsed JSON document that cannot be stored."""
    stack: list[tuple[str, object]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                raise BadText(path or "body", problem)
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    raise BadText(path or "body", f"has a field name that {problem}")
                stack.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


class JsonParser(Parser):
    """Ninja's JSON parser, plus a refusal of text that would only fail in the database."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = json.loads(request.body)
        check_text(data)
        return data  # type: ignore[no-any-return]


def summarise(errors: Mapping[str, str]) -> str:
    parts = [f"{name}: {message}" if name else message for name, message in errors.items()]
    shown = " ".join(parts[:DETAIL_FIELDS])
    if len(parts) > DETAIL_FIELDS:
        shown += f" And {len(parts) - DETAIL_FIELDS} more (see errors)."
    return f"Please fix the input. {shown}"


def field_path(loc: Sequence[object]) -> str:
    """('body', 'payload', 'to', 3, 'subject') -> 'to[3].subject'."""
    source = loc[0] if loc else ""
    # A body schema is one parameter: its name is ours, not the caller's.
    parts = list(loc[2:] if source == "body" else loc[1:])
    if source == "path":
        # The caller sees /emails/{id}; `email_id` is only our parameter's name.
        parts = ["id" if str(part).endswith("_id") else part for part in parts]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def readable(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind in {"model_attributes_type", "dict_type", "model_type"}:
        return "Expected a JSON object."
    message = str(error.get("msg", "Invalid value."))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return message if message.endswith(".") else message + "."


def validation_errors(raw: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for error in raw:
        name = field_path(error.get("loc", ())) or "body"
        errors.setdefault(name, readable(error))
    return errors


def body_problem(cause: BaseException | None) -> str:
    """Why ninja could not parse a request body, for a person."""
    if isinstance(cause, json.JSONDecodeError):
        where = f"line {cause.lineno} column {cause.colno}"
        return f"The body is not valid JSON: {cause.msg} at {where}."
    if isinstance(cause, UnicodeDecodeError):
        return "The body is not valid JSON: it is not UTF-8 text."
    if isinstance(cause, RecursionError):
        return "The body is not valid JSON: it is nested too deeply."
    return "The body is not valid JSON."


def install(api: NinjaAPI) -> None:
    handlers: dict[type[Exception], Callable[[HttpRequest, Any], tuple[int, dict[str, Any]]]]
    handlers = {
        ValidationError: lambda request, exc: (422, _body(validation_errors(exc.errors))),
        BadInput: lambda request, exc: (exc.status_code, _body(exc.errors)),
        HttpError: _http_error,
        ComposeError: _compose_error,
        IllegalTransition: lambda request, exc: (409, {"detail": str(exc)}),
        BadCursor: lambda request, exc: (400, {"detail": str(exc)}),
        Http404: lambda request, exc: (404, {"detail": "Not found."}),
        DjangoValidationError: _django_validation_error,
        RequestDataTooBig: _too_big,
        SuspiciousOperation: lambda request, exc: (400, {"detail": "The request was refused."}),
        Exception: _our_bug,
    }
    for exc_class, handler in handlers.items():
        api.add_exception_handler(exc_class, _responder(api, handler))


def _responder(
    api: NinjaAPI, handler: Callable[[HttpRequest, Any], tuple[int, dict[str, Any]]]
) -> Callable[[HttpRequest, Any], HttpResponse]:
    def respond(request: HttpRequest, exc: Any) -> HttpResponse:
        status, body = handler(request, exc)
        response = api.create_response(request, body, status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response

    return respond


def _body(errors: Mapping[str, str]) -> dict[str, Any]:
    return {"detail": summarise(errors), "errors": dict(errors)}


def _http_error(request: HttpRequest, exc: HttpError) -> tuple[int, dict[str, Any]]:
    if isinstance(exc, AuthenticationError):
        return 401, {"detail": f"Missing or unknown API token. {AUTH_HINT}"}
    if isinstance(exc.__cause__, BadText):
        # Valid JSON, but a value no database stores: a bad value, like a wrong type.
        cause = exc.__cause__
        return 422, _body({cause.field: f"The text {cause.problem}."})
    if exc.status_code == 400 and exc.__cause__ is not None:
        return 400, {"detail": body_problem(exc.__cause__)}
    return exc.status_code, {"detail": str(exc)}


def _compose_error(request: HttpRequest, exc: ComposeError) -> tuple[int, dict[str, Any]]:
    if set(exc.errors) == {"status"}:
        # "not editable in this folder", "being sent right now": the folder says no (409),
        # the input itself is fine.
        return 409, {"detail": exc.errors["status"]}
    body = _body(exc.errors)
    if exc.missing:
        body["missing"] = exc.missing
    return 422, body


def _django_validation_error(
    request: HttpRequest, exc: DjangoValidationError
) -> tuple[int, dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        errors = {name: " ".join(messages) for name, messages in exc.message_dict.items()}
    else:
        errors = {"": " ".join(exc.messages)}
    return 422, _body(errors)


def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> tuple[int, dict[str, Any]]:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return 413, {"detail": f"The request body is larger than the limit of {limit:,} bytes."}


def _our_bug(request: HttpRequest, exc: Exception) -> tuple[int, dict[str, Any]]:
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return 500, {"detail": "Something went wrong on our side; it has been logged."}
