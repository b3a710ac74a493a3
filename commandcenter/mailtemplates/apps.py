from django.apps import AppConfig


class MailTemplatesConfig(AppConfig):
    name = "commandcenter.mailtemplates"
    label = "mailtemplates"
    verbose_name = "Email templates"
