from django.urls import URLPattern, URLResolver, re_path

from commandcenter.tracking import views

app_name = "tracking"

# Tokens are matched loosely (anything at all) so that garbage reaches the views, which
# answer it as they should: the pixel with the GIF, a link or unsubscribe with a plain 404.
urlpatterns: list[URLPattern | URLResolver] = [
    re_path(r"^o/(?P<token>.*)$", views.pixel, name="pixel"),
    re_path(r"^c/(?P<token>.*)$", views.click, name="click"),
    re_path(r"^u/(?P<token>.*)$", views.unsubscribe_view, name="unsubscribe"),
]
