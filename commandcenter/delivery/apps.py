from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    name = "commandcenter.delivery"
    label = "delivery"
