from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "commandcenter.signals"
    label = "signals"

    def ready(self) -> None:
        from anymail.signals import tracking

        from commandcenter.signals.esp import on_tracking_event

        # ESP webhooks (django-anymail) become events through the same door as inbound mail.
        tracking.connect(on_tracking_event, dispatch_uid="commandcenter.signals.esp")
