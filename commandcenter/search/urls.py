from django.urls import URLPattern, URLResolver, path

from commandcenter.search import stream_views, views

app_name = "search"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.search_page, name="search"),
    path("sidebar/", views.sidebar, name="sidebar"),
    path("most-engaged/", views.most_engaged, name="most_engaged"),
    path("save/", views.save_search, name="save"),
    path("saved/<int:search_id>/", views.saved_page, name="saved"),
    path("saved/<int:search_id>/change/", views.saved_change, name="saved_change"),
    path("follow-up/", views.follow_up, name="follow_up"),
    path("tasks/", views.tasks_for_each, name="tasks"),
    path("enrol/", views.enrol_in_campaign, name="enrol"),
    path("export.csv", views.export_csv, name="export"),
    path("feed/", stream_views.page_feed, name="feed"),
]
