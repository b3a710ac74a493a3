from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "commandcenter.tasks"
    label = "tasks"
