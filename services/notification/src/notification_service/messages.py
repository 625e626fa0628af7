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
    "security.password_changed": {
        "it": (
            "La password del tuo account è cambiata",
            "Ciao {{ first_name }},\n\n"
            "la password del tuo account CerCollettiva è stata cambiata il "
            "{{ occurred_at|moment }}. Le altre sessioni aperte sono state chiuse.\n\n"
            "Se non sei stato tu, reimposta subito la password e contatta "
            "l'amministratore della tua comunità.",
        ),
        "en": (
            "The password of your account has changed",
            "Hello {{ first_name }},\n\n"
            "the password of your CerCollettiva account was changed on "
            "{{ occurred_at|moment }}. Your other open sessions were ended.\n\n"
            "If this was not you, reset your password at once and contact your "
            "community's administrator.",
        ),
    },
    "security.two_factor_enabled": {
        "it": (
            "Verifica in due passaggi attivata",
            "Ciao {{ first_name }},\n\n"
            "la verifica in due passaggi del tuo account è stata attivata il "
            "{{ occurred_at|moment }}. Le altre sessioni aperte sono state chiuse.",
        ),
        "en": (
            "Two-factor authentication turned on",
            "Hello {{ first_name }},\n\n"
            "two-factor authentication was turned on for your account on "
            "{{ occurred_at|moment }}. Your other open sessions were ended.",
        ),
    },
    "security.two_factor_disabled": {
        "it": (
            "Verifica in due passaggi disattivata",
            "Ciao {{ first_name }},\n\n"
            "la verifica in due passaggi del tuo account è stata disattivata il "
            "{{ occurred_at|moment }}: ora basta la password per entrare.\n\n"
            "Se non sei stato tu, cambia subito la password.",
        ),
        "en": (
            "Two-factor authentication turned off",
            "Hello {{ first_name }},\n\n"
            "two-factor authentication was turned off for your account on "
            "{{ occurred_at|moment }}: the password alone now signs you in.\n\n"
            "If this was not you, change your password at once.",
        ),
    },
    "security.new_session": {
        "it": (
            "Nuovo accesso al tuo account",
            "Ciao {{ first_name }},\n\n"
            "il {{ occurred_at|moment }} qualcuno è entrato nel tuo account da un indirizzo "
            "mai usato prima: {{ address }} ({{ user_agent }}).\n\n"
            "Se non sei stato tu, cambia subito la password: le altre sessioni verranno chiuse.",
        ),
        "en": (
            "New sign-in to your account",
            "Hello {{ first_name }},\n\n"
            "on {{ occurred_at|moment }} someone signed in to your account from an address "
            "never used before: {{ address }} ({{ user_agent }}).\n\n"
            "If this was not you, change your password at once: your other sessions will end.",
        ),
    },
    "invitation.received": {
        "it": (
            "Invito a entrare nella comunità {{ community_name }}",
            "Buongiorno,\n\n"
            "la comunità energetica {{ community_name }} ti invita a farne parte come "
            "{{ role|role }}.\n\n"
            "Per accettare, entra in CerCollettiva (o registrati con questo indirizzo) e apri "
            "{{ public_url }}{{ accept_path }} entro il {{ expires_at|moment }}.\n\n"
            "Se non conosci questa comunità, ignora questo messaggio.",
        ),
        "en": (
            "Invitation to join the community {{ community_name }}",
            "Hello,\n\n"
            "the energy community {{ community_name }} invites you to join as "
            "{{ role|role }}.\n\n"
            "To accept, sign in to CerCollettiva (or register with this address) and open "
            "{{ public_url }}{{ accept_path }} before {{ expires_at|moment }}.\n\n"
            "If you do not know this community, ignore this message.",
        ),
    },
    "settlement.awaiting_approval": {
        "it": (
            "Ripartizione di {{ period }} da approvare: {{ total_eur|euro }}",
            "Ciao {{ first_name }},\n\n"
            "la ripartizione provvisoria di {{ period }} della comunità {{ community_name }} "
            "è pronta: {{ total_eur|euro }} in tutto, di cui {{ community_eur|euro }} alla "
            "comunità.\n\n"
            "Controllala e approvala per renderla definitiva: "
            "{{ public_url }}/communities/{{ community_id }}/settlements/{{ run_id }}",
        ),
        "en": (
            "Settlement of {{ period }} awaiting approval: {{ total_eur|euro }}",
            "Hello {{ first_name }},\n\n"
            "the provisional settlement of {{ period }} of the community {{ community_name }} "
            "is ready: {{ total_eur|euro }} in all, {{ community_eur|euro }} of it to the "
            "community.\n\n"
            "Check it and approve it to make it final: "
            "{{ public_url }}/communities/{{ community_id }}/settlements/{{ run_id }}",
        ),
    },
    "settlement.failed": {
        "it": (
            "Ripartizione di {{ period }} non calcolata",
            "Ciao {{ first_name }},\n\n"
            "{% if official_data_missing %}i dati ufficiali del distributore per {{ period }} "
            "della comunità {{ community_name }} non sono ancora completi: la ripartizione "
            "provvisoria non può essere calcolata. Carica i file mancanti e riprova."
            "{% else %}il calcolo della ripartizione di {{ period }} della comunità "
            "{{ community_name }} non è riuscito ({{ error_codes }}).{% endif %}",
        ),
        "en": (
            "Settlement of {{ period }} not computed",
            "Hello {{ first_name }},\n\n"
            "{% if official_data_missing %}the distributor's official data for {{ period }} "
            "of the community {{ community_name }} is not complete yet: the provisional "
            "settlement cannot be computed. Load the missing files and try again."
            "{% else %}the settlement of {{ period }} of the community {{ community_name }} "
            "could not be computed ({{ error_codes }}).{% endif %}",
        ),
    },
    "payout.sent": {
        "it": (
            "Bonifico di {{ amount_eur|euro }} in arrivo da {{ community_name }}",
            "Ciao {{ first_name }},\n\n"
            "la comunità {{ community_name }} ha disposto un bonifico di {{ amount_eur|euro }} "
            "a tuo favore. Ti scriveremo quando la banca lo avrà eseguito.",
        ),
        "en": (
            "A transfer of {{ amount_eur|euro }} from {{ community_name }} is on its way",
            "Hello {{ first_name }},\n\n"
            "the community {{ community_name }} has ordered a transfer of {{ amount_eur|euro }} "
            "to you. We will write again when the bank has executed it.",
        ),
    },
    "payout.left_out": {
        "it": (
            "{{ amount_eur|euro }} non ancora pagati da {{ community_name }}",
            "Ciao {{ first_name }},\n\n"
            "{% if reason == 'NO_VALID_IBAN' %}non abbiamo un IBAN valido per pagarti "
            "{{ amount_eur|euro }}: inseriscilo nel tuo profilo della comunità "
            "{{ community_name }} e li riceverai con il prossimo pagamento."
            "{% else %}i {{ amount_eur|euro }} che ti spettano sono sotto l'importo minimo dei "
            "pagamenti della comunità {{ community_name }}: restano a tuo credito e si sommano "
            "ai prossimi.{% endif %}",
        ),
        "en": (
            "{{ amount_eur|euro }} not paid yet by {{ community_name }}",
            "Hello {{ first_name }},\n\n"
            "{% if reason == 'NO_VALID_IBAN' %}we have no valid IBAN to pay you "
            "{{ amount_eur|euro }}: add it to your profile in the community "
            "{{ community_name }} and you will receive it with the next payout."
            "{% else %}the {{ amount_eur|euro }} you are owed is below the community "
            "{{ community_name }}'s minimum payout: it stays to your credit and is added to the "
            "next ones.{% endif %}",
        ),
    },
    "payout.paid": {
        "it": (
            "Pagamento di {{ amount_eur|euro }} eseguito",
            "Ciao {{ first_name }},\n\n"
            "la banca ha eseguito il bonifico di {{ amount_eur|euro }} della comunità "
            "{{ community_name }} a tuo favore.",
        ),
        "en": (
            "Payment of {{ amount_eur|euro }} executed",
            "Hello {{ first_name }},\n\n"
            "the bank has executed the transfer of {{ amount_eur|euro }} from the community "
            "{{ community_name }} to you.",
        ),
    },
    "payout.failed": {
        "it": (
            "Bonifico di {{ amount_eur|euro }} non riuscito",
            "Ciao {{ first_name }},\n\n"
            "la banca ha respinto un bonifico di {{ amount_eur|euro }} della comunità "
            "{{ community_name }} ({{ reason }}). L'importo resta dovuto e sarà pagato di "
            "nuovo: controlla che l'IBAN sia corretto.",
        ),
        "en": (
            "Transfer of {{ amount_eur|euro }} failed",
            "Hello {{ first_name }},\n\n"
            "the bank rejected a transfer of {{ amount_eur|euro }} from the community "
            "{{ community_name }} ({{ reason }}). The amount is still owed and will be paid "
            "again: check that the IBAN is right.",
        ),
    },
    "reconciliation.mismatch": {
        "it": (
            "GSE e piattaforma non coincidono per {{ period }}: {{ difference_eur|euro }}",
            "Ciao {{ first_name }},\n\n"
            "per {{ period }} le cifre del GSE per la comunità {{ community_name }} differiscono "
            "da quelle calcolate di {{ difference_eur|euro }} (tolleranza "
            "{{ tolerance_eur|euro }}).\n\n"
            "Cause: {{ causes }}.\n\n"
            "Dettagli: "
            "{{ public_url }}/communities/{{ community_id }}/reconciliations/{{ period }}",
        ),
        "en": (
            "GSE and platform differ for {{ period }}: {{ difference_eur|euro }}",
            "Hello {{ first_name }},\n\n"
            "for {{ period }} the GSE's figures for the community {{ community_name }} differ "
            "from the computed ones by {{ difference_eur|euro }} (tolerance "
            "{{ tolerance_eur|euro }}).\n\n"
            "Causes: {{ causes }}.\n\n"
            "Details: {{ public_url }}/communities/{{ community_id }}/reconciliations/{{ period }}",
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
            "approvata. Ti spettano {{ amount_eur|euro }}: {{ producer_eur|euro }} come "
            "produttore e {{ consumer_eur|euro }} come consumatore.",
        ),
        "en": (
            "Settlement of {{ period }} approved: {{ amount_eur|euro }}",
            "Hello {{ first_name }},\n\n"
            "the settlement of {{ period }} of the community {{ community_name }} was approved. "
            "You earn {{ amount_eur|euro }}: {{ producer_eur|euro }} as producer and "
            "{{ consumer_eur|euro }} as consumer.",
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
