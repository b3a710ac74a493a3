from django.urls import include, path

from commandcenter.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("t/", include("commandcenter.tracking.urls")),
    # ESP webhooks: /anymail/<esp>/tracking/ (see commandcenter/signals/esp.py).
    path("anymail/", include("anymail.urls")),
    path("", include("commandcenter.web.urls")),
]
