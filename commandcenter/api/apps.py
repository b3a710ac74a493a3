from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "commandcenter.api"
    label = "api"
