"""Classification under the shipped rules: every example of the policy's table, in the seed's own
Spanish wording and in English; first match wins; a default applies."""

from __future__ import annotations

import pytest

from integration.rules import Request, classify
from tests.rules.helpers import POLICY, policy_with

EXAMPLES = [
    # Urgente
    ("Servicio caído o sin funcionamiento.", "Urgent", "standard"),
    ("Our website is down", "Urgent", "standard"),
    ("Bajo rendimiento / intermitencia del servicio.", "Urgent", "standard"),
    ("The VPS has low performance and intermittent service", "Urgent", "standard"),
    (
        "Error en el servidor de correo: error de recepción y envío de correos por problemas "
        "ajenos al cliente.",
        "Urgent",
        "standard",
    ),
    ("We cannot send email, the mail server rejects everything", "Urgent", "standard"),
    ("Ataques DDoS / Hacking", "Urgent", "standard"),
    ("Our site was hacked", "Urgent", "standard"),
    # Alta
    (
        "Error en el servidor de correo: error de recepción y envío de correos debidos al cliente.",
        "High",
        "standard",
    ),
    ("Mailbox full, I forgot my password", "High", "standard"),
    ("Ataque masivo de SPAM.", "High", "standard"),
    ("We are under a massive spam attack", "High", "standard"),
    # Media
    ("Mejoras y nueva funcionalidad en los aplicativos", "Medium", "operations"),
    ("Feature request: new functionality for the store", "Medium", "operations"),
    (
        "Actualización de configuraciones en los servicios a solicitud del cliente.",
        "Medium",
        "standard",
    ),
    ("Please change the configuration of our DNS records", "Medium", "standard"),
    # Baja
    (
        "Configuración de correo electrónico (Outlook, móvil, configuración de firma electrónica).",
        "Low",
        "standard",
    ),
    ("How do I set up my email signature?", "Low", "standard"),
    ("Ajustes en los filtros de SPAM.", "Low", "standard"),
    ("Please adjust the spam filter, invoices go to spam", "Low", "standard"),
    # Special kinds
    ("Renovación de licencia de Zoho One", "Medium", "third_party"),
    ("Axenda no sincroniza", "Medium", "third_party"),
    ("Cotización de soporte dedicado", "Medium", "billable"),
]


@pytest.mark.parametrize(("subject", "priority", "kind"), EXAMPLES)
def test_policy_examples_are_classified(subject: str, priority: str, kind: str) -> None:
    result = classify(POLICY, Request(subject=subject))
    assert (result.priority, result.kind) == (priority, kind), result


def test_matching_ignores_case_accents_and_html() -> None:
    result = classify(POLICY, Request(subject="hola", description="<p>¡SERVICIO CAÍDO!</p>"))
    assert result.rule_id == "urgent-service-down"
    assert result.evidence == (
        'service: "servicio" in the description',
        'outage: "caido" in the description',
    )


def test_keywords_match_whole_words_only() -> None:
    # "slowly" is not "slow"; "lentamente" is not "lento".
    result = classify(POLICY, Request(subject="Please reply slowly, lentamente"))
    assert result.rule_id == "default"


def test_third_party_names_its_vendor() -> None:
    result = classify(POLICY, Request(subject="Problema con mi licencia Zoho Mail"))
    assert (result.kind, result.vendor, result.rule_id) == (
        "third_party",
        "Zoho",
        "third-party-zoho",
    )


def test_an_outage_of_a_vendor_product_is_a_third_party_request() -> None:
    result = classify(POLICY, Request(subject="Zoho Mail está caído"))
    assert result.kind == "third_party"


def test_nothing_matched_gives_the_default_priority() -> None:
    result = classify(POLICY, Request(subject="Hola, una pregunta"))
    assert (result.priority, result.rule_id, result.kind) == ("Medium", "default", "standard")


def test_field_rules_match_zoho_fields_before_keywords() -> None:
    policy = policy_with(
        rules=[
            {
                "id": "vip-department",
                "priority": "Alta",
                "match": {"department": ["Soporte VIP"], "channel": "Phone"},
            },
            {"id": "anything-down", "priority": "Urgente", "keywords": ["caido"]},
        ]
    )
    fields = {"department": "Soporte vip", "channel": "phone"}
    result = classify(policy, Request(subject="sitio caido", fields=fields))
    assert result.rule_id == "vip-department"
    assert result.evidence == (
        'department = "soporte vip"',
        'channel = "phone"',
        "also matched: anything-down",
    )
    assert result.confidence == "medium"  # another rule, of another priority, also held
    other = classify(policy, Request(subject="sitio caido", fields={"department": "Ventas"}))
    assert other.rule_id == "anything-down"


def test_request_from_a_zoho_ticket_reads_custom_fields() -> None:
    policy = policy_with(
        rules=[{"id": "gold", "priority": "High", "match": {"cf_customer_tier": "Gold"}}]
    )
    ticket = {"subject": "x", "cf": {"cf_customer_tier": "Gold"}, "departmentId": "1"}
    assert classify(policy, Request.from_ticket(ticket)).rule_id == "gold"


def test_a_department_rule_matches_its_name_or_its_id() -> None:
    policy = policy_with(
        rules=[{"id": "vip", "priority": "High", "match": {"department": ["Soporte VIP", "77"]}}]
    )
    by_name = {
        "subject": "x",
        "departmentId": "1",
        "department": {"id": "1", "name": "Soporte VIP"},
    }
    by_id = {"subject": "x", "departmentId": "77"}
    other = {"subject": "x", "departmentId": "1", "department": {"name": "Ventas"}}
    assert classify(policy, Request.from_ticket(by_name)).rule_id == "vip"
    assert classify(policy, Request.from_ticket(by_id)).rule_id == "vip"
    assert classify(policy, Request.from_ticket(other)).rule_id == "default"
