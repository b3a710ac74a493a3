from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "commandcenter.campaigns"
    label = "campaigns"
