"""The words of every kind, in Italian and English: a subject and a body.

Both are Jinja templates over the notification's params; the body is plain
paragraphs (blank line between them) that the layouts turn into the text and
HTML parts. Figures go through the reader's locale: ``|euro``, ``|number``,
``|day``, ``|moment`` (templates.py).
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
    "security.email_changed": {
        "it": (
            "L'indirizzo e-mail del tuo account è cambiato",
            "Ciao {{ first_name }},\n\n"
            "l'indirizzo e-mail del tuo account CerCollettiva è stato cambiato in "
            "{{ new_email }} il {{ occurred_at|moment }}.\n\n"
            "Se non sei stato tu, contatta subito l'amministratore della tua comunità.",
        ),
        "en": (
            "The e-mail address of your account has changed",
            "Hello {{ first_name }},\n\n"
            "the e-mail address of your CerCollettiva account was changed to "
            "{{ new_email }} on {{ occurred_at|moment }}.\n\n"
            "If this was not you, contact your community's administrator at once.",
        ),
    },
    "membership.started": {
        "it": (
            "Benvenuto nella comunità {{ community_name }}",
            "Ciao {{ first_name }},\n\n"
            "dal {{ valid_from|day }} fai parte della comunità energetica "
            "{{ community_name }} come {{ role|role }}.",
        ),
        "en": (
            "Welcome to the community {{ community_name }}",
            "Hello {{ first_name }},\n\n"
            "since {{ valid_from|day }} you are a {{ role|role }} of the energy community "
            "{{ community_name }}.",
        ),
    },
    "device.offline": {
        "it": (
            "Il contatore {{ device_id }} non trasmette da {{ since|moment }}",
            "Ciao {{ first_name }},\n\n"
            "il dispositivo {{ device_id }} dell'impianto {{ plant_name }} non invia letture "
            "dal {{ since|moment }}.\n\n"
            "Finché resta offline le letture di quell'impianto mancano: controlla "
            "l'alimentazione e la rete del dispositivo.",
        ),
        "en": (
            "Meter {{ device_id }} silent since {{ since|moment }}",
            "Hello {{ first_name }},\n\n"
            "device {{ device_id }} of plant {{ plant_name }} has sent no readings since "
            "{{ since|moment }}.\n\n"
            "While it stays offline the plant's readings are missing: check the device's "
            "power and network.",
        ),
    },
    "device.online": {
        "it": (
            "Il contatore {{ device_id }} è di nuovo in linea",
            "Ciao {{ first_name }},\n\n"
            "il dispositivo {{ device_id }} dell'impianto {{ plant_name }} trasmette di nuovo "
            "dal {{ since|moment }}.",
        ),
        "en": (
            "Meter {{ device_id }} is back online",
            "Hello {{ first_name }},\n\n"
            "device {{ device_id }} of plant {{ plant_name }} is sending readings again "
            "since {{ since|moment }}.",
        ),
    },
    "settlement.approved": {
        "it": (
            "Ripartizione di {{ period }} approvata: {{ amount_eur|euro }}",
            "Ciao {{ first_name }},\n\n"
            "la ripartizione di {{ period }} della comunità {{ community_name }} è stata "
            "approvata. Ti spettano {{ amount_eur|euro }} per {{ shared_kwh|number }} kWh "
            "di energia condivisa.",
        ),
        "en": (
            "Settlement of {{ period }} approved: {{ amount_eur|euro }}",
            "Hello {{ first_name }},\n\n"
            "the settlement of {{ period }} of the community {{ community_name }} was approved. "
            "You earn {{ amount_eur|euro }} for {{ shared_kwh|number }} kWh of shared energy.",
        ),
    },
}

DIGEST: dict[str, tuple[str, str]] = {
    "it": (
        "Riepilogo del {{ day|day }}: {{ count }} avvisi",
        "Ciao {{ first_name }},\n\n"
        "ecco gli avvisi del {{ day|day }} che non ti abbiamo mandato uno per uno:",
    ),
    "en": (
        "Digest of {{ day|day }}: {{ count }} notices",
        "Hello {{ first_name }},\n\n"
        "here are the notices of {{ day|day }} we did not send you one by one:",
    ),
}

LANGUAGES = ("it", "en")

# A membership's role (membership.v1) as the reader says it.
ROLES: dict[str, dict[str, str]] = {
    "it": {"ADMIN": "amministratore", "MEMBER": "membro"},
    "en": {"ADMIN": "administrator", "MEMBER": "member"},
}
