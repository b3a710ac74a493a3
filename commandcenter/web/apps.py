from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "commandcenter.web"
    label = "web"
