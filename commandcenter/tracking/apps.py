from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "commandcenter.tracking"
    label = "tracking"
