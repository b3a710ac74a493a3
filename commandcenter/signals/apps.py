from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "commandcenter.signals"
    label = "signals"
