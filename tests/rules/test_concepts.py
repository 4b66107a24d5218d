"""Classification by concepts, under the shipped Ignus policy (`integration/rules/ignus.toml`).

The phrasings of issue 11 (wording that appears nowhere in the policy file) and twenty more in the
same classes must be classified as the policy says; then the mechanics one by one: stems, typos,
negation, how-to questions, the subject read first, vetoes read everywhere, explanations.
"""

from __future__ import annotations

import pytest

from integration.rules import Request, classify
from integration.rules.policy import PolicyError
from tests.rules.helpers import POLICY, policy_with

U, H, M, L = "Urgent", "High", "Medium", "Low"

# (subject, description, priority, kind): the classes issue 11 found missed.
ISSUE_PHRASINGS = [
    ("Se cayó la página de la tienda", "", U, "standard"),
    ("El servidor no levanta desde la madrugada", "", U, "standard"),
    ("No hay conexión a la base de datos MySQL", "", U, "standard"),
    ("El correo dejó de servir desde ayer", "", U, "standard"),
    ("La página tarda más de un minuto en cargar", "", U, "standard"),
    ("Our RDS instance keeps dropping connections", "", U, "standard"),
    ("EC2 instance unreachable since 3am", "", U, "standard"),
    ("S3 bucket returns 503 for every file", "", U, "standard"),
    ("Tráfico sospechoso satura el servidor", "", U, "standard"),
    ("Recibimos miles de correos basura", "", H, "standard"),
    ("We are flooded with spam", "", H, "standard"),
    ("Mi cuenta de correo se bloqueó después de varios intentos fallidos", "", H, "standard"),
    ("¿Cómo configuro mi correo en Thunderbird?", "", L, "standard"),
    ("No sé cómo poner mi correo en el Android", "", L, "standard"),
    ("Configurar correo en Apple Mail", "", L, "standard"),
    ("Los correos de mi proveedor se van a la carpeta de spam", "", L, "standard"),
    ("Cotización para desarrollar un módulo de facturación", "", M, "operations"),
    ("el sitio ya no está caído, gracias", "", M, "standard"),
]

# Twenty more of the same classes, written for this test.
MORE_PHRASINGS = [
    ("sitio caido!!!", "", U, "standard"),
    ("NO JALA EL HOSTING", "", U, "standard"),
    ("servidro caido desde anoche", "", U, "standard"),
    ("mi pagina no funsiona", "", U, "standard"),
    ("Webmail won't load at all", "", U, "standard"),
    (
        "Ayuda",
        "Desde hace una hora la tienda en línea marca error 502 y nadie puede comprar.",
        U,
        "standard",
    ),
    ("La base de datos RDS está lentísima", "", U, "standard"),
    ("Site keeps going on and off, intermittent since Monday", "", U, "standard"),
    ("Los correos que enviamos rebotan todos", "", U, "standard"),
    ("Alguien hackeó nuestro WordPress", "", U, "standard"),
    ("Olvidé la contraseña de mi buzón", "", H, "standard"),
    ("My mailbox is full and people get bounces", "", H, "standard"),
    ("Bombardeo de spam en todas las cuentas", "", H, "standard"),
    ("How can I add my email to my iPhone?", "", L, "standard"),
    ("Quiero poner una firma en mis correos", "", L, "standard"),
    ("Please whitelist our supplier's domain", "", L, "standard"),
    ("Queremos agregar un botón de WhatsApp al sitio", "", M, "operations"),
    ("Cotización de póliza de soporte dedicado", "", M, "billable"),
    ("Zoho Mail no sincroniza en Outlook", "", M, "third_party"),
    ("Please update the DNS records for our new mail provider", "", M, "standard"),
]


@pytest.mark.parametrize(("subject", "description", "priority", "kind"), ISSUE_PHRASINGS)
def test_issue_phrasings_are_classified_as_the_policy_says(
    subject: str, description: str, priority: str, kind: str
) -> None:
    result = classify(POLICY, Request(subject=subject, description=description))
    assert (result.priority, result.kind) == (priority, kind), result


@pytest.mark.parametrize(("subject", "description", "priority", "kind"), MORE_PHRASINGS)
def test_more_phrasings_of_the_same_classes(
    subject: str, description: str, priority: str, kind: str
) -> None:
    result = classify(POLICY, Request(subject=subject, description=description))
    assert (result.priority, result.kind) == (priority, kind), result


def test_a_concept_pair_explains_itself() -> None:
    result = classify(POLICY, Request(subject="Se cayó el servidor"))
    assert result.rule_id == "urgent-service-down"
    assert result.evidence == (
        'service: "servidor" in the subject',
        'outage: "cayo" in the subject',
    )
    assert result.confidence == "high"


def test_inflections_share_a_stem() -> None:
    # The policy writes "lento"; the customer writes "lentas".
    result = classify(POLICY, Request(subject="Las páginas están lentas"))
    assert result.rule_id == "urgent-performance"


def test_one_typo_is_tolerated_and_said() -> None:
    result = classify(POLICY, Request(subject="el servidro esta caido"))
    assert result.rule_id == "urgent-service-down"
    assert 'service: "servidro" (as "servidor") in the subject (typo tolerated)' in result.evidence


def test_short_words_must_match_exactly() -> None:
    # "cada" is one letter from "caida", but too short to be read as a typo of it.
    result = classify(POLICY, Request(subject="El servidor cada semana"))
    assert result.rule_id == "default"


def test_a_negated_outage_is_not_an_outage() -> None:
    result = classify(POLICY, Request(subject="El sitio no está caído, solo quiero una factura"))
    assert result.priority == "Medium" and result.kind == "standard"


def test_negation_ends_at_the_clause() -> None:
    result = classify(POLICY, Request(subject="No es el correo. El servidor está caído"))
    assert result.rule_id == "urgent-service-down"


def test_a_how_to_question_is_not_an_outage() -> None:
    result = classify(POLICY, Request(subject="¿Cómo evito que mi sitio se caiga?"))
    assert (result.priority, result.rule_id) == ("Low", "low-email-setup")


def test_the_subject_says_what_is_asked_when_the_description_tells_a_story() -> None:
    request = Request(
        subject="Rediseño de la página de inicio",
        description="La semana pasada el sitio estuvo caído. Ahora queremos un diseño nuevo.",
    )
    assert classify(POLICY, request).kind == "operations"


def test_the_description_is_read_when_the_subject_says_nothing() -> None:
    request = Request(subject="Ayuda por favor", description="El servidor VPS está caído")
    assert classify(POLICY, request).rule_id == "urgent-service-down"


def test_a_veto_in_the_description_counts_for_the_subject() -> None:
    request = Request(subject="¿Por qué se cayó mi sitio ayer?", description="Ya funciona.")
    assert classify(POLICY, request).priority == "Medium"


def test_nothing_matched_asks_the_agent_to_check() -> None:
    result = classify(POLICY, Request(subject="Factura de octubre"))
    assert result.rule_id == "default"
    assert result.confidence == "low"
    assert result.evidence == ("no rule matched: please check the priority",)


def test_a_vendor_wins_over_the_symptom() -> None:
    result = classify(POLICY, Request(subject="Zoho CRM está caído"))
    assert (result.kind, result.vendor) == ("third_party", "Zoho")


def test_exact_words_are_not_stemmed() -> None:
    # "programador" shares the stem of "programar": a request for an account is not development.
    policy = policy_with(
        concepts={"dev": {"terms": ["=programar"]}},
        rules=[{"id": "ops", "priority": "Media", "kind": "operations", "when": ["dev"]}],
    )
    assert classify(policy, Request(subject="Usuario para el programador")).rule_id == "default"
    assert classify(policy, Request(subject="Programar un reporte")).rule_id == "ops"


def test_when_groups_are_alternatives_and_unless_vetoes() -> None:
    policy = policy_with(
        concepts={
            "thing": {"terms": ["servidor"]},
            "broken": {"terms": ["roto"]},
            "alarm": {"terms": ["alarma"]},
            "test": {"terms": ["prueba"]},
        },
        rules=[
            {
                "id": "r",
                "priority": "Alta",
                "when": [["thing", "broken"], ["alarm"]],
                "unless": ["test"],
            }
        ],
    )
    assert classify(policy, Request(subject="servidor roto")).rule_id == "r"
    assert classify(policy, Request(subject="servidor")).rule_id == "default"
    assert classify(policy, Request(subject="alarma")).rule_id == "r"
    assert classify(policy, Request(subject="alarma de prueba")).rule_id == "default"


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        (
            {"rules": [{"id": "r", "priority": "Alta", "when": ["nope"]}]},
            'rules.r.when: "nope" is not a concept of this policy',
        ),
        (
            {"concepts": {"c": {"terms": ["is down"]}}},
            'concepts.c.terms: "is down" is one word once the ignored words are dropped; '
            "write that word alone",
        ),
        (
            {"concepts": {"c": {"terms": []}}},
            "concepts.c.terms: a concept needs terms",
        ),
    ],
)
def test_concept_mistakes_name_the_key(sections: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(PolicyError) as error:
        policy_with(**sections)
    assert str(error.value) == message


def test_the_description_may_refine_the_subject_toward_the_vendor() -> None:
    request = Request(
        subject="URGENTE el correo está caído",
        description="No podemos entrar a Zoho Mail desde la mañana.",
    )
    result = classify(POLICY, request)
    assert (result.kind, result.vendor) == ("third_party", "Zoho")
    assert "the description refines the subject's rule urgent-service-down" in result.evidence


def test_the_description_may_refine_an_outage_into_the_customers_own_error() -> None:
    request = Request(
        subject="no puedo enviar correos",
        description="Outlook me dice que la contraseña es incorrecta.",
    )
    assert classify(POLICY, request).rule_id == "high-mail-error-customer"


def test_a_story_in_the_description_never_escalates_the_subject() -> None:
    request = Request(
        subject="Cotización de un módulo de reportes",
        description="El mes pasado el servidor estuvo caído. Queremos un módulo de reportes.",
    )
    assert classify(POLICY, request).priority == "Medium"


def test_a_rule_set_aside_by_a_veto_says_so() -> None:
    request = Request(subject="¿Por qué se cayó mi sitio?", description="Ya funciona, gracias.")
    result = classify(POLICY, request)
    assert result.rule_id == "default"
    assert (
        'urgent-service-down held but was set aside by resolved: "ya funciona" in the description'
        in result.evidence
    )


def test_quoted_history_below_the_request_is_not_read() -> None:
    description = (
        "Gracias, ya recibimos la factura.\n\n"
        "El lun, 3 mar 2025 a las 10:12, Soporte Ignus escribió:\n"
        "> el sitio no carga, nos hackearon, el servidor está caído"
    )
    result = classify(
        POLICY, Request(subject="RE: RE: FW: factura de marzo", description=description)
    )
    assert result.priority == "Medium"


def test_a_signature_and_a_legal_footer_are_not_read() -> None:
    description = (
        "Buen día, quiero renovar mi dominio por 2 años.\n\n"
        "Atte. Carlos\nJefe de Soporte y Desarrollo\n"
        "Este correo puede contener información confidencial y está libre de virus o malware."
    )
    result = classify(POLICY, Request(subject="Renovación de dominio", description=description))
    assert (result.priority, result.kind) == ("Medium", "standard")


def test_html_entities_styles_and_addresses_are_read_as_text() -> None:
    description = (
        "<style>.down{color:red}</style><p>El sitio est&aacute; ca&iacute;do</p>"
        "<p>Escriban a billing@cliente.com</p>"
    )
    result = classify(POLICY, Request(subject="Ayuda", description=description))
    assert result.rule_id == "urgent-service-down"
    assert 'outage: "caido" in the description' in result.evidence


def test_a_cut_description_says_so() -> None:
    filler = "bla " * 800  # 3,200 characters before the problem
    result = classify(POLICY, Request(subject="Ayuda", description=filler + "el sitio no carga"))
    assert result.rule_id == "default"
    assert "read the first 3000 characters of the description" in result.evidence


def test_concepts_of_a_together_rule_must_share_a_sentence() -> None:
    # "quiero" and "página" in different sentences are no request to build a page.
    apart = Request(
        subject="Factura", description="Quiero la factura de octubre. La página va bien."
    )
    near = Request(subject="Ayuda", description="Quiero una página de promociones.")
    assert classify(POLICY, apart).kind == "standard"
    assert classify(POLICY, near).kind == "operations"


EVIDENCE_SCRIPT = """
import csv, json, sys
from integration.rules import Request, classify
from integration.rules.policy import load_policy
policy = load_policy()
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")))
out = [list(classify(policy, Request(subject=r["subject"], description=r.get("description") or ""))
            .evidence) for r in rows]
print(json.dumps(out))
"""


def test_the_evidence_does_not_depend_on_the_hash_seed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The term shown as evidence (in the explaining comment posted on Zoho) is the first term of
    the policy that matched, whatever the process's hash seed: the kill -9 run of
    tests/reliability found "mejoras" shown as `"mejoras" (as "mejora")` by one process and as
    `"mejoras"` by another (a token's stems, a set, were tried in hash order)."""
    import subprocess
    import sys
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "corpus" / "classification" / "tuning.csv"
    runs = []
    for seed in ("1", "2"):  # these two showed different evidence before the fix
        done = subprocess.run(
            [sys.executable, "-c", EVIDENCE_SCRIPT, str(corpus)],
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        runs.append(done.stdout)
    assert len(set(runs)) == 1
