from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "commandcenter.search"
    label = "search"
