from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "commandcenter.outbox"
    label = "outbox"
