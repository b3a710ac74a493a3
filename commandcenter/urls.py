from django.urls import include, path

from commandcenter.api.api import api
from commandcenter.search.stream_views import api_feed

urlpatterns = [
    # The live feed is an async view of its own (server-sent events; see search/feed.py).
    path("api/v1/feed", api_feed, name="api-feed"),
    path("api/v1/", api.urls),
    path("t/", include("commandcenter.tracking.urls")),
    # ESP webhooks: /anymail/<esp>/tracking/ (see commandcenter/signals/esp.py).
    path("anymail/", include("anymail.urls")),
    path("search/", include("commandcenter.search.urls")),
    path("", include("commandcenter.web.urls")),
]
