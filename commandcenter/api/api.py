"""The JSON API under /api/v1 (django-ninja)."""

from ninja import NinjaAPI

api = NinjaAPI(title="Command Center API", version="1")
