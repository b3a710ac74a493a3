from django.urls import include, path

from commandcenter.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("t/", include("commandcenter.tracking.urls")),
    path("", include("commandcenter.web.urls")),
]
