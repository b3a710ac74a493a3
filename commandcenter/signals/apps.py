from django.apps import AppConfig, apps


class SignalsConfig(AppConfig):
    name = "commandcenter.signals"
    label = "signals"

    def ready(self) -> None:
        # Webhooks reach only processes with django-anymail: not `ingest` (settings_ingest.py).
        if not apps.is_installed("anymail"):
            return
        from anymail.signals import tracking

        from commandcenter.signals.esp import on_tracking_event

        # ESP webhooks (django-anymail) become events through the same door as inbound mail.
        tracking.connect(on_tracking_event, dispatch_uid="commandcenter.signals.esp")
