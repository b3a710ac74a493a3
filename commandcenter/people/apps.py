from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "commandcenter.people"
    label = "people"
